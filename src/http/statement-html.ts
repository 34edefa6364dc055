import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { StoredRun } from '../db/settlements.js'
import { transfersCitation } from '../domain/explanation.js'
import { ALL, type Scope } from '../domain/principal.js'
import { formatPercent, formatYuan } from '../domain/money.js'
import { DECISION_TITLES, latestReviews, PARTY_TITLES, REVIEW_PARTIES, type Review, UNREVIEWED } from '../domain/review.js'
import { beijingTime, finalizedText, previousZoneShareSum, reviewerText, runSums, type RunTotals, scopeHeld, type StatementLine } from '../domain/settlement.js'
import { type ItemSource, slicesInTurns } from '../services/turns.js'

/*
 * The settlement statement (结算单) as a page to print, stamp and sign (api-contract.md,
 * Settlement runs: statement ?format=html). One agreement a page (A4 landscape): the parties, each
 * group's base, actual, increment, shortfalls, zone and district shares, the bands, the advances
 * and the balance due in 元 with thousands separators, the review record of the district and the
 * zone, the override reason, the run's digest, and signature and seal blocks for 市财政局,
 * 区财政局 and 功能区管委会; a last page of the totals. Every figure is the stored one, formatted
 * by the domain, and the totals the domain's sums of them.
 *
 * No script. The stylesheet and the CJK web font (Noto Sans SC, a variable font split by Unicode
 * range, from the npm package @fontsource-variable/noto-sans-sc) are served by the service itself
 * under /assets/, cacheable for a year (their URLs change with their content), so the statement
 * prints the same on every machine whatever fonts it has. The page's Content-Security-Policy
 * allows nothing but that stylesheet and that font. (A copy saved to disk and opened from there
 * cannot reach them through its relative links; it falls back to the office machine's own CJK
 * fonts, named after the web font.)
 */

const FONT_PACKAGE = '@fontsource-variable/noto-sans-sc'
const FONT_FAMILY = 'Noto Sans SC Variable'

/** What the statement page may load: its stylesheet and its font, from this origin; nothing else. */
export const STATEMENT_CSP = "default-src 'none'; style-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const STATEMENT_CSS = `
@page { size: A4 landscape; margin: 11mm 13mm; }
html { font-family: '${FONT_FAMILY}', 'Microsoft YaHei', 'PingFang SC', 'Noto Sans CJK SC', sans-serif; font-size: 8.6pt; line-height: 1.3; color: #000; }
body { margin: 0; }
.agreement { break-after: page; page-break-after: always; }
.agreement:last-of-type { break-after: auto; page-break-after: auto; }
.totals .balance { width: 50%; margin-top: 4mm; }
header { display: grid; grid-template-columns: 1fr auto 1fr; align-items: end; margin-bottom: 2.5mm; }
header .meta { margin: 0; font-size: 8pt; }
header .status { margin: 0; text-align: right; font-size: 8pt; }
h1 { margin: 0; font-size: 17pt; font-weight: 700; letter-spacing: 0.12em; text-align: center; }
h1 small { display: block; font-size: 8pt; font-weight: 400; letter-spacing: 0; }
h2 { margin: 2.6mm 0 1mm; font-size: 9.5pt; font-weight: 700; }
.draft { font-weight: 700; font-size: 11pt; letter-spacing: 0.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #000; padding: 0.4mm 1.4mm; vertical-align: middle; }
tr { break-inside: avoid; page-break-inside: avoid; }
th { font-weight: 600; background: #f1f1f1; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.empty { text-align: center; color: #555; }
tr.subtotal td, tr.subtotal th { font-weight: 700; }
.parties th { width: 12%; }
.parties td { width: 38%; }
.unit { margin: 1.2mm 0 0.6mm; text-align: right; font-size: 8pt; }
.pair { display: grid; grid-template-columns: 1.1fr 0.9fr; gap: 5mm; }
.balance th { text-align: left; width: 45%; }
.review td.decision { white-space: nowrap; text-align: center; }
.note { margin: 1.2mm 0 0; }
.override { margin: 2mm 0 0; padding: 1.2mm 2mm; border: 1pt solid #000; font-weight: 600; }
.digest { margin: 2mm 0 0; font-size: 8pt; }
.digest code { font-family: inherit; letter-spacing: 0.02em; word-break: break-all; }
.sign-off { break-inside: avoid; page-break-inside: avoid; }
.signatures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 5mm; margin-top: 3mm; }
.seal { border: 0.5pt solid #000; min-height: 32mm; padding: 1.6mm 2.4mm; display: flex; flex-direction: column; }
.seal h3 { margin: 0; font-size: 10pt; font-weight: 700; }
.seal .name { margin: 0; font-size: 8pt; }
.seal .stamp { flex: 1; text-align: right; color: #666; margin: 0; padding-top: 4mm; }
.seal .line { margin: 0; }
.unsignable { margin: 3mm 0 0; padding: 2mm; border: 1pt dashed #000; font-weight: 700; text-align: center; }
.watermark { position: fixed; top: 40%; left: 0; right: 0; text-align: center; font-size: 64pt; font-weight: 700; letter-spacing: 0.3em; color: rgba(0, 0, 0, 0.1); transform: rotate(-18deg); pointer-events: none; }
.scope { margin: 1.2mm 0 0; font-weight: 600; }
footer { margin-top: 2mm; display: flex; justify-content: space-between; font-size: 7.5pt; color: #333; }
@media screen {
  body { background: #d9d9d9; padding: 6mm 0; }
  .agreement, .totals { box-sizing: border-box; width: 297mm; min-height: 210mm; margin: 0 auto 6mm; padding: 11mm 13mm; background: #fff; box-shadow: 0 0.5mm 2mm rgba(0, 0, 0, 0.35); }
}
`

/** The statement's stylesheet and font files, as the service serves them. */
export interface StatementAssets {
  /** The stylesheet's file name under /assets/ (its content's hash in it). */
  stylesheet: string
  css: string
  /** The font folder under /assets/ (the package's version in it). */
  fontFolder: string
  /** File name → path on disk, of every font file the stylesheet names. */
  fonts: ReadonlyMap<string, string>
  /** The font package's name, version and unpacked size of the files served. */
  font: { package: string, version: string, bytes: number }
}

/** Reads the font package's @font-face rules, points them at /assets/fonts/…, and adds the statement's own rules. */
export async function loadStatementAssets (): Promise<StatementAssets> {
  const manifest = createRequire(import.meta.url).resolve(`${FONT_PACKAGE}/package.json`)
  const folder = dirname(manifest)
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string }
  const fontFolder = `noto-sans-sc-${version}`
  const available = new Set(await readdir(join(folder, 'files')))
  const fonts = new Map<string, string>()
  const faces = (await readFile(join(folder, 'index.css'), 'utf8'))
    .replace(/url\(\.\/files\/([A-Za-z0-9.-]+\.woff2)\)/g, (_, file: string) => {
      if (!available.has(file)) throw new Error(`${FONT_PACKAGE}: index.css names ${file}, which the package does not hold`)
      fonts.set(file, join(folder, 'files', file))
      return `url(fonts/${fontFolder}/${file})`
    })
    // Printing waits for the font rather than showing another one first.
    .replaceAll('font-display: swap;', 'font-display: block;')
  if (fonts.size === 0) throw new Error(`${FONT_PACKAGE}: index.css names no woff2 file`)
  const css = `${faces}\n${STATEMENT_CSS}`
  const hash = createHash('sha256').update(css).digest('hex').slice(0, 16)
  let bytes = 0
  for (const path of fonts.values()) bytes += (await readFile(path)).length
  return { stylesheet: `statement-${hash}.css`, css, fontFolder, fonts, font: { package: FONT_PACKAGE, version, bytes } }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text as HTML: every character that markup could read escaped. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

const h = escapeHtml
const yuan = (amount: string | null | undefined) => amount === null || amount === undefined ? '<td class="empty">—</td>' : `<td class="num">${formatYuan(amount)}</td>`
const BASIS_TITLES = { increment: '增量分成', total: '全额分成' } as const

function groupsTable (line: StatementLine): string {
  const rows = line.groups.map((g) => `<tr><td>${h(g.name)}</td><td>${BASIS_TITLES[g.basis]}</td>${yuan(g.base)}${yuan(g.actual)}${yuan(g.increment)}` +
    `${yuan(g.carriedShortfallIn)}${yuan(g.shareable)}${yuan(g.zoneShare)}${yuan(g.districtShare)}${yuan(g.carriedShortfallOut)}</tr>`)
  return `<table class="figures"><thead><tr><th>口径组</th><th>分成口径</th><th>核定基数</th><th>实际收入</th><th>增量</th><th>上年结转短收</th>` +
    '<th>可分成增量</th><th>功能区分成</th><th>属地政府留成</th><th>结转下年短收</th></tr></thead>' +
    `<tbody>${rows.join('')}<tr class="subtotal"><th colspan="3">小计</th>${yuan(line.revenueTotal)}<td colspan="3"></td>${yuan(line.zoneShare)}` +
    `${yuan(line.districtShare)}<td></td></tr></tbody></table>`
}

function bandsTable (line: StatementLine): string {
  const rows = line.groups.flatMap((g) => g.bands.length === 0
    ? [`<tr><td>${h(g.name)}</td><td colspan="4" class="empty">可分成增量为负，不分成</td></tr>`]
    : g.bands.map((b, k) => `<tr><td>${h(g.name)}</td><td>${g.basis === 'total' ? '全额' : g.bands.length === 1 ? '—' : `第${k + 1}档`}</td>` +
      `<td class="num">${formatPercent(b.rate)}</td>${yuan(b.amount)}${yuan(b.zoneShare)}</tr>`))
  return '<table class="bands"><thead><tr><th>口径组</th><th>档次</th><th>分成比例</th><th>分档金额</th><th>功能区分成</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>`
}

function balanceTable (line: StatementLine): string {
  const rows: Array<[string, string | null]> = [
    ['收入合计 revenue', line.revenueTotal],
    ['功能区分成 zone share', line.zoneShare],
    ['属地政府留成 district share', line.districtShare],
    ['已预拨 advances paid', line.advancesPaid],
    ['应补(扣) balance due', line.balanceDue],
  ]
  if (line.kind === 'supplementary') {
    rows.push(['原结算功能区分成 previously settled', line.previousZoneShare], ['补充结算调整 adjustment', line.adjustment], ['应补(扣)调整 balance adjustment', line.balanceAdjustment])
  }
  return `<table class="balance"><tbody>${rows.map(([title, amount]) => `<tr><th>${title}</th>${yuan(amount)}</tr>`).join('')}</tbody></table>`
}

function reviewRows (history: readonly Review[]): string {
  const latest = latestReviews(history)
  return REVIEW_PARTIES.map((party) => {
    const own = history.filter((r) => r.party === party)
    if (own.length === 0) return `<tr><td>${PARTY_TITLES[party]}</td><td class="decision">${UNREVIEWED}</td><td colspan="3" class="empty">尚未审核</td></tr>`
    return own.map((r) => `<tr><td>${PARTY_TITLES[party]}</td><td class="decision">${DECISION_TITLES[r.decision]}${r === latest[party] ? '' : '（已更正）'}</td>` +
      `<td>${h(reviewerText(r))}</td><td>${beijingTime(r.at)}</td><td>${r.note === null ? '' : h(r.note)}</td></tr>`).join('')
  }).join('')
}

function sealBlock (title: string, name: string): string {
  return `<div class="seal"><h3>${title}</h3><p class="name">${name === '' ? '&#12288;' : h(name)}</p><p class="stamp">（盖章）</p>` +
    '<p class="line">负责人：</p><p class="line">经办人：</p><p class="line">日　期：　　　年　　月　　日</p></div>'
}

/** The run's status as a page's header prints it: finalized when, or a draft not to settle by. */
function statusText (run: StoredRun): string {
  return run.status === 'finalized'
    ? `定稿 ${finalizedText(run.finalizedAt)}`
    : '<span class="draft">草稿 DRAFT</span> 未定稿，不作结算依据'
}

/** Where a finalized run's seal blocks are, a draft says it is not to be signed (it printed the blocks, and a sheet after its first had no mark of a draft; found by a probe). */
const UNSIGNABLE = '<p class="unsignable">草稿 DRAFT：未定稿，不得签章 — not finalized, not to be signed or stamped</p>'

/** A draft's mark on every printed sheet (an element of fixed position prints on each page). */
const WATERMARK = '<div class="watermark" aria-hidden="true">草稿 DRAFT</div>'

/** Whose lines a statement printed for a district's or a zone's key holds: not the run's totals. */
function scopeNote (scope: Scope): string {
  const held = scopeHeld(scope)
  return held === undefined ? '' : `<p class="scope">本页仅合计${held.title} ${h(held.code)} 的分成办法（按查询范围），不是本结算批次的全部 — the lines of ${held.kind} ${h(held.code)} only, not the whole run</p>`
}

/** The run's digest as a page prints it: a finalized run's, or where a draft's will be. */
function digestText (run: StoredRun): string {
  return run.digest !== null
    ? `<p class="digest">校验码 SHA-256：<code>${run.digest}</code>（核验：GET /v1/settlement-runs/${run.id}/verification）</p>`
    : `<p class="digest">校验码 SHA-256：${run.status === 'finalized' ? '无（本批次定稿早于校验码功能）' : '定稿时生成'}</p>`
}

/** The override reason a run finalized over a dispute prints. */
const overrideText = (run: StoredRun): string => run.overrideReason === null ? '' : `<p class="override">强制定稿理由（存在异议时定稿）：${h(run.overrideReason)}</p>`

function page (run: StoredRun, line: StatementLine, index: number, count: number): string {
  const finalized = run.status === 'finalized'
  const status = statusText(run)
  const kind = line.kind === 'annual' ? '年度结算' : `补充结算（依据结算批次 ${line.follows ?? ''}）`
  const writtenOff = line.groups.filter((g) => g.writtenOff !== undefined)
    .map((g) => `<p class="note">注：口径组 ${h(g.name)} 结转下年短收 ${formatYuan(g.writtenOff ?? '0.00')} 元，分成办法期满，不转入后续办法，予以核销。</p>`).join('')
  // Where a shortfall carried out of the agreement's last year went: the lines' JSON said, the printed page did not (found by a probe).
  const carriedOn = line.groups.filter((g) => g.carriedToAgreementId !== undefined)
    .map((g) => `<p class="note">注：口径组 ${h(g.name)} 结转下年短收 ${formatYuan(g.carriedShortfallOut ?? '0.00')} 元，分成办法期满，转入后续分成办法（编号 ${g.carriedToAgreementId ?? ''}）同名口径组。</p>`).join('')
  const transfers = line.groups.filter((g) => g.transfers !== undefined && g.transfers.length > 0)
    .map((g) => `<p class="note">注：口径组 ${h(g.name)} 核定基数含事权划转（财随事走）：${h(transfersCitation(g.transfers ?? [], formatYuan))}。</p>`).join('')
  return `<section class="agreement" data-agreement-id="${line.agreementId}">
<header><p class="meta">结算批次 ${run.id} · ${run.fiscalYear}年度 · ${kind}</p><h1>${run.fiscalYear}年度功能区收入分成结算单<small>settlement statement</small></h1><p class="status">${status}</p></header>
<table class="parties"><tbody>
<tr><th>功能区</th><td>${h(line.zoneName)}（${h(line.zoneCode)}）</td><th>属地政府</th><td>${h(line.districtName)}（${h(line.districtCode)}）</td></tr>
<tr><th>分成办法</th><td>${h(line.documentNo)}（编号 ${line.agreementId}）</td><th>分成比例下限</th><td>${formatPercent(line.run.minimumRate)}</td></tr>
</tbody></table>
<p class="unit">金额单位：元</p>
${groupsTable(line)}${transfers}${writtenOff}${carriedOn}
<div class="pair"><div><h2>分档明细</h2>${bandsTable(line)}</div><div><h2>结算</h2>${balanceTable(line)}</div></div>
<h2>审核确认</h2>
<table class="review"><thead><tr><th>当事方</th><th>结论</th><th>登记人</th><th>时间（北京时间）</th><th>说明</th></tr></thead><tbody>${reviewRows(line.reviewHistory)}</tbody></table>
${overrideText(run)}${digestText(run)}
<div class="sign-off">${finalized
    ? `<div class="signatures">${sealBlock('市财政局', '')}${sealBlock('区财政局', line.districtName)}${sealBlock('功能区管委会', line.zoneName)}</div>`
    : UNSIGNABLE}
<footer><span>结算批次 ${run.id} · 分成办法 ${line.agreementId}</span><span>第 ${index + 1} 份，共 ${count} 份，另附汇总页</span></footer></div>
</section>`
}

/**
 * The last page: the totals of the lines printed (the run's, or the caller's share of it), as the
 * CSV and xlsx end with their 合计 row, with the columns of supplementary lines when a line prints them.
 */
function totalsPage (run: StoredRun, count: number, totals: RunTotals, previousZoneShare: string, printsSupplementary: boolean, scope: Scope): string {
  const rows: Array<[string, string]> = [
    ['收入合计 revenue', totals.revenueTotal],
    ['功能区分成 zone share', totals.zoneShare],
    ['属地政府留成 district share', totals.districtShare],
    ['已预拨 advances paid', totals.advancesPaid],
    ['应补(扣) balance due', totals.balanceDue],
  ]
  if (printsSupplementary) {
    rows.push(['原结算功能区分成 previously settled', previousZoneShare], ['补充结算调整 adjustment', totals.adjustment], ['应补(扣)调整 balance adjustment', totals.balanceAdjustment])
  }
  return `<section class="totals">
<header><p class="meta">结算批次 ${run.id} · ${run.fiscalYear}年度${printsSupplementary ? ' · 含补充结算' : ''}</p><h1>${run.fiscalYear}年度功能区收入分成结算单 合计<small>totals</small></h1><p class="status">${statusText(run)}</p></header>
<p class="unit">本结算单 ${count} 份分成办法合计；金额单位：元</p>
${scopeNote(scope)}
<table class="balance"><tbody>${rows.map(([title, amount]) => `<tr><th>${title}</th>${yuan(amount)}</tr>`).join('')}</tbody></table>
${overrideText(run)}${digestText(run)}
<footer><span>结算批次 ${run.id} · 合计</span><span>汇总页（附于 ${count} 份结算单之后）</span></footer>
</section>`
}

/** The pages printed so far, and their sums (the previously settled zone shares of the supplementary lines apart). */
interface Printed { lines: number, sums: ReturnType<typeof runSums>, previous: ReturnType<typeof previousZoneShareSum> }

/** Pages of the statement written at a time, between turns of the event loop. */
const PAGES_AT_A_TIME = 200

/** The statement's pages, PAGES_AT_A_TIME at a time (numbered "page i of count"), with a turn of the event loop between pieces. */
async function * htmlPieces (run: StoredRun, count: number, lines: ItemSource<StatementLine>, printed: Printed): AsyncGenerator<string> {
  for await (const slice of slicesInTurns(lines, PAGES_AT_A_TIME)) {
    yield slice.map((line, i) => page(run, line, printed.lines + i, count)).join('\n')
    printed.sums.add(slice)
    printed.previous.add(slice)
    printed.lines += slice.length
  }
}

/** What a statement that failed after its first pages were sent ends with, before the connection is cut. */
export const INCOMPLETE_NOTICE = '<p class="incomplete">结算单不完整，不得签章 — this statement is incomplete and may not be signed.</p>'

/**
 * The statement as one HTML document: a page per agreement, in the order of the lines, then a page
 * of their totals (the caller's lines: a district's statement adds up its own), written a
 * piece at a time as the lines come (a national run has tens of thousands of pages: the answer
 * streams them, and the server answers between pieces). The first pages are written before
 * anything is sent, so that a statement that cannot be written is an error answer; should a later
 * page fail, what was sent ends with INCOMPLETE_NOTICE and the answer is cut off.
 */
export async function * statementHtml (
  run: StoredRun, statement: { lineCount: number, lines: ItemSource<StatementLine>, printsSupplementary?: boolean, scope?: Scope }, stylesheetHref: string,
): AsyncGenerator<string> {
  // The pages printed so far, and their sums: the totals page after the last of them.
  const printed: Printed = { lines: 0, sums: runSums(), previous: previousZoneShareSum() }
  const pieces = htmlPieces(run, statement.lineCount, statement.lines, printed)
  try {
    const head = await pieces.next()
    const first = head.done === true ? '<p>本结算批次在您的范围内没有结算行。</p>' : head.value
    yield `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${run.fiscalYear}年度结算单 — 结算批次 ${run.id}</title>
<link rel="stylesheet" href="${h(stylesheetHref)}">
</head>
<body>
${run.status === 'finalized' ? '' : `${WATERMARK}\n`}${first}`
    try {
      for await (const piece of pieces) yield `\n${piece}`
    } catch (error) {
      yield `\n${INCOMPLETE_NOTICE}`
      throw error
    }
    const totals = printed.lines === 0 ? '' : `\n${totalsPage(run, printed.lines, printed.sums.totals(), printed.previous.total(), statement.printsSupplementary ?? false, statement.scope ?? ALL)}`
    yield `${totals}
</body>
</html>
`
  } finally {
    // However the document ends (the client gone after the first piece, say), no page is read after it.
    await pieces.return(undefined)
  }
}
