import { type Decimal, formatMoney, money, sum, ZERO } from './money.js'
import { type CitedTransfer, transfersCitation } from './explanation.js'
import type { BandJson } from './presentation.js'
import { DECISION_TITLES, latestReviews, type Review, UNREVIEWED } from './review.js'
import { ALL, type Scope } from './principal.js'

/*
 * Figures of a settlement run beyond its lines (calculation-rules.md §6): the run's totals and
 * the settlement statement (结算单). Every total is the sum of the printed figures above it, so
 * a statement adds up to the cent however it is read.
 */

/** 年度结算 (the year's first) or 补充结算 (after the year was finalized). */
export type SettlementKind = 'annual' | 'supplementary'
export const SETTLEMENT_KINDS: readonly SettlementKind[] = ['annual', 'supplementary']

/** A run is a draft until it is finalized (定稿); a finalized run never changes. */
export type RunStatus = 'draft' | 'finalized'
export const RUN_STATUSES: readonly RunStatus[] = ['draft', 'finalized']

export interface LineFigures {
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  adjustment: string | null
  balanceAdjustment: string | null
}

export interface RunTotals {
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  adjustment: string
  balanceAdjustment: string
}

const FIGURES = ['revenueTotal', 'zoneShare', 'districtShare', 'advancesPaid', 'balanceDue', 'adjustment', 'balanceAdjustment'] as const

/**
 * A run's totals summed as its lines come, a chunk or a page at a time, each figure read once: the
 * totals, and the sums of the figures without their signs (the bound runMagnitudeIssue checks).
 * Sums are exact, so lines added in pieces give what one sum would.
 */
export function runSums () {
  const signed = FIGURES.map(() => ZERO)
  const unsignedSums = FIGURES.map(() => ZERO)
  const formatted = (sums: readonly Decimal[]): RunTotals => Object.fromEntries(FIGURES.map((k, i) => [k, formatMoney(sums[i] ?? ZERO)])) as unknown as RunTotals
  return {
    add (lines: readonly LineFigures[]): void {
      for (const l of lines) {
        FIGURES.forEach((k, i) => {
          const figure = l[k]
          if (figure === null) return
          const value = money(figure)
          signed[i] = (signed[i] ?? ZERO).plus(value)
          unsignedSums[i] = (unsignedSums[i] ?? ZERO).plus(value.abs())
        })
      }
    },
    totals: () => formatted(signed),
    unsigned: () => formatted(unsignedSums),
  }
}

/** The totals of lines' printed figures (a null adjustment counts as 0.00). */
export function runTotals (lines: readonly LineFigures[]): RunTotals {
  const sums = runSums()
  sums.add(lines)
  return sums.totals()
}

/** A settled group's printed figures (null where basis total has none). */
export interface SettledGroupFigures {
  name: string
  basis: 'increment' | 'total'
  base: string | null
  actual: string
  increment: string | null
  carriedShortfallIn: string | null
  shareable: string | null
  zoneShare: string
  districtShare: string
  carriedShortfallOut: string | null
}

export interface StatementLine extends LineFigures {
  agreementId: number
  zoneCode: string
  zoneName: string
  districtCode: string
  districtName: string
  documentNo: string
  kind: SettlementKind
  /** The run of the finalized line a supplementary line follows. */
  follows: number | null
  previousZoneShare: string | null
  /**
   * Each group, with its printed bands, the shortfall written off (核销) in the agreement's last year when no next version
   * carries it (§6), and the responsibility transfers (事权划转) behind its base (§4).
   */
  groups: ReadonlyArray<SettledGroupFigures & {
    bands: readonly BandJson[], writtenOff?: string | undefined, transfers?: readonly CitedTransfer[] | undefined
    /** The next version of the agreement that carries the group's shortfall in (§6): the printed statement says where it went. */
    carriedToAgreementId?: number | undefined
  }>
  /** Every decision of the district and the zone on the line, oldest first (审核确认). */
  reviewHistory: readonly Review[]
  /** The floor the line was settled under (分成比例下限): its run's, or for a supplementary line that of its year's first settlement. */
  run: { minimumRate: string }
}

/** The statement's columns, Chinese title first. Money columns hold yuan to the cent. */
export const STATEMENT_COLUMNS = [
  { key: 'row', title: '行类型 row', money: false },
  { key: 'zoneCode', title: '功能区代码 zone', money: false },
  { key: 'zoneName', title: '功能区 zone name', money: false },
  { key: 'districtCode', title: '属地政府代码 district', money: false },
  { key: 'districtName', title: '属地政府 district name', money: false },
  { key: 'documentNo', title: '分成办法文号 agreement', money: false },
  { key: 'group', title: '口径组 group', money: false },
  { key: 'basis', title: '分成口径 basis', money: false },
  { key: 'base', title: '核定基数 base', money: true },
  { key: 'actual', title: '实际收入 actual revenue', money: true },
  { key: 'increment', title: '增量 increment', money: true },
  { key: 'carriedShortfallIn', title: '上年结转短收 shortfall carried in', money: true },
  { key: 'shareable', title: '可分成增量 shareable', money: true },
  { key: 'zoneShare', title: '功能区分成 zone share', money: true },
  { key: 'districtShare', title: '属地政府留成 district share', money: true },
  { key: 'carriedShortfallOut', title: '结转下年短收 shortfall carried out', money: true },
  { key: 'writtenOff', title: '核销短收 shortfall written off', money: true },
  { key: 'advancesPaid', title: '已预拨 advances paid', money: true },
  { key: 'balanceDue', title: '应补(扣) balance due', money: true },
  { key: 'previousZoneShare', title: '原结算功能区分成 previously settled zone share', money: true },
  { key: 'adjustment', title: '补充结算调整 supplementary adjustment', money: true },
  { key: 'balanceAdjustment', title: '补充结算应补(扣)调整 supplementary balance adjustment', money: true },
  { key: 'transfers', title: '事权划转 responsibility transfers behind the base', money: false },
  { key: 'districtReview', title: '区财政局审核 district review', money: false },
  { key: 'zoneReview', title: '功能区管委会审核 zone review', money: false },
] as const

export type StatementColumn = typeof STATEMENT_COLUMNS[number]['key']
export type StatementRow = Partial<Record<StatementColumn, string>>

/**
 * The statement's rows are one row per agreement and group, a subtotal row per agreement (小计)
 * and a total row (合计): every subtotal is the sum of its group rows and the total the sum of the
 * subtotals. A line's rows: one per group, then the line's subtotal with its review record.
 */
export function statementLineRows (line: StatementLine): StatementRow[] {
  const rows: StatementRow[] = []
  // Optional cells are assigned, not spread into the literal (V8 builds those property by property;
  // a national statement has 75,000 rows).
  for (const g of line.groups) {
    const row: StatementRow = {
      row: '口径组 group', zoneCode: line.zoneCode, zoneName: line.zoneName, districtCode: line.districtCode, districtName: line.districtName,
      documentNo: line.documentNo, group: g.name, basis: g.basis === 'increment' ? '增量 increment' : '全额 total',
      actual: g.actual, zoneShare: g.zoneShare, districtShare: g.districtShare,
    }
    if (g.base !== null) row.base = g.base
    if (g.increment !== null) row.increment = g.increment
    if (g.carriedShortfallIn !== null) row.carriedShortfallIn = g.carriedShortfallIn
    if (g.shareable !== null) row.shareable = g.shareable
    if (g.carriedShortfallOut !== null) row.carriedShortfallOut = g.carriedShortfallOut
    if (g.writtenOff !== undefined) row.writtenOff = g.writtenOff
    if (g.transfers !== undefined && g.transfers.length > 0) row.transfers = transfersCitation(g.transfers)
    rows.push(row)
  }
  const groupSum = (pick: (g: StatementLine['groups'][number]) => string) => formatMoney(sum(line.groups.map((g) => money(pick(g)))))
  const reviews = latestReviews(line.reviewHistory)
  const subtotal: StatementRow = {
    row: line.kind === 'annual' ? '小计 subtotal' : '小计(补充结算) subtotal (supplementary)',
    zoneCode: line.zoneCode, zoneName: line.zoneName, districtCode: line.districtCode, districtName: line.districtName, documentNo: line.documentNo,
    actual: groupSum((g) => g.actual), zoneShare: groupSum((g) => g.zoneShare), districtShare: groupSum((g) => g.districtShare),
    advancesPaid: line.advancesPaid, balanceDue: line.balanceDue,
    districtReview: reviewText(reviews.district), zoneReview: reviewText(reviews.zone),
  }
  if (line.previousZoneShare !== null) subtotal.previousZoneShare = line.previousZoneShare
  if (line.adjustment !== null) subtotal.adjustment = line.adjustment
  if (line.balanceAdjustment !== null) subtotal.balanceAdjustment = line.balanceAdjustment
  rows.push(subtotal)
  return rows
}

/**
 * The sum of the previously settled zone shares (原结算功能区分成) of a statement's supplementary
 * lines, added a page of lines at a time: the 合计 of the column their 小计 rows fill.
 */
export function previousZoneShareSum () {
  let total = ZERO
  return {
    add (lines: ReadonlyArray<Pick<StatementLine, 'previousZoneShare'>>): void {
      for (const l of lines) if (l.previousZoneShare !== null) total = total.plus(money(l.previousZoneShare))
    },
    total: () => formatMoney(total),
  }
}

/**
 * The statement's last row: the run's totals (runTotals), each the sum of the lines' printed figures.
 * The columns of supplementary lines (the zone share previously settled, the adjustments) are summed
 * only on a statement that prints one: where every 小计 leaves them blank, so does the 合计.
 */
export function statementTotalRow (totals: RunTotals, printsSupplementary: boolean, previousZoneShare: string): StatementRow {
  const row: StatementRow = {
    row: '合计 total', actual: totals.revenueTotal, zoneShare: totals.zoneShare, districtShare: totals.districtShare,
    advancesPaid: totals.advancesPaid, balanceDue: totals.balanceDue,
  }
  if (printsSupplementary) {
    row.previousZoneShare = previousZoneShare
    row.adjustment = totals.adjustment
    row.balanceAdjustment = totals.balanceAdjustment
  }
  return row
}

/** An instant as a statement prints it: Beijing time (UTC+8, no daylight saving), to the minute. */
export function beijingTime (iso: string): string {
  const shifted = new Date(new Date(iso).getTime() + 8 * 3600_000).toISOString()
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 16)}`
}

/** When a run was finalized, as every statement format prints it: Beijing time, so marked; empty when unknown. */
export function finalizedText (finalizedAt: string | null): string {
  return finalizedAt === null ? '' : `${beijingTime(finalizedAt)} 北京时间`
}

/** Who recorded a decision: the key's label (or id), and whether the city recorded it on the party's behalf. */
export function reviewerText (review: Review): string {
  const who = review.byLabel ?? review.by
  return review.byRole === 'admin' ? `市财政局代为登记（${who}）` : who
}

/** A party's decision in force, in one cell: 确认 / 有异议 with who, when (北京时间) and the note; 未确认 when none. */
export function reviewText (review: Review | null): string {
  if (review === null) return `${UNREVIEWED} unreviewed`
  const note = review.note === null ? '' : ` · ${review.note}`
  return `${DECISION_TITLES[review.decision]} ${review.decision} · ${reviewerText(review)} · ${beijingTime(review.at)} 北京时间${note}`
}

/** What a statement's title says of its run. */
export interface StatementRun {
  id: number
  fiscalYear: number
  status: RunStatus
  finalizedAt: string | null
  digest: string | null
  overrideReason: string | null
}

/**
 * The first line of a CSV or xlsx statement: the year, the run (含补充结算 when a line it prints is
 * supplementary), its status (when finalized, in Beijing time as the page and the review cells print
 * it), its digest and the override reason if any.
 */
export function statementTitle (run: StatementRun, printsSupplementary: boolean, scope: Scope = ALL): string {
  const kind = printsSupplementary ? '（含补充结算）' : ''
  const status = run.status === 'finalized' ? `定稿 finalized ${finalizedText(run.finalizedAt)}` : '草稿 draft'
  const digest = run.digest === null ? '' : ` — 校验码 SHA-256 digest ${run.digest}`
  const override = run.overrideReason === null ? '' : ` — 强制定稿理由 override: ${run.overrideReason}`
  return `${run.fiscalYear}年度${kind}结算单 settlement statement — run ${run.id}, ${status}${digest}${override}${scopeNote(scope)}`
}

/**
 * What a statement printed for a district's or a zone's key holds: its lines, and a 合计 of them
 * alone, not the run's (the printed totals page says so; the CSV and xlsx did not, found by review).
 */
function scopeNote (scope: Scope): string {
  const held = scopeHeld(scope)
  return held === undefined ? '' : ` — 仅含${held.title} ${held.code} 的分成办法，合计不是本结算批次的全部 the lines of ${held.kind} ${held.code} only, not the whole run`
}

/** Whose lines a statement printed for a district's or a zone's key holds, in the words each format prints; undefined for an admin's (the whole run). */
export function scopeHeld (scope: Scope): { title: '属地政府' | '功能区', kind: 'district' | 'zone', code: string } | undefined {
  if (scope.kind === 'all') return undefined
  return scope.kind === 'district' ? { title: '属地政府', kind: 'district', code: scope.districtCode } : { title: '功能区', kind: 'zone', code: scope.zoneCode }
}
