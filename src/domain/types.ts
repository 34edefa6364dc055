import type { Decimal } from './money.js'

/** 分成口径: share what exceeds the base (增量) or the whole amount (全额). §2 */
export type Basis = 'increment' | 'total'
/** 短收处理: the district bears it, the zone bears its share, or it is carried forward. §5 */
export type ShortfallPolicy = 'none' | 'deduct' | 'carry_forward'
/** 基数口径: fixed, escalating by a growth rate, or last year's actual. §4 */
export type BaseMode = 'fixed' | 'escalating' | 'prior_year'

/** 划转方向: a function moved to the district (which now pays for it) or to the zone. §4 */
export type TransferDirection = 'to_district' | 'to_zone'
/** 经费核定方式: a fixed amount, headcount × unit cost, or an amount indexed by a growth rate. §4 */
export type FundingMethod = 'fixed' | 'headcount' | 'indexed'

export const BASES: readonly Basis[] = ['increment', 'total']
export const SHORTFALL_POLICIES: readonly ShortfallPolicy[] = ['none', 'deduct', 'carry_forward']
export const BASE_MODES: readonly BaseMode[] = ['fixed', 'escalating', 'prior_year']
export const TRANSFER_DIRECTIONS: readonly TransferDirection[] = ['to_district', 'to_zone']
export const FUNDING_METHODS: readonly FundingMethod[] = ['fixed', 'headcount', 'indexed']

/** 基数调整 (财随事走): a signed amount from a fiscal year on. §4 */
export interface BaseAdjustment {
  fromYear: number
  amount: Decimal
  reason?: string
  documentNo?: string
}

/** 划转经费: what follows the function each year it is in force. §4 */
export type TransferFunding =
  /** F(Y) = amount. */
  | { method: 'fixed', amount: Decimal }
  /** F(Y) = round(headcount × unitCost): 编制人数 × 人均经费. */
  | { method: 'headcount', headcount: number, unitCost: Decimal }
  /** F(Y) = round(amount × (1 + growthRate)^(Y − fromYear)). */
  | { method: 'indexed', amount: Decimal, growthRate: Decimal }

/**
 * 事权划转 (财随事走): a function moved between zone and district, with the funding that follows it.
 * For every year fromYear..toYear (open-ended when toYear is absent) it moves the group's base by
 * F(Y): up when the function goes to the district, down when it goes to the zone. §4
 */
export interface ResponsibilityTransfer {
  /** 划转事项 the function moved, e.g. 教育. */
  function: string
  direction: TransferDirection
  fromYear: number
  toYear?: number
  documentNo: string
  funding: TransferFunding
}

/** The rule that gives the verified base (核定基数) for any year. §4 */
export interface BaseRule {
  /** 核定基数 for baseYear; unused by prior_year. */
  amount?: Decimal
  baseYear: number
  mode: BaseMode
  growthRate?: Decimal
  adjustments: readonly BaseAdjustment[]
  /** 事权划转: absent or empty when none. */
  transfers?: readonly ResponsibilityTransfer[]
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

/** 分段期限: one period of a rate schedule, from fromYear until the next period starts. §2 */
export interface RatePeriod {
  fromYear: number
  rates: readonly RateBand[]
}

/**
 * A group's bands: one set for every year (`rates`), or a rate schedule (分段期限) whose year Y
 * uses the bands of the last period with fromYear ≤ Y (`schedule`). §2
 */
export type GroupRates =
  | { rates: readonly RateBand[], schedule?: never }
  | { schedule: readonly RatePeriod[], rates?: never }

interface GroupInputCommon {
  name: string
  basis: Basis
  base?: BaseInput
  /** 实际收入 A(Y): local-level revenue of the group's categories. */
  actual: Decimal
  shortfall: ShortfallPolicy
  /** C_in: 结转短收 carried in from Y−1 (carry_forward only). */
  carriedShortfall: Decimal
}

export type GroupInput = GroupInputCommon & GroupRates
/** A group with one set of bands for every year. */
export type BandsGroupInput = GroupInputCommon & { rates: readonly RateBand[], schedule?: never }

export interface AgreementYearInput {
  fiscalYear: number
  /** 分成比例下限: the floor in force for this computation (≥ the deployment floor). */
  minimumRate: Decimal
  groups: readonly GroupInput[]
  /** 预拨: advances already paid to the zone for the year. */
  advancesPaid: Decimal
}

/**
 * A discriminated union whose variants are closed against one another's fields: code that holds
 * the union (a property test over any group, say) may read a field only some variants have and
 * gets `Decimal | undefined`, the other variants never holding it; narrowing on the discriminant
 * gives the field as required. Each variant's own interface lists exactly its fields.
 */
type Exclusive<U, K extends PropertyKey = U extends unknown ? keyof U : never> =
  U extends unknown ? U & { [P in Exclude<K, keyof U>]?: never } : never

/** A responsibility transfer in force in year Y, with F(Y) and what it does to the base. §4 */
export interface TransferInYear extends ResponsibilityTransfer {
  /** Y. */
  fiscalYear: number
  /** F(Y) before rounding (indexed: amount × (1 + growthRate)^years; headcount: headcount × unitCost). */
  exactFunding: Decimal
  /** F(Y), rounded once. */
  fundingForYear: Decimal
  /** +F(Y) when the function went to the district, −F(Y) when it went to the zone. */
  baseMove: Decimal
}

interface BaseDerivationCommon {
  /** The adjustments (基数调整) that apply to the year. */
  adjustments: readonly BaseAdjustment[]
  /** The responsibility transfers (事权划转) in force in the year; absent when none is. */
  transfers?: readonly TransferInYear[]
  /** B(Y). */
  base: Decimal
}

/** The base was given for the year (a calculation request's amount): nothing to derive. */
export interface GivenBaseDerivation extends BaseDerivationCommon {
  mode: 'given'
}

/** 固定基数: B(Y) = amount + Σ adjustments with fromYear ≤ Y. §4 */
export interface FixedBaseDerivation extends BaseDerivationCommon {
  mode: 'fixed'
  baseYear: number
  /** 核定基数 for baseYear. */
  amount: Decimal
}

/** 递增基数: B(Y) = round(amount × (1 + growthRate)^(Y − baseYear)) + Σ adjustments with fromYear ≤ Y. §4 */
export interface EscalatingBaseDerivation extends BaseDerivationCommon {
  mode: 'escalating'
  baseYear: number
  /** 核定基数 for baseYear. */
  amount: Decimal
  growthRate: Decimal
  /** Y − baseYear. */
  years: number
  /** amount × (1 + growthRate)^years, exact. */
  exactEscalated: Decimal
  /** The escalated base before adjustments, rounded once. */
  escalated: Decimal
}

/** 上年实际: B(Y) = A(Y−1) + Σ adjustments with fromYear = Y. §4 */
export interface PriorYearBaseDerivation extends BaseDerivationCommon {
  mode: 'prior_year'
  baseYear: number
  /** A(Y−1) of the same group. */
  priorYearActual: Decimal
}

/** How the base for the year was found, for the explanation: one variant per `mode`. */
export type BaseDerivation = Exclusive<GivenBaseDerivation | FixedBaseDerivation | EscalatingBaseDerivation | PriorYearBaseDerivation>

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

/** The period of a rate schedule (分段期限) that gives year Y its bands. §2 */
export interface PeriodInYear {
  fromYear: number
  /** The year before the next period starts; null for the last period. */
  toYear: number | null
  /** 1 for the first period. */
  number: number
  /** How many periods the schedule has. */
  of: number
}

interface GroupResultCommon {
  name: string
  shortfall: ShortfallPolicy
  /** The schedule period whose bands the year used; absent when the group has one set of bands. */
  period?: PeriodInYear
  /** 实际收入 A(Y). */
  actual: Decimal
  bands: BandResult[]
  /** Z, 功能区分成. */
  zoneShare: Decimal
  /** D = A − Z, 属地政府留成. */
  districtShare: Decimal
}

/** 全额分成: the whole amount is shared, Z = round(rate × A); no base, no increment, no shortfall. §5 */
export interface TotalGroupResult extends GroupResultCommon {
  basis: 'total'
  /** The one band of basis total (§2): the whole of A at the group's rate. */
  bands: [BandResult]
}

/** 增量分成: what exceeds the base is shared, band by band; a shortfall is treated by the group's policy. §4–§5 */
export interface IncrementGroupResult extends GroupResultCommon {
  basis: 'increment'
  /** B(Y), 核定基数 for the year. */
  base: Decimal
  baseDerivation: BaseDerivation
  /** I = A − B, 增量 (may be negative). */
  increment: Decimal
  /** C_in, 上年结转短收 (zero unless carry_forward). */
  carriedShortfallIn: Decimal
  /** S = I − C_in, 可分成增量. */
  shareable: Decimal
  /** C_out, 结转下年短收 (zero unless carry_forward and S < 0). */
  carriedShortfallOut: Decimal
}

/** One group's result for the year, by `basis`. */
export type GroupResult = Exclusive<TotalGroupResult | IncrementGroupResult>

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
