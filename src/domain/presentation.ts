import { type Language, explainGroup } from './explanation.js'
import type { LineShortfallDisposition } from './ledger.js'
import { formatMoney, formatRate } from './money.js'
import type { AgreementYearResult, GroupResult, PeriodInYear } from './types.js'

/*
 * The printed form of the engine's results (api-contract.md, the calculation response):
 * every amount a string with exactly two decimals, rates with at least two.
 * Settlement lines and statements print through these same functions.
 */

export interface BandJson {
  rate: string
  amount: string
  zoneShare: string
}

export interface GroupResultJson {
  name: string
  basis: 'increment' | 'total'
  base?: string
  actual: string
  increment?: string
  carriedShortfallIn?: string
  shareable?: string
  bands: BandJson[]
  zoneShare: string
  districtShare: string
  carriedShortfallOut?: string
  /** The schedule period (分段期限) whose bands the year used. */
  period?: PeriodInYear
  explanation: string[]
}

export interface AgreementYearResultJson {
  fiscalYear: number
  minimumRate: string
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  groups: GroupResultJson[]
}

/**
 * A group's printed figures without the explanation (what a settlement line stores). Built as
 * literals without spreads in their middle, which V8 builds property by property: this runs for
 * every group of every calculation and settlement line.
 */
export function presentGroupFigures (g: GroupResult): Omit<GroupResultJson, 'explanation'> {
  const bands = g.bands.map((b) => ({ rate: formatRate(b.rate), amount: formatMoney(b.amount), zoneShare: formatMoney(b.zoneShare) }))
  const figures: Omit<GroupResultJson, 'explanation'> = g.basis === 'total'
    ? { name: g.name, basis: g.basis, actual: formatMoney(g.actual), bands, zoneShare: formatMoney(g.zoneShare), districtShare: formatMoney(g.districtShare) }
    : {
        name: g.name,
        basis: g.basis,
        base: formatMoney(g.base),
        actual: formatMoney(g.actual),
        increment: formatMoney(g.increment),
        carriedShortfallIn: formatMoney(g.carriedShortfallIn),
        shareable: formatMoney(g.shareable),
        bands,
        zoneShare: formatMoney(g.zoneShare),
        districtShare: formatMoney(g.districtShare),
        carriedShortfallOut: formatMoney(g.carriedShortfallOut),
      }
  if (g.period !== undefined) figures.period = { fromYear: g.period.fromYear, toYear: g.period.toYear, number: g.period.number, of: g.period.of }
  return figures
}

/** `disposition`: what becomes of the group's shortfall carried out of the agreement's last year (§6), explained as such. */
export function presentGroup (g: GroupResult, lang: Language, disposition?: LineShortfallDisposition): GroupResultJson {
  return Object.assign(presentGroupFigures(g), { explanation: explainGroup(g, lang, disposition) })
}

export function presentAgreementYear (result: AgreementYearResult, lang: Language): AgreementYearResultJson {
  return {
    fiscalYear: result.fiscalYear,
    minimumRate: formatRate(result.minimumRate),
    revenueTotal: formatMoney(result.revenueTotal),
    zoneShare: formatMoney(result.zoneShare),
    districtShare: formatMoney(result.districtShare),
    advancesPaid: formatMoney(result.advancesPaid),
    balanceDue: formatMoney(result.balanceDue),
    groups: result.groups.map((g) => presentGroup(g, lang)),
  }
}
