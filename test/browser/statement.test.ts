import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { PDFDocument, PDFName } from 'pdf-lib'
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs'
import { type Browser, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import type { StoredRun } from '../../src/db/settlements.js'
import { loadDemoData } from '../../src/demo.js'
import type { StatementLine } from '../../src/domain/settlement.js'
import { loadStatementAssets, statementHtml } from '../../src/http/statement-html.js'
import { ADMIN_TOKEN } from '../helpers.js'
import { apiClient, listeningServer } from '../client/index.js'
import { chromiumBinary, LAUNCH_ARGS, launchChromium, npmChromium, watchedPage } from './chromium.js'

/*
 * The printable settlement statement (api-contract.md, Settlement runs: statement ?format=html) in
 * a real browser, as a bureau prints it: the demo data's 2020 run (finalized and reviewed) opened
 * in chromium, printed to PDF (page.pdf, A4 landscape from the page's own @page rule), one page
 * per agreement, every figure of every line on its page in 元 with thousands separators, the
 * review record, the digest, the three seal blocks, the text set in the web font the service
 * serves (the PDF embeds no other font), and nothing refused by the page's Content-Security-Policy.
 * The screenshot and the PDF are kept in test-artifacts/. The same print is made with the browser
 * npm delivers (@sparticuz/chromium), which a machine without Debian's chromium uses.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
/** A4 landscape in PDF points (297 mm × 210 mm). */
const A4_LANDSCAPE = { width: 841.89, height: 595.28 }

const { baseUrl, database } = await listeningServer(t)
await loadDemoData(database.db)
const admin = apiClient(baseUrl, ADMIN_TOKEN)
const RUN = 1

interface Line { agreementId: number, zoneCode: string, revenueTotal: string, zoneShare: string, districtShare: string, advancesPaid: string, balanceDue: string,
  groups: Array<{ name: string, actual: string, base?: string, increment?: string, zoneShare: string, districtShare: string, bands: Array<{ rate: string, amount: string, zoneShare: string }> }>,
  reviews: Record<'district' | 'zone', { decision: string } | null> }

const run = (await admin.GET('/v1/settlement-runs/{id}', { params: { path: { id: String(RUN) } } })).data!
const lines = (await admin.GET('/v1/settlement-runs/{id}/lines', { params: { path: { id: String(RUN) } } })).data!.items as Line[]

/** An amount as a printed statement shows it, worked out here from its digits: "-1234567.80" → "-1,234,567.80". */
function yuan (amount: string): string {
  const [whole = '', cents = ''] = amount.split('.')
  const negative = whole.startsWith('-')
  return `${negative ? '-' : ''}${BigInt(negative ? whole.slice(1) : whole).toLocaleString('en-US')}.${cents}`
}

/** Every font a PDF embeds, by its PostScript name (subset prefix and all). */
function embeddedFonts (pdf: PDFDocument): string[] {
  const names: string[] = []
  for (const [, object] of pdf.context.enumerateIndirectObjects()) {
    const dict = object as { get?: (key: PDFName) => unknown }
    if (typeof dict.get !== 'function') continue
    const type = dict.get(PDFName.of('Type'))
    const name = dict.get(PDFName.of('FontName'))
    if (type === PDFName.of('FontDescriptor') && name !== undefined) names.push(String(name).replace(/^\//, ''))
  }
  return names
}

interface Printed { pdf: PDFDocument, bytes: Buffer, fontsLoaded: string[], browserErrors: string[] }

/** Opens the statement in the browser, checks the page on screen, and prints it. */
async function print (t: Test, browser: Browser, screenshot: string | undefined): Promise<Printed> {
  const { page, browserErrors, fontsLoaded } = await watchedPage(t, browser, { viewport: { width: 1280, height: 900 }, token: ADMIN_TOKEN })

  const response = await page.goto(`${baseUrl}/v1/settlement-runs/${RUN}/statement?format=html`, { waitUntil: 'load' })
  t.equal(response?.status(), 200, 'GET …/statement?format=html: 200')
  t.match(await response?.headerValue('content-security-policy'), /^default-src 'none'; style-src 'self'; font-src 'self'/, 'under the statement\'s own CSP')
  await page.evaluate(async () => { await document.fonts.ready })
  t.ok(await page.evaluate(() => document.fonts.check('16px "Noto Sans SC Variable"', '结算单 区财政局 功能区管委会')), 'the Chinese is set in the served web font')
  t.equal(await page.locator('script').count(), 0, 'no script')

  const sections = page.locator('section.agreement')
  t.equal(await sections.count(), lines.length, `a section per agreement (${lines.length})`)
  for (const [i, line] of lines.entries()) {
    const section = sections.nth(i)
    t.equal(await section.getAttribute('data-agreement-id'), String(line.agreementId), `section ${i + 1}: agreement ${line.agreementId}`)
    const text = await section.innerText()
    const figures = [line.revenueTotal, line.zoneShare, line.districtShare, line.advancesPaid, line.balanceDue,
      ...line.groups.flatMap((g) => [g.actual, g.zoneShare, g.districtShare, ...(g.base === undefined ? [] : [g.base]), ...(g.increment === undefined ? [] : [g.increment]),
        ...g.bands.flatMap((b) => [b.amount, b.zoneShare])])]
    const missing = figures.map(yuan).filter((f) => !text.includes(f))
    t.same(missing, [], `agreement ${line.agreementId} (${line.zoneCode}): every figure of the line on its page, in 元 with thousands separators`)
    t.ok(await section.getByText(yuan(line.balanceDue), { exact: true }).first().isVisible(), `its balance due ${yuan(line.balanceDue)} is visible`)
    t.match(text, run.digest!, 'the digest')
    for (const seal of ['市财政局', '区财政局', '功能区管委会']) t.match(text, new RegExp(`${seal}\\s*\\n`), `the ${seal} seal block`)
    t.match(text, line.reviews.district?.decision === 'confirm' ? /区财政局\s+确认/ : /区财政局\s+未确认/, 'the district\'s decision')
  }
  const totals = page.locator('section.totals')
  t.equal(await totals.count(), 1, 'then a totals page (api-contract.md: totals that add up to the cent, as the CSV\'s 合计 row)')
  const totalsText = await totals.innerText()
  const runTotals = [run.totals.revenueTotal, run.totals.zoneShare, run.totals.districtShare, run.totals.advancesPaid, run.totals.balanceDue]
  t.same(runTotals.map(yuan).filter((f) => !totalsText.includes(f)), [], 'the run\'s totals on it, in 元 with thousands separators')
  if (screenshot !== undefined) {
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}${screenshot}`, fullPage: true })
  }
  const bytes = await page.pdf({ preferCSSPageSize: true, printBackground: true })
  return { pdf: await PDFDocument.load(bytes), bytes, fontsLoaded, browserErrors }
}

t.test('the HTML statement of a finalized, reviewed run prints one A4 page per agreement, with its figures, and a page of totals, in the served font', async (t) => {
  t.match(run, { status: 'finalized', digest: /^[0-9a-f]{64}$/, lineCount: 2 }, 'the demo\'s 2020 run is finalized')
  const printed = await print(t, await launchChromium(t), 'statement-html.png')
  await writeFile(`${ARTIFACTS}statement.pdf`, printed.bytes)
  t.equal(printed.pdf.getPageCount(), lines.length + 1, `one page per agreement and the totals: ${lines.length + 1} pages`)
  for (const [i, p] of printed.pdf.getPages().entries()) {
    const { width, height } = p.getSize()
    t.ok(Math.abs(width - A4_LANDSCAPE.width) < 1 && Math.abs(height - A4_LANDSCAPE.height) < 1, `page ${i + 1} is A4 landscape (${width.toFixed(2)} × ${height.toFixed(2)} pt)`)
  }
  const fonts = embeddedFonts(printed.pdf)
  t.ok(fonts.length > 0 && fonts.every((f) => /NotoSansSC/i.test(f)), 'the PDF embeds the served font only', { fonts })
  t.ok(printed.fontsLoaded.length > 0, `the browser loaded ${printed.fontsLoaded.length} slices of the font from the service`)
  t.same(printed.browserErrors, [], 'nothing refused, failed or logged as an error')
})

t.test('the browser npm delivers (@sparticuz/chromium) prints the same pages', async (t) => {
  const binary = await npmChromium()
  const browser = await chromium.launch({ executablePath: binary.executablePath, headless: true, timeout: 60_000, args: LAUNCH_ARGS })
  t.teardown(() => browser.close())
  t.comment(`${binary.source}, version ${browser.version()}`)
  const system = await chromiumBinary()
  if (system.executablePath === binary.executablePath) t.comment('no system chromium: the test above used this one too')
  const printed = await print(t, browser, undefined)
  t.equal(printed.pdf.getPageCount(), lines.length + 1, `one page per agreement and the totals: ${lines.length + 1} pages`)
  t.ok(embeddedFonts(printed.pdf).every((f) => /NotoSansSC/i.test(f)), 'in the served font only')
  t.same(printed.browserErrors, [], 'nothing refused, failed or logged as an error')
})



/** A line of `groups` groups of one agreement, the zone disputing it when `disputed` (else unreviewed). */
function longLine (groups: number, disputed: boolean): StatementLine {
  return {
    agreementId: 1, zoneCode: '370211', zoneName: '青岛西海岸新区', districtCode: '370211', districtName: '黄岛区', documentNo: '青政字〔2020〕12号',
    kind: 'annual', follows: null, previousZoneShare: null, adjustment: null, balanceAdjustment: null, run: { minimumRate: '0.60' },
    revenueTotal: '7200000.00', zoneShare: '720000.00', districtShare: '6480000.00', advancesPaid: '0.00', balanceDue: '720000.00',
    groups: Array.from({ length: groups }, (_, i) => ({
      name: `口径组${i + 1}`, basis: 'increment' as const, base: '1000000.00', actual: '1200000.00', increment: '200000.00', carriedShortfallIn: '0.00', shareable: '200000.00',
      zoneShare: '120000.00', districtShare: '1080000.00', carriedShortfallOut: '0.00', bands: [{ rate: '0.60', amount: '200000.00', zoneShare: '120000.00' }],
    })),
    reviewHistory: !disputed ? [] : [
      { party: 'district', decision: 'confirm', note: null, by: 'k1', byRole: 'district', byLabel: '黄岛区财政局', at: '2026-12-05T02:00:00.000Z' },
      { party: 'zone', decision: 'dispute', note: '12月增值税入库数待与国库核对', by: 'k2', byRole: 'zone', byLabel: '西海岸新区管委会', at: '2026-12-05T03:00:00.000Z' },
    ],
  }
}

/** The text of each printed page of `line`'s statement (finalized, with `overrideReason`), as the service's stylesheet and font lay it out. */
async function printedPages (t: Test, browser: Browser, line: StatementLine, overrideReason: string | null): Promise<string[]> {
  const run: StoredRun = { id: 6, fiscalYear: 2021, status: 'finalized', minimumRate: '0.60', createdAt: '2026-12-05T01:00:00.000Z', createdBy: 'admin',
    finalizedAt: '2026-12-05T04:00:00.000Z', finalizedBy: 'admin', digest: 'a'.repeat(64), overrideReason }
  let html = ''
  for await (const piece of statementHtml(run, { lineCount: 1, lines: [line] }, `/assets/${(await loadStatementAssets()).stylesheet}`)) html += piece
  const { page, browserErrors } = await watchedPage(t, browser, { viewport: { width: 1280, height: 900 }, token: ADMIN_TOKEN })
  // The page is written here; its stylesheet and font come from the service.
  await page.route(`${baseUrl}/printed-statement.html`, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: html }))
  await page.goto(`${baseUrl}/printed-statement.html`, { waitUntil: 'load' })
  await page.evaluate(async () => { await document.fonts.ready })
  const pdf = await getDocument({ data: new Uint8Array(await page.pdf({ preferCSSPageSize: true, printBackground: true })), verbosity: 0 }).promise
  const pages: string[] = []
  for (let n = 1; n <= pdf.numPages; n++) {
    pages.push((await (await pdf.getPage(n)).getTextContent()).items.map((item) => 'str' in item ? item.str : '').join(''))
  }
  t.same(browserErrors, [], 'nothing refused, failed or logged as an error')
  return pages
}

const count = (text: string, what: string) => text.split(what).length - 1
/** What a page holds of a statement's sign-off: the seal blocks' titles (市财政局; the zone's with its name), seals, signature lines, and the footer. */
const signOff = (text: string) => [count(text, '市财政局'), count(text, '功能区管委会青岛西海岸新区'), count(text, '（盖章）'), count(text, '负责人'), count(text, '经办人'), count(text, '另附汇总页')]

t.test('a statement longer than a sheet keeps its three seal blocks and its footer together on its last sheet; five groups, a dispute and an override fit on one', async (t) => {
  const browser = await launchChromium(t)
  const five = await printedPages(t, browser, longLine(5, true), '经专题会议研究先行结算，异议在补充结算中处理')
  t.equal(five.length, 2, 'five groups with a dispute and an override: one sheet, then the totals')
  t.same(signOff(five[0]!), [1, 1, 3, 3, 3, 1], 'the seals and the footer on it')

  // Before, the seal blocks were cut across the page break (found by an export review).
  const seven = await printedPages(t, browser, longLine(7, false), null)
  t.equal(seven.length, 3, 'seven groups: two sheets, then the totals')
  t.same(seven.slice(0, 2).map(signOff), [[0, 0, 0, 0, 0, 0], [1, 1, 3, 3, 3, 1]],
    'the three seal blocks whole (titles, names, seal, signatures), and the footer, on the second sheet')
  t.same(Array.from({ length: 7 }, (_, i) => `口径组${i + 1}`).filter((name) => !seven.slice(0, 2).join('').includes(name)), [], 'every group printed')
  t.match(seven[1], '第 1 份，共 1 份，另附汇总页', 'the footer counts statements, not sheets')
})

t.test('a seal block grows with a long zone name: its signature and date lines stay inside its border (found by the print probe: under a 100-character name they fell below it, into the footer)', async (t) => {
  const browser = await launchChromium(t)
  const run: StoredRun = { id: 6, fiscalYear: 2021, status: 'finalized', minimumRate: '0.60', createdAt: '2026-12-05T01:00:00.000Z', createdBy: 'admin',
    finalizedAt: '2026-12-05T04:00:00.000Z', finalizedBy: 'admin', digest: 'a'.repeat(64), overrideReason: null }
  const line = { ...longLine(1, false), zoneName: '青岛西海岸新区'.repeat(14) + '管委会' }
  let html = ''
  for await (const piece of statementHtml(run, { lineCount: 1, lines: [line] }, `/assets/${(await loadStatementAssets()).stylesheet}`)) html += piece
  const { page, browserErrors } = await watchedPage(t, browser, { viewport: { width: 1280, height: 900 }, token: ADMIN_TOKEN })
  await page.route(`${baseUrl}/long-name.html`, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: html }))
  await page.goto(`${baseUrl}/long-name.html`, { waitUntil: 'load' })
  await page.emulateMedia({ media: 'print' })
  await page.evaluate(async () => { await document.fonts.ready })
  const overflows = await page.evaluate(() => [...document.querySelectorAll('.seal')].map((seal) => {
    const box = seal.getBoundingClientRect()
    return Math.max(...[...seal.children].map((child) => child.getBoundingClientRect().bottom)) - box.bottom
  }))
  t.equal(overflows.length, 3, 'three seal blocks')
  t.ok(overflows.every((below) => below <= 0), `every line inside its block (px below the border: ${overflows.map((o) => o.toFixed(1)).join(', ')})`)
  t.same(browserErrors, [])
})
