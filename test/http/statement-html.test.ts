import t from 'tap'
import type { StoredRun } from '../../src/db/settlements.js'
import { runTotals, type RunTotals, type StatementLine } from '../../src/domain/settlement.js'
import { statementCsv, statementRows } from '../../src/http/statement.js'
import { INCOMPLETE_NOTICE, statementHtml } from '../../src/http/statement-html.js'
import type { ItemSource } from '../../src/services/turns.js'

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
  kind: 'annual', follows: null, previousZoneShare: null, adjustment: null, balanceAdjustment: null, run: { minimumRate: '0.60' },
  revenueTotal: '100.00', zoneShare: '60.00', districtShare: '40.00', advancesPaid: '0.00', balanceDue: '60.00',
  groups: [], reviewHistory: [{ party: 'district', decision: 'confirm', note: null, by: 'k1', byRole: 'district', byLabel: null, at }],
})

/** The pieces statementHtml writes of `lines` (held whole, or coming a page at a time), and the error it ended with if any. */
async function writtenFrom (lineCount: number, lines: ItemSource<StatementLine>, printsSupplementary = false): Promise<{ pieces: string[], error?: unknown }> {
  const pieces: string[] = []
  try {
    for await (const piece of statementHtml(run, { lineCount, lines, printsSupplementary }, 'statement.css')) pieces.push(piece)
    return { pieces }
  } catch (error) {
    return { pieces, error }
  }
}

const written = (lines: StatementLine[]) => writtenFrom(lines.length, lines)

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

t.test('api-contract.md, Settlement runs (totals that add up to the cent): after the last agreement, a page of the totals of the lines printed, with the adjustments when a supplementary line is printed', async (t) => {
  const supplementary: StatementLine = { ...line(3), kind: 'supplementary', follows: 5, previousZoneShare: '50.00', adjustment: '10.00', balanceAdjustment: '10.00', zoneShare: '60.00', districtShare: '-1234567.89' }
  const html = (await writtenFrom(3, [line(1), line(2), supplementary], true)).pieces.join('')
  const totals = /<section class="totals">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? ''
  t.ok(html.indexOf('<section class="totals">') > html.lastIndexOf('<section class="agreement"'), 'the last page')
  t.match(totals, /本结算单 3 份分成办法合计/)
  t.match(totals, /汇总页（附于 3 份结算单之后）/)
  t.equal(html.match(/第 \d+ 份，共 3 份，另附汇总页/g)?.length, 3, 'each agreement\'s page says a totals page follows, so a missing one is noticed when signing')
  t.same([...totals.matchAll(/<th>([^<]+)<\/th><td class="num">([^<]+)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`), [
    '收入合计 revenue 300.00', '功能区分成 zone share 180.00', '属地政府留成 district share -1,234,487.89', '已预拨 advances paid 0.00',
    '应补(扣) balance due 180.00', '原结算功能区分成 previously settled 50.00', '补充结算调整 adjustment 10.00', '应补(扣)调整 balance adjustment 10.00',
  ], 'the zone share previously settled too, as the CSV and xlsx 合计 (found by the review of dd492ba)')
  t.match(totals, /草稿 DRAFT/, 'a draft\'s totals say so, as its pages do')
  const annualOnly = (await written([line(1)])).pieces.join('')
  t.notMatch(annualOnly, /补充结算调整|原结算功能区分成/, 'no adjustments when no supplementary line is printed')
  t.notMatch((await written([])).pieces.join(''), /class="totals"/, 'no lines, no totals page')
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

/**
 * `lines` handed over `size` at a time and then their totals, as the service reads them; the page
 * starting at `failAt` fails to arrive. `closed.done` says whether the pages were let go of.
 */
async function * inPages (lines: StatementLine[], size: number, failAt?: number, closed = { done: false }): AsyncGenerator<StatementLine[], RunTotals> {
  try {
    for (let start = 0; start < lines.length; start += size) {
      await Promise.resolve()
      if (start === failAt) throw new Error('the database went away')
      yield lines.slice(start, start + size)
    }
    return runTotals(lines)
  } finally {
    closed.done = true
  }
}

t.test('lines read a page at a time: every page once, in order, numbered across the pages', async (t) => {
  const lines = Array.from({ length: 2500 }, (_, i) => line(i + 1))
  const { pieces, error } = await writtenFrom(lines.length, inPages(lines, 1000))
  t.equal(error, undefined)
  const html = pieces.join('')
  t.same([...html.matchAll(/data-agreement-id="(\d+)"/g)].map((m) => Number(m[1])), lines.map((l) => l.agreementId))
  t.same([...html.matchAll(/第 (\d+) 份，共 (\d+) 份/g)].map((m) => `${m[1]}/${m[2]}`), lines.map((_, i) => `${i + 1}/2500`))
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

// The CSV and xlsx statements take the same pages, through statementRows, and are finished before
// anything is sent: a page that cannot be read is the error answer, never a short file.

t.test('CSV from lines read a page at a time: every line once, in order, and the total of all of them', async (t) => {
  const lines = Array.from({ length: 2500 }, (_, i) => line(i + 1))
  const csv = (await statementCsv('2021年度结算单', statementRows(inPages(lines, 1000), false))).toString('utf8')
  const rows = csv.split('\r\n').filter((r) => r !== '')
  const subtotals = rows.filter((r) => r.startsWith('小计'))
  t.equal(subtotals.length, 2500, 'one subtotal row per line')
  t.same(subtotals.map((r) => r.split(',')[1]), lines.map((l) => l.zoneCode), 'in the order of the lines, across the pages')
  const total = rows.at(-1)?.split(',') ?? []
  t.equal(total[0], '合计 total')
  t.ok(total.includes('250000.00') && total.includes('150000.00') && total.includes('100000.00'), 'revenue, zone and district shares of all 2,500 lines (100.00, 60.00, 40.00 each)')
})

t.test('CSV whose page of lines cannot be read: no file, the error', async (t) => {
  const closed = { done: false }
  const lines = Array.from({ length: 2500 }, (_, i) => line(i + 1))
  await t.rejects(statementCsv('2021年度结算单', statementRows(inPages(lines, 1000, 2000, closed), false)), { message: 'the database went away' })
  t.ok(closed.done)
})

t.test('a file that stops before the last page lets the pages go: none is read after it', async (t) => {
  const closed = { done: false }
  const rows = statementRows(inPages(Array.from({ length: 2500 }, (_, i) => line(i + 1)), 1000, undefined, closed), false)
  t.equal((await rows.next()).value?.length, 1000, 'the first page: a group-less line prints its subtotal row only')
  await rows.return(undefined)
  t.ok(closed.done, 'the pages were returned')
})

t.test('a draft is marked on every sheet and prints no seal blocks to sign; a finalized run prints them, and its totals page its digest and override; a scoped statement\'s totals say whose lines they add up (found by the print probe)', async (t) => {
  const html = async (printed: StoredRun, scope?: Parameters<typeof statementHtml>[1]['scope']) => {
    let text = ''
    for await (const piece of statementHtml(printed, { lineCount: 2, lines: [line(1), line(2)], scope }, 'statement.css')) text += piece
    return text
  }
  const draft = await html(run)
  t.equal(draft.match(/<div class="watermark" aria-hidden="true">草稿 DRAFT<\/div>/g)?.length, 1, 'one mark of fixed position, which prints on every sheet')
  t.equal(draft.match(/草稿 DRAFT：未定稿，不得签章/g)?.length, 2, 'on each agreement\'s page, where the seal blocks would be')
  t.notMatch(draft, /（盖章）|负责人|class="seal"/, 'no seal block, no signature line')

  const finalized: StoredRun = { ...run, status: 'finalized', finalizedAt: '2026-01-06T02:00:00.000Z', finalizedBy: 'admin', digest: 'b'.repeat(64), overrideReason: '经专题会议研究先行结算' }
  const signed = await html(finalized)
  t.notMatch(signed, /watermark|不得签章/)
  t.equal(signed.match(/（盖章）/g)?.length, 6, 'three seal blocks on each page')
  const totals = /<section class="totals">([\s\S]*?)<\/section>/.exec(signed)?.[1] ?? ''
  t.match(totals, `校验码 SHA-256：<code>${'b'.repeat(64)}</code>`, 'the totals page prints the digest')
  t.match(totals, '强制定稿理由（存在异议时定稿）：经专题会议研究先行结算', 'and the override reason')
  t.notMatch(totals, /class="scope"/, 'the whole run: no scope to say')

  const district = /<section class="totals">([\s\S]*?)<\/section>/.exec(await html(finalized, { kind: 'district', districtCode: '370214' }))?.[1] ?? ''
  t.match(district, '本页仅合计属地政府 370214 的分成办法（按查询范围），不是本结算批次的全部')
  const zone = /<section class="totals">([\s\S]*?)<\/section>/.exec(await html(finalized, { kind: 'zone', zoneCode: 'QD-HT' }))?.[1] ?? ''
  t.match(zone, '本页仅合计功能区 QD-HT 的分成办法（按查询范围），不是本结算批次的全部')
})
