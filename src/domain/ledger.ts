import type { InputIssue } from './errors.js'
import { fitsFigure, MAX_FIGURE_DIGITS } from './magnitudes.js'
import { type Decimal, formatMoney } from './money.js'
import type { ShortfallPolicy } from './types.js'

/*
 * The settlement ledger (calculation-rules.md §9) and the carry of shortfalls across years and
 * agreement versions (§6). A finalized line is a signed figure: the finalized lines of an
 * agreement and year form a chain (the annual line, then each supplementary line naming the
 * line it follows), and a line may be finalized only on exactly what it was computed from.
 */

/** What the carry rules need to know of an agreement: its years and its groups' shortfall policies. */
export interface CarryTerms {
  id: number
  effectiveFrom: number
  effectiveTo: number | null
  groups: ReadonlyArray<{ name: string, shortfall: ShortfallPolicy }>
}

/**
 * Where the shortfall carried into Y comes from (§6): the agreement's own Y−1; or, in the first
 * year of a new version, the previous version of the same zone–district pair that ended with
 * Y−1, for its carry_forward groups of the same name; or nowhere.
 */
export type CarrySource =
  | { kind: 'none' }
  | { kind: 'own' }
  | { kind: 'predecessor', agreementId: number }

export function carrySource (agreement: CarryTerms, year: number, predecessor: CarryTerms | undefined): CarrySource {
  const carriers = agreement.groups.filter((g) => g.shortfall === 'carry_forward').map((g) => g.name)
  if (carriers.length === 0) return { kind: 'none' }
  if (year - 1 >= agreement.effectiveFrom) return { kind: 'own' }
  if (predecessor === undefined || predecessor.effectiveTo !== year - 1) return { kind: 'none' }
  const carried = predecessor.groups.some((g) => g.shortfall === 'carry_forward' && carriers.includes(g.name))
  return carried ? { kind: 'predecessor', agreementId: predecessor.id } : { kind: 'none' }
}

/** Why settling Y must wait for Y−1 to be finalized (a 409), in words. */
export function carryNotFinalized (agreement: { id: number, zoneCode: string, districtCode: string }, year: number, source: CarrySource): string {
  return source.kind === 'predecessor'
    ? `agreement ${agreement.id} (${agreement.zoneCode}–${agreement.districtCode}) carries in the shortfalls of agreement ${source.agreementId}, its previous version, ` +
      `and ${year - 1} is not finalized: finalize agreement ${source.agreementId}'s ${year - 1} settlement first (calculation-rules.md §6)`
    : `agreement ${agreement.id} (${agreement.zoneCode}–${agreement.districtCode}) carries shortfalls forward and ${year - 1} is not finalized: finalize the ${year - 1} settlement first`
}

/**
 * Why the first year of a new version cannot be settled yet, if it cannot (a 409): the previous
 * version's finalized settlement of Y−1 carried out a shortfall (`carriedOut`, by group, what no
 * finalized line has written off) that this version has no carry_forward group of the same name
 * to carry in. That settlement was signed while the previous version went on, so its statement
 * does not write the shortfall off; settled now, the new version would let it vanish (§6: "It
 * never vanishes silently"). Settling Y−1 again under the previous version (a supplementary
 * settlement, which sees the new version) writes it off on its statement; once that is finalized,
 * Y can be settled.
 */
export function uncarriedShortfallConflicts (
  agreement: CarryTerms & { zoneCode: string, districtCode: string }, year: number, predecessor: CarryTerms | undefined, carriedOut: ReadonlyMap<string, Decimal> | undefined,
): string[] {
  if (predecessor === undefined || carriedOut === undefined || agreement.effectiveFrom !== year || predecessor.effectiveTo !== year - 1) return []
  const carriers = new Set(agreement.groups.filter((g) => g.shortfall === 'carry_forward').map((g) => g.name))
  return [...carriedOut].filter(([name, amount]) => amount.greaterThan(0) && !carriers.has(name)).map(([name, amount]) =>
    `agreement ${predecessor.id}'s finalized ${year - 1} settlement carries out a shortfall of ${formatMoney(amount)} in group "${name}", which agreement ${agreement.id} ` +
    `(${agreement.zoneCode}–${agreement.districtCode}), its next version, does not carry forward: settle ${year - 1} for agreement ${predecessor.id} again and finalize it, ` +
    `so that its statement writes the shortfall off (核销), before settling ${year} (calculation-rules.md §6: a shortfall never vanishes silently)`)
}

/**
 * What becomes of a shortfall carried out of an agreement's last year (§6): the next version of
 * the pair carries it in a carry_forward group of the same name, or it is written off (核销).
 */
export type ShortfallDisposition =
  | { kind: 'carried', agreementId: number }
  | { kind: 'written_off', amount: Decimal }

/**
 * What becomes of a shortfall a line carried out, as its line shows it (§6, §9): a disposition, or,
 * on a signed line, `awaiting_write_off` when its year became the agreement's last after the line
 * was finalized (the agreement was ended at that year), no next version carries the shortfall, and
 * no later signed line of the chain has written it off. The signed statement does not change; a
 * supplementary settlement of the year writes the shortfall off (or a next version carries it).
 */
export type LineShortfallDisposition = ShortfallDisposition | { kind: 'awaiting_write_off', amount: Decimal }

/** The next version that carries a group's shortfall out of `year` in (a carry_forward group of the same name, §6), if one does. */
function carrierOf (year: number, group: string, successor: CarryTerms | undefined): number | undefined {
  if (successor === undefined || successor.effectiveFrom !== year + 1) return undefined
  return successor.groups.some((g) => g.name === group && g.shortfall === 'carry_forward') ? successor.id : undefined
}

/** The disposition of a group's C_out in `year`, when `year` is the agreement's last; undefined while the agreement goes on or nothing is carried out. */
function shortfallDisposition (
  agreement: CarryTerms, year: number, group: string, carriedOut: Decimal, successor: CarryTerms | undefined,
): ShortfallDisposition | undefined {
  if (agreement.effectiveTo !== year || !carriedOut.greaterThan(0)) return undefined
  const carrier = carrierOf(year, group, successor)
  return carrier !== undefined ? { kind: 'carried', agreementId: carrier } : { kind: 'written_off', amount: carriedOut }
}

/**
 * The disposition of a group's C_out in `year` on a line not yet signed (§6, §9): written off when an
 * earlier finalized line of its chain wrote it off (written off stays written off, whatever versions
 * the registry gained since), else as the registry's versions stand (shortfallDisposition).
 */
export function draftShortfallDisposition (
  agreement: CarryTerms, year: number, group: string, carriedOut: Decimal, successor: CarryTerms | undefined, writtenOffBefore: boolean,
): ShortfallDisposition | undefined {
  if (writtenOffBefore && carriedOut.greaterThan(0)) return { kind: 'written_off', amount: carriedOut }
  return shortfallDisposition(agreement, year, group, carriedOut, successor)
}

/**
 * Where the shortfalls a line carries out of the agreement's last year go (§6), as one text: each
 * group of `carriedOut` (those whose C_out is above zero) "name:carried@<next version>" or
 * "name:written_off", as draftShortfallDisposition decides. Undefined before the last year, or when
 * nothing is carried out. A line records it among its inputs, so that it is signed with the
 * dispositions its parties reviewed.
 */
export function shortfallsInput (
  agreement: CarryTerms, year: number, carriedOut: ReadonlyArray<{ name: string, amount: Decimal }>, successor: CarryTerms | undefined, writtenOffBefore: (group: string) => boolean,
): string | undefined {
  if (agreement.effectiveTo !== year) return undefined
  const texts = carriedOut.flatMap(({ name, amount }) => {
    const disposition = draftShortfallDisposition(agreement, year, name, amount, successor, writtenOffBefore(name))
    return disposition === undefined ? [] : [disposition.kind === 'carried' ? `${name}:carried@${disposition.agreementId}` : `${name}:written_off`]
  })
  return texts.length === 0 ? undefined : texts.join('|')
}

/** A supplementary line's figures against the finalized line it follows (§9). */
export function supplementaryFigures (line: { zoneShare: Decimal, balanceDue: Decimal }, followed: { zoneShare: Decimal, balanceDue: Decimal }) {
  return {
    previousZoneShare: followed.zoneShare,
    adjustment: line.zoneShare.minus(followed.zoneShare),
    balanceAdjustment: line.balanceDue.minus(followed.balanceDue),
  }
}

/**
 * A supplementary line prints its adjustments beside its figures (§9): each within 18 digits, as
 * every other figure (§1). Revenue revised from one extreme to the other can leave both zone
 * shares within them and their difference not. Undefined when both fit.
 */
export function supplementaryMagnitudeIssue (agreementId: number, year: number, figures: ReturnType<typeof supplementaryFigures>, followedRunId: number): InputIssue | undefined {
  if (fitsFigure(figures.adjustment) && fitsFigure(figures.balanceAdjustment)) return undefined
  return {
    pointer: `/agreements/${agreementId}`,
    message: `agreement ${agreementId}: the supplementary settlement of ${year} would adjust the finalized line of run ${followedRunId} by more than ${MAX_FIGURE_DIGITS} integer digits (calculation-rules.md §1, §9); check the revenue revised since`,
  }
}

/**
 * What a line was computed from, each kind of input as a digest (or, for finalized lines it
 * built on, the run they belong to): the agreement's terms, years, base adjustments and responsibility transfers; the
 * revenue it read; the advances of the year; the finalized Y−1 line that carried shortfalls in;
 * the finalized line of the year it follows.
 */
export interface LineInputs {
  terms: string
  revenue: string
  advances: string
  carriedFrom: string | null
  follows: number | null
  /**
   * In the agreement's last year, when the line carries a shortfall out: where each goes, carried
   * into the next version or written off (shortfallsInput). Absent on every other line, and on lines
   * computed before it was recorded.
   */
  shortfalls?: string
}

/**
 * A line's carry-in as its inputs record it: nothing, or the finalized Y−1 line it carried from.
 * A carry source whose Y−1 is not finalized is never the input of a computed line (a 409 first,
 * §6), but can be today's, and then makes a draft computed before it stale: a previous version
 * registered, or extended to meet this one, after the draft.
 */
export function carriedFromInput (source: CarrySource, agreementId: number, head: { agreementId: number, runId: number } | undefined): string | null {
  if (source.kind === 'none') return null
  if (head === undefined) return `unfinalized:${source.kind === 'own' ? agreementId : source.agreementId}`
  return `${head.agreementId}@${head.runId}`
}

/** The change of a line's carry-in (carriedFromInput) in words. */
function carryChange (year: number, now: string | null): string {
  const pending = /^unfinalized:(\d+)$/.exec(now ?? '')
  return pending === null
    ? `the finalized ${year - 1} figures it carried shortfalls in from`
    : `it now carries shortfalls in from agreement ${pending[1]}'s ${year - 1}, which is not finalized (calculation-rules.md §6)`
}

/** The line's revenue changed: of Y, or of Y−1 when a group's base is taken from it (one digest covers both). */
function revenueChange (year: number, priorYearGroups: readonly string[]): string {
  if (priorYearGroups.length === 0) return `its revenue of ${year}`
  return `its revenue of ${year} or of ${year - 1}, which the prior-year base of ${priorYearGroups.map((g) => `"${g}"`).join(', ')} is taken from`
}

/**
 * What changed between the inputs a line was computed from and those of today, in words; empty when
 * nothing did. `priorYearGroups`: the agreement's groups whose base is the year before's revenue
 * (§4 prior_year), whose Y−1 records the line's revenue digest covers too.
 */
export function changedInputs (year: number, before: LineInputs | undefined, now: LineInputs | undefined, priorYearGroups: readonly string[] = []): string[] {
  if (now === undefined) return [`the agreement is no longer in force in ${year}`]
  if (before === undefined) return ['what it was computed from is not on record (a run from before the ledger): compute it again']
  const changed: string[] = []
  if (before.terms !== now.terms) changed.push('the agreement\'s terms, years, base adjustments or responsibility transfers')
  if (before.revenue !== now.revenue) changed.push(revenueChange(year, priorYearGroups))
  if (before.advances !== now.advances) changed.push(`its advances for ${year}`)
  if (before.carriedFrom !== now.carriedFrom) changed.push(carryChange(year, now.carriedFrom))
  if (before.follows !== now.follows) changed.push(`the finalized ${year} line it follows`)
  // A line that carries a shortfall out of the last year but recorded no dispositions was computed before they were recorded: what its parties saw is not known.
  if (before.shortfalls !== now.shortfalls) {
    changed.push(`the next version of the agreement, which decides whether the shortfall it carries out of ${year} is carried or written off (calculation-rules.md §6)`)
  }
  return changed
}
