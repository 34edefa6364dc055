import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { PDFDocument, PDFName } from 'pdf-lib'
import { type Browser, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import { loadDemoData } from '../../src/demo.js'
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


