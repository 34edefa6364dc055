import { type InputIssue, InputError, Problems } from './errors.js'
import type { Principal, Role } from './principal.js'

/*
 * 审核确认 (api-contract.md, Settlement runs: Review). A settlement statement between a zone and
 * its host district is signed by three: the city's finance bureau (市财政局) finalizes it, and
 * before that the district's finance bureau (区财政局) and the zone's management committee
 * (功能区管委会) each confirm or dispute their line. Every decision is kept; the latest of each
 * party is the one in force. A line nobody reviewed is unreviewed (未确认), which does not stop
 * finalizing; a disputed line does, unless the city overrides it with a reason.
 */

/** Whose decision it is: the district's finance bureau, or the zone's management committee. */
export type ReviewParty = 'district' | 'zone'
export const REVIEW_PARTIES: readonly ReviewParty[] = ['district', 'zone']

/** 确认 (confirm) or 有异议 (dispute). */
export type ReviewDecision = 'confirm' | 'dispute'
export const REVIEW_DECISIONS: readonly ReviewDecision[] = ['confirm', 'dispute']

/** The parties as a statement names them. */
export const PARTY_TITLES: Readonly<Record<ReviewParty, string>> = { district: '区财政局', zone: '功能区管委会' }
export const DECISION_TITLES: Readonly<Record<ReviewDecision, string>> = { confirm: '确认', dispute: '有异议' }
/** A party that has not decided. */
export const UNREVIEWED = '未确认'

/** A decision as recorded: by which key (its role and label at the time), when, and why. */
export interface Review {
  party: ReviewParty
  decision: ReviewDecision
  note: string | null
  /** The key that recorded it. */
  by: string
  /** district or zone for the party itself; admin when the city recorded it on the party's behalf. */
  byRole: Role
  /** The key's label (null for the bootstrap admin). */
  byLabel: string | null
  /** ISO 8601. */
  at: string
}

/** The decision in force of each party, or null where it has not decided. */
export interface LineReviews {
  district: Review | null
  zone: Review | null
}

export const NO_REVIEWS: LineReviews = { district: null, zone: null }

/** The latest decision of each party in a line's history (oldest first). */
export function latestReviews (history: readonly Review[]): LineReviews {
  let district: Review | null = null
  let zone: Review | null = null
  for (const review of history) {
    if (review.party === 'district') district = review
    else zone = review
  }
  return { district, zone }
}

/** The parties whose decision in force is a dispute. */
export function disputingParties (reviews: LineReviews): ReviewParty[] {
  return REVIEW_PARTIES.filter((party) => reviews[party]?.decision === 'dispute')
}

/** A review as asked for: the decision, a note, and (for an admin) the party it is recorded for. */
export interface ReviewRequest {
  decision: ReviewDecision
  note?: string | undefined
  party?: ReviewParty | undefined
}

/** A note as kept: trimmed, and none when nothing is left. */
export function noteOf (note: string | undefined): string | null {
  const trimmed = note?.trim() ?? ''
  return trimmed === '' ? null : trimmed
}

/**
 * The party a key records a decision for: a district key its district's, a zone key its zone's
 * (naming the other party is 403); an admin names the party and gives a note (400 without).
 * A dispute needs a note (400 without). Answers the party and the note as kept.
 */
export function reviewingParty (principal: Principal, request: ReviewRequest): { party: ReviewParty, note: string | null } {
  const note = noteOf(request.note)
  const onBehalf = principal.role === 'admin'
  if (!onBehalf && request.party !== undefined && request.party !== principal.role) throw Problems.reviewForOtherParty(principal.role, request.party)
  const party = onBehalf ? request.party : principal.role
  const issues: InputIssue[] = []
  if (party === undefined) issues.push({ pointer: '/party', message: 'an admin records a party\'s decision on its behalf: name the party (district or zone)' })
  if (onBehalf && note === null) issues.push({ pointer: '/note', message: 'an admin recording a party\'s decision on its behalf says on what grounds' })
  else if (request.decision === 'dispute' && note === null) issues.push({ pointer: '/note', message: 'a dispute says what is disputed' })
  if (party === undefined || issues.length > 0) throw new InputError('malformed', issues)
  return { party, note }
}

/** The reason of an override (强制定稿理由) as kept, trimmed; none without an override. A blank reason is malformed (400). */
export function overrideReasonOf (override: { reason: string } | undefined): string | undefined {
  if (override === undefined) return undefined
  const reason = noteOf(override.reason)
  if (reason === null) throw new InputError('malformed', [{ pointer: '/override/reason', message: 'an override says why the disputes are set aside' }])
  return reason
}
