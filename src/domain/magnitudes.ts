import type { InputIssue } from './errors.js'
import { type Decimal, money, ZERO } from './money.js'
import type { RunTotals } from './settlement.js'
import type { AgreementYearResult, BaseDerivation } from './types.js'

/*
 * Magnitudes (calculation-rules.md §1): an amount given has at most 15 integer digits; a figure
 * computed from them (a sum, a base, a share, a balance) may have up to 18, which is what the
 * documented schemas print and PostgreSQL stores (numeric(20,2)). A computation that would
 * print a figure beyond that is refused, naming the input that led there: never a 500, never a
 * figure longer than the schema.
 */

export const MAX_FIGURE_DIGITS = 18

/**
 * Whether a computed figure fits: at most 18 integer digits, i.e. |value| < 10^18, i.e. its
 * decimal exponent (decimal.js `e`: 17 for 999…9.99 with 18 nines, 18 for 10^18) is below 18.
 * Read off the figure, where comparing it with 10^18 made two new Decimals for every figure.
 */
export function fitsFigure (value: Decimal): boolean {
  return value.isFinite() && value.e < MAX_FIGURE_DIGITS
}

/** Where, in the caller's terms, each input of a group lives (a request's fields, or a stored agreement's). */
export interface GroupPointers {
  actual: string
  base: string
  /** The escalating base's growth (base rule growthRate), when the base escalates. */
  growth?: string
  /** The base rule's responsibility transfers (事权划转), when one is in force. */
  transfers?: string
}

const TOO_LARGE = `more than ${MAX_FIGURE_DIGITS} integer digits`

/** The input of a group that made one of its figures too large, if any. */
function groupIssue (result: AgreementYearResult['groups'][number], at: GroupPointers, describe: (what: string) => string): InputIssue | undefined {
  if (!fitsFigure(result.actual)) return { pointer: at.actual, message: describe(`an actual revenue of ${TOO_LARGE}`) }
  if (result.basis === 'increment') {
    // The explanation prints the escalated base and each transfer's F(Y) as well as B(Y): opposite
    // moves, or a transfer against a large escalation, can bring B(Y) back within 18 digits while
    // a figure on the way there is beyond it.
    const d = result.baseDerivation
    if (d.mode === 'escalating' && !fitsFigure(d.escalated)) {
      return { pointer: at.growth ?? at.base, message: describe(`an escalated base of ${TOO_LARGE} (the growth compounds over ${d.years} years)`) }
    }
    const transfers = d.transfers ?? []
    if (!fitsFigure(result.base)) {
      return transfers.length > 0 && at.transfers !== undefined
        ? { pointer: at.transfers, message: describe(`a base of ${TOO_LARGE} once its responsibility transfers (事权划转) move it`) }
        : { pointer: at.base, message: describe(`a base of ${TOO_LARGE}`) }
    }
    if (!transfers.every((x) => fitsFigure(x.fundingForYear))) {
      return { pointer: at.transfers ?? at.base, message: describe(`a responsibility transfer (事权划转) whose funding for the year has ${TOO_LARGE}`) }
    }
    const figures = [result.increment, result.shareable, result.carriedShortfallOut, result.zoneShare, result.districtShare, ...result.bands.map((b) => b.amount)]
    if (!figures.every(fitsFigure)) {
      const actualIsLarger = result.actual.abs().greaterThanOrEqualTo(result.base.abs())
      return { pointer: actualIsLarger ? at.actual : at.base, message: describe(`an increment of ${TOO_LARGE} between actual and base`) }
    }
  }
  return undefined
}

/** Σ base and Σ increment over the groups with a base: an agreement's history prints them for each year. */
function baseTotals (result: AgreementYearResult): Decimal[] {
  let base = ZERO
  let increment = ZERO
  for (const g of result.groups) {
    if (g.basis !== 'increment') continue
    base = base.plus(g.base)
    increment = increment.plus(g.increment)
  }
  return [base, increment]
}

/**
 * The inputs whose figures would not fit, each with its pointer; `describe` words a message for
 * the caller (which group of which agreement). `totals` points at the groups as a whole, `advances`
 * at the advances paid (预拨) that the balance due deducts. Empty when every figure fits.
 */
export function magnitudeIssues (
  result: AgreementYearResult, pointers: (index: number) => GroupPointers, at: { totals: string, advances: string },
  describe: (what: string, index?: number) => string,
): InputIssue[] {
  const issues: InputIssue[] = []
  result.groups.forEach((g, i) => {
    const issue = groupIssue(g, pointers(i), (what) => describe(what, i))
    if (issue !== undefined) issues.push(issue)
  })
  if (issues.length > 0) return issues
  if (![result.revenueTotal, result.zoneShare, result.districtShare, ...baseTotals(result)].every(fitsFigure)) {
    issues.push({ pointer: at.totals, message: describe(`totals over the groups of ${TOO_LARGE}`) })
  } else if (!fitsFigure(result.advancesPaid)) {
    issues.push({ pointer: at.advances, message: describe(`advances paid (预拨) of ${TOO_LARGE}`) })
  } else if (!fitsFigure(result.balanceDue)) {
    issues.push({ pointer: at.advances, message: describe(`a balance due (the zone share less the advances paid) of ${TOO_LARGE}`) })
  }
  return issues
}

/**
 * Why a run of `lines` lines cannot be printed, if it cannot: `unsignedTotals`, the sums of its
 * lines' figures without their signs (runSums), bound every total of its lines that a run, a
 * district's or zone's view or a statement prints. Each line fits on its own; together they could
 * print a total beyond 18 integer digits. The bound is conservative (lines of opposite signs that
 * cancel are refused too), which only matters at 10^18 yuan. `pointer` names the run's input that
 * chose the lines (its agreementIds, or its fiscalYear when it settles every agreement in force).
 */
export function runMagnitudeIssue (unsignedTotals: RunTotals, lines: number, pointer: string): InputIssue | undefined {
  if (Object.values(unsignedTotals).every((figure) => fitsFigure(money(figure)))) return undefined
  return {
    pointer,
    message: `the figures of the run's ${lines} lines add up to ${TOO_LARGE}: its totals, or a district's or a zone's, could not be printed; settle fewer agreements in a run`,
  }
}

/**
 * Why an agreement view cannot print an increment group's base for `year` (GET /v1/agreements/{id}?year=),
 * if it cannot: B(Y) beyond 18 integer digits, named at the escalation that led there, the transfers
 * that moved it, or the base; else a transfer in force whose F(Y) is (opposite transfers can bring
 * B(Y) back within 18 digits, and the view prints each F(Y) too). `position` is the group's place.
 */
export function baseInYearIssue (
  group: { name: string, position: number }, year: number, derivation: BaseDerivation,
  transfers: ReadonlyArray<{ function: string, fundingForYear: Decimal }>,
): InputIssue | undefined {
  const at = `/groups/${group.position}`
  if (!fitsFigure(derivation.base)) {
    const escalated = derivation.escalated
    return {
      pointer: `${at}/${escalated !== undefined && !fitsFigure(escalated) ? 'base/growthRate' : derivation.transfers === undefined ? 'base' : 'transfers'}`,
      message: `group "${group.name}": the base of ${year} has ${TOO_LARGE} (calculation-rules.md §1)`,
    }
  }
  return transfersInYearIssue(group, year, transfers)
}

/**
 * Why an agreement view cannot print the transfers in force in `year`, if it cannot: a transfer whose
 * F(Y) has more than 18 integer digits (an indexed funding compounded over many years). Checked even
 * when the base itself cannot be computed (a prior_year base without last year's revenue), as the
 * view prints each F(Y) all the same.
 */
export function transfersInYearIssue (
  group: { name: string, position: number }, year: number, transfers: ReadonlyArray<{ function: string, fundingForYear: Decimal }>,
): InputIssue | undefined {
  const oversized = transfers.find((x) => !fitsFigure(x.fundingForYear))
  if (oversized === undefined) return undefined
  return {
    pointer: `/groups/${group.position}/transfers`,
    message: `group "${group.name}": the responsibility transfer (事权划转) "${oversized.function}" has a funding for ${year} of ${TOO_LARGE} (calculation-rules.md §1)`,
  }
}
