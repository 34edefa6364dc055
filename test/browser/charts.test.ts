import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { loadDemoData } from '../../src/demo.js'
import { renderScenarioChart, type ScenarioChartYear } from '../../src/http/charts.js'
import { loadStatementAssets } from '../../src/http/statement-html.js'
import { ADMIN_TOKEN } from '../helpers.js'
import { listeningServer } from '../client/index.js'
import { launchChromium, watchedPage, type WatchedPage } from './chromium.js'

/*
 * The charts (api-contract.md, Scenarios: ?format=svg) in a real browser, as a budget officer opens
 * them: the demo data's history of agreement 1 (GET /v1/agreements/1/history?format=svg, served
 * by the listening service), and a scenario chart drawn by renderScenarioChart on a fixed input,
 * served at the scenario's own address (/v1/scenarios?format=svg) by the browser's request
 * routing so that its stylesheet link resolves as it will in the service. Each opens as an SVG
 * document, sets its Chinese in the service's web font (Noto Sans SC, loaded through the
 * stylesheet it links), shows its title, axis names and legend, and is kept as a screenshot in
 * test-artifacts/.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

const { baseUrl, database } = await listeningServer(t)
await loadDemoData(database.db)
const { stylesheet } = await loadStatementAssets()

/** Two years on record and three projected (as POST /v1/scenarios answers, its totals only). */
const SCENARIO: ScenarioChartYear[] = [
  { fiscalYear: 2022, projected: false, totals: { agreed: { zoneShare: '2280000.00' }, scenario: { zoneShare: '2660000.00' }, difference: '380000.00' } },
  { fiscalYear: 2023, projected: false, totals: { agreed: { zoneShare: '2710000.00' }, scenario: { zoneShare: '3161666.67' }, difference: '451666.67' } },
  { fiscalYear: 2024, projected: true, totals: { agreed: { zoneShare: '3125500.00' }, scenario: { zoneShare: '3646416.67' }, difference: '520916.67' } },
  { fiscalYear: 2025, projected: true, totals: { agreed: { zoneShare: '3562550.00' }, scenario: { zoneShare: '4156308.33' }, difference: '593758.33' } },
  { fiscalYear: 2026, projected: true, totals: { agreed: { zoneShare: '4023302.50' }, scenario: { zoneShare: '4693852.92' }, difference: '670550.42' } },
]

/** Opens the SVG at `url` (served by the service, or `serve` fulfilled at that address) as a document. */
async function open (t: Test, browser: Browser, url: string, serve?: string): Promise<WatchedPage> {
  const { page, browserErrors, fontsLoaded } = await watchedPage(t, browser, { viewport: { width: 960, height: 540 }, token: ADMIN_TOKEN })
  if (serve !== undefined) {
    await page.route(url, (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml; charset=utf-8', body: serve }))
  }
  const response = await page.goto(url, { waitUntil: 'load' })
  t.equal(response?.status(), 200, `GET ${url.slice(baseUrl.length)}: 200`)
  t.equal(await page.evaluate(() => document.documentElement.tagName), 'svg', 'opens as an SVG document')
  await page.evaluate(async () => { await document.fonts.ready })
  return { page, fontsLoaded, browserErrors }
}

/** The texts drawn, in document order. */
const textsOf = (page: Page) => page.evaluate(() => [...document.querySelectorAll('text')].map((e) => e.textContent ?? ''))

t.test('the history chart of the demo agreement: every settled year, the Chinese in the served font', async (t) => {
  const browser = await launchChromium(t)
  const history = await (await fetch(`${baseUrl}/v1/agreements/1/history`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as { years: Array<{ fiscalYear: number }> }
  t.ok(history.years.length >= 2, `the demo agreement has ${history.years.length} settled years`)
  const { page, fontsLoaded, browserErrors } = await open(t, browser, `${baseUrl}/v1/agreements/1/history?format=svg`)
  t.ok(await page.evaluate(() => document.fonts.check('16px "Noto Sans SC Variable"', '年度收入核定基数功能区分成')), 'the Chinese is set in the served web font')
  t.ok(fontsLoaded.length > 0, `the browser loaded ${fontsLoaded.length} slices of the font from the service`)
  const texts = await textsOf(page)
  for (const name of ['年度', '收入', '核定基数', '功能区分成']) t.ok(texts.includes(name), `shows ${name}`)
  t.ok(texts.some((text) => /^金额（万?元）$/.test(text)), 'names the money axis in 元 or 万元')
  for (const y of history.years) t.ok(texts.some((text) => text.startsWith(String(y.fiscalYear))), `the year ${y.fiscalYear}`)
  t.ok(texts.includes('2021（含补充结算）'), 'the year settled again is labelled so')
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}history-chart.png` })
  t.same(browserErrors, [], 'nothing refused, failed or logged as an error')
})

t.test('a scenario chart: both zone shares by year, the projected years marked 预测', async (t) => {
  const browser = await launchChromium(t)
  const svg = renderScenarioChart(SCENARIO, { stylesheet: `../assets/${stylesheet}` })
  const { page, fontsLoaded, browserErrors } = await open(t, browser, `${baseUrl}/v1/scenarios?format=svg`, svg)
  t.ok(await page.evaluate(() => document.fonts.check('16px "Noto Sans SC Variable"', '现行办法测算方案预测')), 'the Chinese is set in the served web font')
  t.ok(fontsLoaded.length > 0, 'the font came from the service')
  const texts = await textsOf(page)
  for (const name of ['年度', '金额（万元）', '现行办法', '测算方案', '预测', '2022', '2023', '2024（预测）', '2025（预测）', '2026（预测）']) t.ok(texts.includes(name), `shows ${name}`)
  for (const label of ['228.00', '316.17', '469.39']) t.ok(texts.includes(label), `the figure ${label} (万元), as written`)
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}scenario-chart.png` })
  t.same(browserErrors, [], 'nothing refused, failed or logged as an error')
})

t.test('the scenario chart the service answers (POST /v1/scenarios?format=svg) for the README negotiation on the demo data', async (t) => {
  const browser = await launchChromium(t)
  // Step 1 of the README's negotiation: 70% of the first band from 2022; 2022–2024 on record, 2025 projected.
  const body = { agreementId: 1, changes: { groups: [{ name: 'taxes', rates: [{ upToGrowth: '0.10', rate: '0.70' }, { rate: '0.80' }] }] }, fromYear: 2022, toYear: 2025, growth: { default: '0.05', byGroup: { fees: '0.00' } } }
  const answer = await fetch(`${baseUrl}/v1/scenarios?format=svg`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  })
  t.equal(answer.status, 200)
  t.equal(answer.headers.get('content-type'), 'image/svg+xml; charset=utf-8')
  // A browser opens a POST's answer as the document it gets back: served again at the same address, so its stylesheet link resolves as it does there.
  const { page, fontsLoaded, browserErrors } = await open(t, browser, `${baseUrl}/v1/scenarios?format=svg`, await answer.text())
  t.ok(await page.evaluate(() => document.fonts.check('16px "Noto Sans SC Variable"', '现行办法测算方案预测')), 'the Chinese is set in the served web font')
  t.ok(fontsLoaded.length > 0, 'the font came from the service')
  const texts = await textsOf(page)
  for (const name of ['年度', '金额（万元）', '现行办法', '测算方案', '预测', '2022', '2023', '2024', '2025（预测）']) t.ok(texts.includes(name), `shows ${name}`)
  t.ok(texts.some((text) => text.includes('实际收入至 2024 年') && text.includes('差额合计 3886400.00')), 'the subtitle: revenue on record to 2024, the difference over the years (README step 1)')
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}scenario-chart-demo.png` })
  t.same(browserErrors, [], 'nothing refused, failed or logged as an error')
})
