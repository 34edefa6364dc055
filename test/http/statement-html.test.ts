import t from 'tap'
import type { StoredRun } from '../../src/db/settlements.js'
import type { StatementLine } from '../../src/domain/settlement.js'
import { INCOMPLETE_NOTICE, statementHtml } from '../../src/http/statement-html.js'

// The printable statement (api-contract.md, Settlement runs: statement) is streamed a few hundred
// pages at a time. A page that cannot be written must never leave a statement that looks whole:
// in the first pages it is an error answer before anything is sent; later, what was sent ends
// with a notice that it is incomplete and may not be signed, and the answer is cut off.

const run: StoredRun = {
  id: 7, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-05T08:00:00.000Z', createdBy: 'admin',
  finalizedAt: null, finalizedBy: null, digest: null, overrideReason: null,
}

/** A line whose district review was recorded at `at` (a page prints it in Beijing time). */
const line = (agreementId: number, at = '2026-01-05T08:00:00.000Z'): StatementLine => ({
  agreementId, zoneCode: `Z${agreementId}`, zoneName: '高新区', districtCode: '370214', districtName: '城阳区', documentNo: '青财预〔2020〕1号',
  kind: 'annual', follows: null, previousZoneShare: null, adjustment: null, balanceAdjustment: null,
  revenueTotal: '100.00', zoneShare: '60.00', districtShare: '40.00', advancesPaid: '0.00', balanceDue: '60.00',
  groups: [], reviewHistory: [{ party: 'district', decision: 'confirm', note: null, by: 'k1', byRole: 'district', byLabel: null, at }],
})

async function written (lines: StatementLine[]): Promise<{ pieces: string[], error?: unknown }> {
  const pieces: string[] = []
  try {
    for await (const piece of statementHtml(run, { lineCount: lines.length, lines }, 'statement.css')) pieces.push(piece)
    return { pieces }
  } catch (error) {
    return { pieces, error }
  }
}

t.test('a whole statement: every page once, in order, in one document', async (t) => {
  const { pieces, error } = await written(Array.from({ length: 450 }, (_, i) => line(i + 1)))
  t.equal(error, undefined)
  t.equal(pieces.length, 4, 'the head with the first 200 pages, two more pieces, the end')
  const html = pieces.join('')
  t.match(html, /^<!DOCTYPE html>/)
  t.match(html, /<\/body>\n<\/html>\n$/)
  t.equal(html.match(/<section class="agreement"/g)?.length, 450)
  t.same([...html.matchAll(/data-agreement-id="(\d+)"/g)].map((m) => Number(m[1])), Array.from({ length: 450 }, (_, i) => i + 1))
  t.notOk(html.includes(INCOMPLETE_NOTICE))
})

t.test('a page that fails among the first ones: nothing is written, the error is the answer', async (t) => {
  const lines = Array.from({ length: 300 }, (_, i) => line(i + 1, i === 150 ? 'not a time' : undefined))
  const { pieces, error } = await written(lines)
  t.type(error, RangeError)
  t.same(pieces, [], 'not even the head')
})

t.test('a page that fails after the first ones were sent: what was sent ends with the notice, and the error follows', async (t) => {
  const lines = Array.from({ length: 450 }, (_, i) => line(i + 1, i === 300 ? 'not a time' : undefined))
  const { pieces, error } = await written(lines)
  t.type(error, RangeError)
  t.equal(pieces.length, 2, 'the head with the first 200 pages, then the notice')
  t.equal(pieces[1], `\n${INCOMPLETE_NOTICE}`)
  t.notOk(pieces.join('').includes('</html>'), 'never the end of a whole document')
})

/** `lines` handed over `size` at a time, as the service reads them; the page starting at `failAt` fails to arrive. */
async function * inPages (lines: StatementLine[], size: number, failAt?: number): AsyncGenerator<StatementLine[]> {
  for (let start = 0; start < lines.length; start += size) {
    await Promise.resolve()
    if (start === failAt) throw new Error('the database went away')
    yield lines.slice(start, start + size)
  }
}

async function writtenFrom (lineCount: number, pages: AsyncIterable<StatementLine[]>): Promise<{ pieces: string[], error?: unknown }> {
  const pieces: string[] = []
  try {
    for await (const piece of statementHtml(run, { lineCount, lines: pages }, 'statement.css')) pieces.push(piece)
    return { pieces }
  } catch (error) {
    return { pieces, error }
  }
}

t.test('lines read a page at a time: every page once, in order, numbered across the pages', async (t) => {
  const lines = Array.from({ length: 2500 }, (_, i) => line(i + 1))
  const { pieces, error } = await writtenFrom(lines.length, inPages(lines, 1000))
  t.equal(error, undefined)
  const html = pieces.join('')
  t.same([...html.matchAll(/data-agreement-id="(\d+)"/g)].map((m) => Number(m[1])), lines.map((l) => l.agreementId))
  t.same([...html.matchAll(/第 (\d+) 页，共 (\d+) 页/g)].map((m) => `${m[1]}/${m[2]}`), lines.map((_, i) => `${i + 1}/2500`))
  t.match(html, /<\/body>\n<\/html>\n$/)
  t.notOk(html.includes(INCOMPLETE_NOTICE))
})

t.test('a page of lines that cannot be read after the first pages were sent: the notice ends what was sent', async (t) => {
  const lines = Array.from({ length: 2500 }, (_, i) => line(i + 1))
  const { pieces, error } = await writtenFrom(lines.length, inPages(lines, 1000, 2000))
  t.match(error, { message: 'the database went away' })
  const html = pieces.join('')
  t.equal(html.match(/<section class="agreement"/g)?.length, 2000, 'the two pages read')
  t.ok(html.endsWith(`\n${INCOMPLETE_NOTICE}`))
  t.notOk(html.includes('</html>'))
})

t.test('the first page of lines cannot be read: nothing is written, the error is the answer', async (t) => {
  const { pieces, error } = await writtenFrom(10, inPages(Array.from({ length: 10 }, (_, i) => line(i + 1)), 1000, 0))
  t.match(error, { message: 'the database went away' })
  t.same(pieces, [])
})
