import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createBrotliDecompress } from 'node:zlib'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { Test } from 'tap'

/*
 * The browser of the browser tests, on any machine that ran `npm ci`: Debian's chromium when it is
 * installed (/usr/bin/chromium, as .ci/run installs it), and otherwise the headless Chromium that
 * the npm package @sparticuz/chromium ships inside itself (bin/chromium.br, brotli-compressed),
 * so a fresh machine runs them too. The tests never skip.
 *
 * @sparticuz/chromium's own executablePath() decompresses to /tmp/chromium after checking that the
 * file is not there yet, so two test files starting at once could launch a half-written binary;
 * here each process decompresses to a file of its own and renames it into place (atomic), in a
 * folder named after the package's version. The binary needs libnss3, libnspr4 and libexpat,
 * which this kind of machine's base image has.
 */

const SYSTEM_CHROMIUM = '/usr/bin/chromium'

/** The flags every browser test launches with. Playwright gives every launch a fresh temporary profile. */
export const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run']

export interface ChromiumBinary {
  executablePath: string
  /** Where it came from, for the test's comments. */
  source: string
}

/** The headless Chromium of @sparticuz/chromium, decompressed once per version into the temporary folder. */
export async function npmChromium (): Promise<ChromiumBinary> {
  const root = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..')
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }
  const folder = join(tmpdir(), `sparticuz-chromium-${version}`)
  const executablePath = join(folder, 'chromium')
  if (!existsSync(executablePath)) {
    await mkdir(folder, { recursive: true })
    const partial = `${executablePath}.${process.pid}.${Date.now()}.partial`
    try {
      await pipeline(createReadStream(join(root, 'bin', 'chromium.br')), createBrotliDecompress(), createWriteStream(partial))
      await chmod(partial, 0o755)
      await rename(partial, executablePath)
    } finally {
      await rm(partial, { force: true })
    }
  }
  return { executablePath, source: `@sparticuz/chromium ${version} (${executablePath})` }
}

/** Debian's chromium when installed, otherwise the one npm delivered. */
export async function chromiumBinary (): Promise<ChromiumBinary> {
  if (existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, source: `Debian's chromium (${SYSTEM_CHROMIUM})` }
  return npmChromium()
}

/** A headless browser for the test, closed when it ends. */
export async function launchChromium (t: Test): Promise<Browser> {
  const binary = await chromiumBinary()
  const launched = Date.now()
  const browser = await chromium.launch({ executablePath: binary.executablePath, headless: true, timeout: 60_000, args: LAUNCH_ARGS })
  t.teardown(() => browser.close())
  t.comment(`${binary.source}, version ${browser.version()}, launched in ${Date.now() - launched} ms`)
  return browser
}

/** A page of a fresh context, closed when the test ends, that notes what the browser refused or failed, and the font files it loaded. */
export interface WatchedPage {
  page: Page
  /** Console errors, CSP reports, uncaught errors, failed requests and 4xx/5xx answers. */
  browserErrors: string[]
  /** The URLs of the .woff2 files loaded. */
  fontsLoaded: string[]
}

export async function watchedPage (t: Test, browser: Browser, options: { viewport: { width: number, height: number }, token: string }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: options.viewport, extraHTTPHeaders: { authorization: `Bearer ${options.token}` } })
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const browserErrors: string[] = []
  const fontsLoaded: string[] = []
  page.on('console', (message) => { if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) browserErrors.push(message.text()) })
  page.on('pageerror', (error) => { browserErrors.push(`uncaught: ${error.message}`) })
  page.on('requestfailed', (request) => { browserErrors.push(`request failed: ${request.url()} (${request.failure()?.errorText})`) })
  page.on('response', (response) => {
    if (response.status() >= 400) browserErrors.push(`${response.status()} ${response.url()}`)
    if (response.url().endsWith('.woff2')) fontsLoaded.push(response.url())
  })
  return { page, browserErrors, fontsLoaded }
}
