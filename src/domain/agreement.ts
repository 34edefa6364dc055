import { parseRateBands, type RateBandJson } from './calculation-request.js'
import { baseForYear } from './engine.js'
import { IssueCollector } from './errors.js'
import { type Decimal, money } from './money.js'
import type { BaseAdjustment, BaseDerivation, BaseMode, Basis, RateBand, ShortfallPolicy } from './types.js'

/*
 * The agreement (分成办法) of calculation-rules.md §2, checked on the way in: the floor (§3),
 * bands strictly increasing, a category in at most one group, baseYear < effectiveFrom.
 * Overlapping years of one zone–district pair and unknown codes need the database: the
 * repository checks those.
 */

export interface AgreementGroupJson {
  name: string
  basis: Basis
  categories: readonly string[]
  base?: { amount?: string, mode: BaseMode, growthRate?: string }
  rates: readonly RateBandJson[]
  shortfall?: ShortfallPolicy
}

export interface AgreementJson {
  zoneCode: string
  districtCode: string
  documentNo: string
  effectiveFrom: number
  effectiveTo?: number
  baseYear: number
  groups: readonly AgreementGroupJson[]
}

export interface AgreementGroupTerms {
  name: string
  basis: Basis
  categories: string[]
  /** Increment groups only. */
  base?: { amount?: Decimal, mode: BaseMode, growthRate?: Decimal }
  rates: RateBand[]
  shortfall: ShortfallPolicy
}

export interface AgreementTerms {
  zoneCode: string
  districtCode: string
  documentNo: string
  effectiveFrom: number
  effectiveTo: number | null
  baseYear: number
  groups: AgreementGroupTerms[]
}

export function parseAgreement (json: AgreementJson, floor: Decimal): AgreementTerms {
  const issues = new IssueCollector()
  if (json.baseYear >= json.effectiveFrom) {
    issues.ruleAt('/baseYear', `baseYear ${json.baseYear} must be before effectiveFrom ${json.effectiveFrom} (calculation-rules.md §2)`)
  }
  if (json.effectiveTo !== undefined && json.effectiveTo < json.effectiveFrom) {
    issues.ruleAt('/effectiveTo', `effectiveTo ${json.effectiveTo} is before effectiveFrom ${json.effectiveFrom}`)
  }
  const names = new Map<string, number>()
  const categoryOwner = new Map<string, number>()
  const groups = json.groups.map((group, i): AgreementGroupTerms => {
    const at = `/groups/${i}`
    const earlier = names.get(group.name)
    if (earlier !== undefined) issues.ruleAt(`${at}/name`, `group name "${group.name}" is already used by /groups/${earlier}`)
    else names.set(group.name, i)
    group.categories.forEach((code, j) => {
      const owner = categoryOwner.get(code)
      if (owner !== undefined) {
        issues.ruleAt(`${at}/categories/${j}`, `category ${code} is already in group /groups/${owner}: a category belongs to at most one group (calculation-rules.md §2)`)
      } else {
        categoryOwner.set(code, i)
      }
    })
    const shortfall = group.shortfall ?? 'none'
    let base: AgreementGroupTerms['base']
    if (group.basis === 'increment') {
      if (group.base === undefined) {
        issues.malformedAt(`${at}/base`, 'base is required for basis increment')
      } else {
        const { mode } = group.base
        if (mode !== 'prior_year' && group.base.amount === undefined) issues.malformedAt(`${at}/base/amount`, `the verified base amount is required for mode ${mode}`)
        if (mode === 'escalating' && group.base.growthRate === undefined) issues.malformedAt(`${at}/base/growthRate`, 'growthRate is required for mode escalating')
        if (mode !== 'escalating' && group.base.growthRate !== undefined) issues.malformedAt(`${at}/base/growthRate`, `growthRate applies to mode escalating only, not ${mode}`)
        if (group.base.growthRate !== undefined && !money(group.base.growthRate).greaterThan(-1)) issues.ruleAt(`${at}/base/growthRate`, 'growthRate must be greater than −1')
        base = {
          mode,
          ...(group.base.amount === undefined ? {} : { amount: money(group.base.amount) }),
          ...(group.base.growthRate === undefined ? {} : { growthRate: money(group.base.growthRate) }),
        }
      }
    } else {
      if (group.base !== undefined) issues.malformedAt(`${at}/base`, 'base is forbidden for basis total')
      if (shortfall !== 'none') issues.malformedAt(`${at}/shortfall`, 'a shortfall policy applies to basis increment only')
    }
    return {
      name: group.name,
      basis: group.basis,
      categories: [...group.categories],
      ...(base === undefined ? {} : { base }),
      rates: parseRateBands(issues, `${at}/rates`, group.rates, group.basis, floor),
      shortfall,
    }
  })
  issues.throwIfAny()
  return {
    zoneCode: json.zoneCode,
    districtCode: json.districtCode,
    documentNo: json.documentNo,
    effectiveFrom: json.effectiveFrom,
    effectiveTo: json.effectiveTo ?? null,
    baseYear: json.baseYear,
    groups,
  }
}

/** Whether the agreement is in force in fiscal year Y. */
export function inForce (terms: { effectiveFrom: number, effectiveTo: number | null }, year: number): boolean {
  return year >= terms.effectiveFrom && (terms.effectiveTo === null || year <= terms.effectiveTo)
}

/**
 * B(Y) of an increment group under its agreement (calculation-rules.md §4), with the
 * adjustments recorded for it. `priorYearActual` is A(Y−1) for mode prior_year; undefined
 * there means no revenue was recorded for Y−1, and the base cannot be computed.
 */
export function groupBaseForYear (
  group: AgreementGroupTerms, baseYear: number, adjustments: readonly BaseAdjustment[], year: number, priorYearActual?: Decimal,
): BaseDerivation | undefined {
  if (group.base === undefined) return undefined
  if (group.base.mode === 'prior_year' && priorYearActual === undefined) return undefined
  return baseForYear({
    kind: 'rule',
    rule: {
      baseYear,
      mode: group.base.mode,
      adjustments,
      ...(group.base.amount === undefined ? {} : { amount: group.base.amount }),
      ...(group.base.growthRate === undefined ? {} : { growthRate: group.base.growthRate }),
      ...(priorYearActual === undefined ? {} : { priorYearActual }),
    },
  }, year)
}
