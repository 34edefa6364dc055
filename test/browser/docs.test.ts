import { mkdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import t from 'tap'
import { ADMIN_TOKEN } from '../helpers.js'
import { listeningServer } from '../client/index.js'
import { launchChromium } from './chromium.js'

/*
 * Swagger UI in a real browser (chromium driven by playwright-core: Debian's, or the one npm
 * delivers, see ./chromium.ts), as the README tells a
 * new user to try the service: open /docs, Authorize with the bearer token, open
 * POST /v1/calculations, Try it out, Execute the example as it is, and read the 200 answer on the
 * page. A Content-Security-Policy that blocks Swagger UI's scripts or styles, a broken example or a
 * broken Authorize fails here, with the browser's console errors in the message, and the page is
 * saved as test-artifacts/docs-try-it-out.png (or docs-failure.png) either way.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const STEP_TIMEOUT_MS = 20_000

// The example request of POST /v1/calculations, worked out by hand (calculation-rules.md):
// taxes, §8 example 3: Z = 60000.00 + 120000.00 = 180000.00, D = 1070000.00;
// fees, §8 example 2: Z = round(0.60 × 80000.00) = 48000.00, D = 32000.00;
// escalating, §4: B(2021) = round(500000.00 × 1.05²) − 20000.00 = 551250.00 − 20000.00 = 531250.00,
//   I = S = 560000.00 − 531250.00 = 28750.00, Z = round(0.60 × 28750.00) = 17250.00, D = 542750.00;
// scheduled, §4 and §2: B(2021) = 800000.00 + 12 × 5000.00 (卫生健康 to the district) = 860000.00, S = 140000.00;
//   2021 takes the schedule's second period, falling bands: 86000.00 × 0.80 = 68800.00 + 54000.00 × 0.60 = 32400.00,
//   Z = 101200.00, D = 898800.00;
// §6: revenueTotal = 1250000.00 + 80000.00 + 560000.00 + 1000000.00 = 2890000.00, zoneShare = 346450.00,
//   districtShare = 2543550.00, balanceDue = 346450.00 − 100000.00 = 246450.00.
const EXPECTED = {
  revenueTotal: '2890000.00',
  zoneShare: '346450.00',
  districtShare: '2543550.00',
  advancesPaid: '100000.00',
  balanceDue: '246450.00',
  groups: [
    { name: 'taxes', zoneShare: '180000.00', districtShare: '1070000.00' },
    { name: 'fees', zoneShare: '48000.00', districtShare: '32000.00' },
    { name: 'escalating', base: '531250.00', increment: '28750.00', zoneShare: '17250.00', districtShare: '542750.00' },
    { name: 'scheduled', base: '860000.00', shareable: '140000.00', zoneShare: '101200.00', districtShare: '898800.00', period: { fromYear: 2021, number: 2, of: 2 } },
  ],
}

t.test('Swagger UI: Authorize, Try it out and Execute POST /v1/calculations in a real browser', async (t) => {
  const document = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
  const operation = document.paths['/v1/calculations'].post
  const exampleRequest = operation.requestBody.content['application/json'].example
  const exampleResponse = operation.responses['200'].content['application/json'].example
  t.match(exampleResponse, EXPECTED, 'the documented example response has the figures worked out from the rules')

  const { baseUrl } = await listeningServer(t)
  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  const browserErrors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') browserErrors.push(message.text()) })
  page.on('pageerror', (error) => { browserErrors.push(`uncaught: ${error.message}`) })
  page.on('requestfailed', (request) => { browserErrors.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`) })

  await mkdir(ARTIFACTS, { recursive: true })
  /** Runs one step a user would take; when it fails, says which, with what the browser reported, and keeps a screenshot. */
  const step = async <T> (what: string, action: () => Promise<T>): Promise<T> => {
    try {
      const started = Date.now()
      const result = await action()
      t.comment(`${what}: ${Date.now() - started} ms`)
      return result
    } catch (error) {
      const screenshot = `${ARTIFACTS}docs-failure.png`
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {})
      const csp = browserErrors.some((e) => /Content Security Policy/i.test(e))
      throw new Error([
        `Swagger UI at ${baseUrl}/docs: "${what}" failed: ${(error as Error).message.split('\n')[0]}`,
        csp
          ? 'The browser refused content under the Content-Security-Policy: the CSP (e.g. @fastify/helmet\'s) must allow what Swagger UI needs on /docs.'
          : 'Swagger UI did not get that far; see the browser errors below.',
        `Browser errors (${browserErrors.length}):`, ...browserErrors.map((e) => `  - ${e}`),
        `Screenshot: ${screenshot}`,
      ].join('\n'), { cause: error })
    }
  }

  await step('open /docs', async () => {
    const response = await page.goto(`${baseUrl}/docs`, { waitUntil: 'domcontentloaded' })
    t.equal(response?.status(), 200, 'GET /docs: 200')
    await page.locator('.swagger-ui .information-container .title').waitFor()
  })
  t.match(await page.locator('.swagger-ui .information-container .title').innerText(), new RegExp(escape(document.info.title)), 'the document\'s title is rendered')

  await step('Authorize with the bearer token', async () => authorize(page, ADMIN_TOKEN))
  t.match(await page.locator('.scheme-container button.authorize').getAttribute('class'), /(^|\s)locked(\s|$)/,
    'authorized: the Authorize button shows a closed padlock')

  const block = page.locator('#operations-calculations-calculate')
  await step('open POST /v1/calculations', async () => {
    await block.locator('.opblock-summary').first().click()
    await block.locator('.opblock-body').waitFor()
  })
  await step('Try it out', async () => {
    const tryOut = block.locator('button.try-out__btn')
    await tryOut.waitFor()
    // The UI is configured with tryItOutEnabled: then the button already reads "Cancel".
    if ((await tryOut.innerText()).trim() === 'Try it out') await tryOut.click()
    await block.locator('textarea.body-param__text').waitFor()
  })
  const prefilled = JSON.parse(await block.locator('textarea.body-param__text').inputValue())
  t.same(prefilled, exampleRequest, 'the request body is pre-filled with the documented example')

  const response = block.locator('.live-responses-table .response').first()
  await step('Execute', async () => {
    await block.locator('button.execute').click()
    await response.locator('.response-col_status').waitFor()
  })
  const status = (await response.locator('.response-col_status').innerText()).trim()
  const bodyText = await step('read the response body', async () => response.locator('.response-col_description pre').first().innerText())
  const curl = await block.locator('.curl-command').innerText()
  // The operation, from its title down to the live response (the documented responses below it left out).
  const top = (await block.boundingBox())!
  const end = (await response.boundingBox())!
  await page.screenshot({ path: `${ARTIFACTS}docs-try-it-out.png`, fullPage: true, clip: { x: top.x, y: top.y, width: top.width, height: end.y + end.height - top.y + 8 } })

  t.equal(status, '200', 'the page shows status 200', { body: bodyText.slice(0, 500), browserErrors })
  t.match(curl, `Authorization: Bearer ${ADMIN_TOKEN}`, 'the request carried the token entered in Authorize')
  let body: unknown
  try { body = JSON.parse(bodyText) } catch { t.fail('the response body shown is JSON', { bodyText: bodyText.slice(0, 500) }) }
  t.match(body, EXPECTED, 'the page shows the figures of the rules')
  t.match(body, { ...exampleResponse, groups: exampleResponse.groups.map((g: Record<string, unknown>) => ({ ...g, explanation: Array })) },
    'the figures of the documented example response')
  t.match(await response.locator('.response-col_description').innerText(), /"zoneShare": "346450\.00"/, 'the zone share, as text on the page')
  t.same(browserErrors, [], 'no errors in the browser console')
})

/** Escapes a string for use in a RegExp. */
function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Authorize (the padlock button): enters the bearer token in the dialog and closes it. */
async function authorize (page: Page, token: string): Promise<void> {
  await page.locator('.scheme-container button.authorize').click()
  const dialog = page.locator('.dialog-ux .modal-ux')
  await dialog.waitFor()
  await dialog.locator('.auth-container input').first().fill(token)
  await dialog.locator('button.modal-btn.authorize').first().click()
  // Authorized: the dialog offers Logout instead.
  await dialog.locator('button.modal-btn', { hasText: 'Logout' }).first().waitFor()
  await dialog.locator('button.btn-done, button.close-modal').first().click()
  await dialog.waitFor({ state: 'detached' })
}
