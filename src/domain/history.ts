import { groupedBy } from './grouping.js'
import { formatMoney, money, sum } from './money.js'
import type { LineFigures, SettlementKind } from './settlement.js'

/*
 * An agreement's history (api-contract.md, Scenarios: GET /v1/agreements/{id}/history): every
 * settled year, told by the last finalized line of the year's chain (calculation-rules.md §9: the
 * annual line, then each supplementary line following the one before). Every figure is a stored
 * figure of that line, or a sum of its stored group figures; nothing is recomputed.
 */

/** A finalized line as stored, with its groups' stored base and increment (null for basis total). */
export interface FinalizedLine extends LineFigures {
  runId: number
  fiscalYear: number
  kind: SettlementKind
  /** The run of the finalized line it follows (supplementary lines). */
  follows: number | null
  groups: ReadonlyArray<{ base: string | null, increment: string | null }>
}

/** A supplementary settlement (补充结算) of the year, in the order of the chain. */
export interface SupplementaryAdjustment {
  runId: number
  zoneShare: string
  adjustment: string
  balanceAdjustment: string
}

/** A settled year: the figures of the chain's last line, the annual zone share and the supplementary adjustments. */
export interface HistoryYear {
  fiscalYear: number
  /** The run of the line whose figures these are (the chain's last). */
  runId: number
  kind: SettlementKind
  revenueTotal: string
  /** 核定基数 Σ the bases of the increment groups; null when the agreement has none. */
  base: string | null
  /** 增量 Σ the increments of the increment groups; null when the agreement has none. */
  increment: string | null
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  /** The zone share of the annual settlement (the chain's first line). */
  annualZoneShare: string
  /** Σ the supplementary adjustments: the last zone share minus the first (§9). */
  adjustmentTotal: string
  supplementary: SupplementaryAdjustment[]
}

function sumOrNull (values: ReadonlyArray<string | null>): string | null {
  const present = values.filter((v): v is string => v !== null)
  return present.length === 0 ? null : formatMoney(sum(present.map(money)))
}

/**
 * The chain of each year, from the agreement's finalized lines (any order): the line that follows
 * no line of the year, then its successors. One row per year, by year.
 */
export function agreementHistory (lines: readonly FinalizedLine[]): HistoryYear[] {
  const years = groupedBy(lines, (line) => line.fiscalYear, (line) => line)
  return [...years.entries()].sort(([a], [b]) => a - b).map(([fiscalYear, ofYear]) => {
    const runs = new Set(ofYear.map((l) => l.runId))
    const successor = new Map(ofYear.filter((l) => l.follows !== null && runs.has(l.follows)).map((l) => [l.follows, l]))
    const first = ofYear.find((l) => l.follows === null || !runs.has(l.follows)) ?? ofYear[0]
    if (first === undefined) throw new Error(`history: year ${fiscalYear} has no line`)
    const chain = [first]
    for (let next = successor.get(first.runId); next !== undefined && !chain.includes(next); next = successor.get(next.runId)) chain.push(next)
    const last = chain[chain.length - 1] ?? first
    return {
      fiscalYear,
      runId: last.runId,
      kind: last.kind,
      revenueTotal: last.revenueTotal,
      base: sumOrNull(last.groups.map((g) => g.base)),
      increment: sumOrNull(last.groups.map((g) => g.increment)),
      zoneShare: last.zoneShare,
      districtShare: last.districtShare,
      advancesPaid: last.advancesPaid,
      balanceDue: last.balanceDue,
      annualZoneShare: first.zoneShare,
      adjustmentTotal: formatMoney(sum(chain.slice(1).map((l) => money(l.adjustment ?? '0')))),
      supplementary: chain.slice(1).map((l) => ({
        runId: l.runId, zoneShare: l.zoneShare, adjustment: l.adjustment ?? '0.00', balanceAdjustment: l.balanceAdjustment ?? '0.00',
      })),
    }
  })
}

/** The history as a table (csv, xlsx): one row per year; the supplementary runs named in one cell. */
export const HISTORY_COLUMNS = [
  { key: 'fiscalYear', title: '年度 fiscal year', money: false, count: true },
  { key: 'runId', title: '结算批次 run', money: false, count: true },
  { key: 'kind', title: '结算类型 kind', money: false },
  { key: 'revenueTotal', title: '收入 revenue', money: true },
  { key: 'base', title: '核定基数 base', money: true },
  { key: 'increment', title: '增量 increment', money: true },
  { key: 'annualZoneShare', title: '年度结算功能区分成 annual zone share', money: true },
  { key: 'adjustmentTotal', title: '补充结算调整合计 supplementary adjustments', money: true },
  { key: 'zoneShare', title: '功能区分成 zone share', money: true },
  { key: 'districtShare', title: '属地政府留成 district share', money: true },
  { key: 'advancesPaid', title: '已预拨 advances paid', money: true },
  { key: 'balanceDue', title: '应补(扣) balance due', money: true },
  { key: 'supplementary', title: '补充结算 supplementary settlements', money: false },
] as const

export type HistoryRow = Partial<Record<typeof HISTORY_COLUMNS[number]['key'], string>>

const KIND_TITLES: Record<SettlementKind, string> = { annual: '年度结算 annual', supplementary: '补充结算 supplementary' }

export function historyRows (years: readonly HistoryYear[]): HistoryRow[] {
  return years.map((y) => ({
    fiscalYear: String(y.fiscalYear),
    runId: String(y.runId),
    kind: KIND_TITLES[y.kind],
    revenueTotal: y.revenueTotal,
    base: y.base ?? undefined,
    increment: y.increment ?? undefined,
    annualZoneShare: y.annualZoneShare,
    adjustmentTotal: y.adjustmentTotal,
    zoneShare: y.zoneShare,
    districtShare: y.districtShare,
    advancesPaid: y.advancesPaid,
    balanceDue: y.balanceDue,
    supplementary: y.supplementary.map((s) => `run ${s.runId}: ${s.adjustment} (应补(扣) ${s.balanceAdjustment})`).join('; '),
  }))
}
