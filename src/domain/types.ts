import type { Decimal } from './money.js'

/** 分成口径: share what exceeds the base (增量) or the whole amount (全额). §2 */
export type Basis = 'increment' | 'total'
/** 短收处理: the district bears it, the zone bears its share, or it is carried forward. §5 */
export type ShortfallPolicy = 'none' | 'deduct' | 'carry_forward'
/** 基数口径: fixed, escalating by a growth rate, or last year's actual. §4 */
export type BaseMode = 'fixed' | 'escalating' | 'prior_year'

export const BASES: readonly Basis[] = ['increment', 'total']
export const SHORTFALL_POLICIES: readonly ShortfallPolicy[] = ['none', 'deduct', 'carry_forward']
export const BASE_MODES: readonly BaseMode[] = ['fixed', 'escalating', 'prior_year']

/** 基数调整 (财随事走): a signed amount from a fiscal year on. §4 */
export interface BaseAdjustment {
  fromYear: number
  amount: Decimal
  reason?: string
  documentNo?: string
}

/** The rule that gives the verified base (核定基数) for any year. §4 */
export interface BaseRule {
  /** 核定基数 for baseYear; unused by prior_year. */
  amount?: Decimal
  baseYear: number
  mode: BaseMode
  growthRate?: Decimal
  adjustments: readonly BaseAdjustment[]
  /** A(Y−1) of the same group, for mode prior_year. */
  priorYearActual?: Decimal
}

/** The base is either already known for the year, or a rule evaluated for it. */
export type BaseInput =
  | { kind: 'amount', amount: Decimal }
  | { kind: 'rule', rule: BaseRule }

/** A marginal band (分档): growth up to upToGrowth × base is shared at rate. §2 */
export interface RateBand {
  upToGrowth?: Decimal
  rate: Decimal
}

export interface GroupInput {
  name: string
  basis: Basis
  base?: BaseInput
  /** 实际收入 A(Y): local-level revenue of the group's categories. */
  actual: Decimal
  rates: readonly RateBand[]
  shortfall: ShortfallPolicy
  /** C_in: 结转短收 carried in from Y−1 (carry_forward only). */
  carriedShortfall: Decimal
}

export interface AgreementYearInput {
  fiscalYear: number
  /** 分成比例下限: the floor in force for this computation (≥ the deployment floor). */
  minimumRate: Decimal
  groups: readonly GroupInput[]
  /** 预拨: advances already paid to the zone for the year. */
  advancesPaid: Decimal
}

/** How the base for the year was found, for the explanation. */
export interface BaseDerivation {
  mode: BaseMode | 'given'
  baseYear?: number
  amount?: Decimal
  growthRate?: Decimal
  years?: number
  /** amount × (1 + growthRate)^years, exact. */
  exactEscalated?: Decimal
  /** The escalated base before adjustments, rounded once. */
  escalated?: Decimal
  priorYearActual?: Decimal
  adjustments: readonly BaseAdjustment[]
  base: Decimal
}

export interface BandResult {
  rate: Decimal
  /** Band ceiling in yuan (L_k), absent for the last band and for shortfall entries. */
  limit?: Decimal
  upToGrowth?: Decimal
  /** The part of the shareable amount that falls in this band, as printed (to the cent). */
  amount: Decimal
  /** The exact portion the share is computed from (equals amount unless a limit has fractions of a cent). */
  portion: Decimal
  /** rate × exact portion, before rounding (shown in the explanation when it has fractions of a cent). */
  exactShare: Decimal
  /** round(rate × exact portion), §5 step 4. */
  zoneShare: Decimal
}

export interface GroupResult {
  name: string
  basis: Basis
  shortfall: ShortfallPolicy
  base?: Decimal
  baseDerivation?: BaseDerivation
  actual: Decimal
  increment?: Decimal
  carriedShortfallIn?: Decimal
  shareable?: Decimal
  bands: BandResult[]
  zoneShare: Decimal
  districtShare: Decimal
  carriedShortfallOut?: Decimal
}

export interface AgreementYearResult {
  fiscalYear: number
  minimumRate: Decimal
  revenueTotal: Decimal
  zoneShare: Decimal
  districtShare: Decimal
  advancesPaid: Decimal
  balanceDue: Decimal
  groups: GroupResult[]
}
