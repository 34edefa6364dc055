/*
 * The one catalogue of what the service refuses, and why (api-contract.md, Errors). Every 4xx
 * (and the few 503s that are not bugs) is an entry below: its problem type, its status and a
 * message built from its arguments. Services and the domain throw these; src/http maps any
 * Problem to an RFC 9457 problem+json body in one place. Nothing here knows about HTTP beyond
 * the status number the contract pins for each problem.
 */

/** The most `errors` a problem+json lists (its schema's maxItems); a problem that has more says so in its detail. */
export const MAX_PROBLEM_ERRORS = 1000

/** One thing wrong with an input, located by a JSON pointer into it (RFC 6901). */
export interface InputIssue {
  pointer: string
  message: string
}

/** A refusal: its type (a short slug), its status, what is wrong in words, and where. */
export class Problem extends Error {
  readonly status: number
  readonly type: string
  readonly errors: readonly InputIssue[] | undefined
  /** Headers the answer carries (WWW-Authenticate, Retry-After). */
  readonly headers: Readonly<Record<string, string>>

  constructor (status: number, type: string, detail: string, errors?: readonly InputIssue[], headers: Readonly<Record<string, string>> = {}) {
    super(detail)
    this.name = 'Problem'
    this.status = status
    this.type = type
    this.errors = errors
    this.headers = headers
  }
}

/**
 * `malformed`: the input's shape is wrong (a field missing or forbidden): 400 invalid-input.
 * `rule`: well-formed, but it breaks a rule of calculation-rules.md (the floor, band order): 422 rule-violated.
 */
export type IssueKind = 'malformed' | 'rule'

/**
 * The detail of a 422 for broken rules names the first rule broken (calculation-rules.md §3: a rate
 * below the floor is rejected "with a detail that names the floor"), and how many more there are.
 */
function ruleViolatedDetail (issues: readonly InputIssue[]): string {
  if (issues.length === 0) return 'The request breaks a rule of the calculation rules: see errors for each field.'
  return sentence('The request breaks a rule of the calculation rules', issues, 'See errors for each field.')
}

/** A detail as a sentence: what is refused, the first issue (and how many more), and where to read them all. */
function sentence (lead: string, issues: readonly InputIssue[], readOn = 'See errors for each.'): string {
  return `${lead}: ${firstOf(issues)}. ${readOn}`
}

/** Input the domain's parsers refuse, field by field. */
export class InputError extends Problem {
  readonly kind: IssueKind
  readonly issues: readonly InputIssue[]

  constructor (kind: IssueKind, issues: readonly InputIssue[]) {
    super(
      kind === 'malformed' ? 400 : 422,
      kind === 'malformed' ? 'invalid-input' : 'rule-violated',
      kind === 'malformed' ? 'The request is not well-formed: see errors for each field.' : ruleViolatedDetail(issues),
      issues,
    )
    this.name = 'InputError'
    this.kind = kind
    this.issues = issues
  }
}

/** Collects issues of both kinds; malformed input is reported before broken rules. */
export class IssueCollector {
  private readonly malformed: InputIssue[] = []
  private readonly rules: InputIssue[] = []

  malformedAt (pointer: string, message: string): void {
    this.malformed.push({ pointer, message })
  }

  ruleAt (pointer: string, message: string): void {
    this.rules.push({ pointer, message })
  }

  throwIfAny (): void {
    if (this.malformed.length > 0) throw new InputError('malformed', this.malformed)
    if (this.rules.length > 0) throw new InputError('rule', this.rules)
  }
}

/** Seconds a client waits before retrying when the database does not answer. */
export const RETRY_AFTER_SECONDS = 5
/** Seconds a client waits before retrying when the service sheds load. */
export const SHED_RETRY_AFTER_SECONDS = 10

const at = (pointer: string, message: string): InputIssue[] => [{ pointer, message }]

/** A name as one segment of a JSON pointer (RFC 6901: ~ and / escaped). */
export const pointerSegment = (name: string): string => name.replaceAll('~', '~0').replaceAll('/', '~1')

/** What a 401 answers in WWW-Authenticate (RFC 9110 §11.6.1): the token the request lacks. */
export const BEARER_CHALLENGE = 'Bearer realm="revenue-sharing"'

/** The first of several issues, and how many more there are. */
function firstOf (issues: readonly InputIssue[]): string {
  const [first] = issues
  return `${first?.message ?? ''}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`
}

/** Agreement years as printed: "2020–open". */
const years = (from: number, to: number | null) => `${from}–${to ?? 'open'}`

/** "1 line", "2 lines": a count and its noun, as a sentence says them. */
export const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

/**
 * The problem type of a request the HTTP layer refused before any operation saw it, by the error
 * code Node or Fastify gave it: a name of this service's own, which a framework upgrade does not
 * rename (before, the code itself: `fst-err-ctp-invalid-media-type`, `hpe-header-overflow`).
 */
const UNACCEPTED_TYPES: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_ENCODING: 'unsupported-content-encoding',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
  FST_ERR_BAD_URL: 'invalid-url',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid-url',
  FST_STATIC_FORBIDDEN_PATH: 'forbidden-path',
  HPE_HEADER_OVERFLOW: 'headers-too-large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request-timeout',
  ERR_HTTP_REQUEST_HEADERS_TIMEOUT: 'request-timeout',
}

/** Codes not named above, by their status: what the status says, never the code. */
const UNACCEPTED_BY_STATUS: Record<number, string> = {
  400: 'bad-request', 404: 'not-found', 405: 'method-not-allowed', 406: 'not-acceptable', 408: 'request-timeout', 411: 'length-required',
  413: 'body-too-large', 414: 'uri-too-long', 415: 'unsupported-media-type', 417: 'expectation-failed', 431: 'headers-too-large',
}

function unacceptedRequestType (status: number, code: string): string {
  return UNACCEPTED_TYPES[code] ?? (code.startsWith('HPE_') ? 'invalid-http' : UNACCEPTED_BY_STATUS[status] ?? `refused-${status}`)
}

/** A request's part as a sentence names it, with its verb. */
const REQUEST_PARTS: Record<string, string> = {
  body: 'The request body does', querystring: 'The query string does', params: 'The path parameters do', headers: 'The request headers do',
}

/**
 * Where a change refused for a settled year can go: a later year of the agreement, or, once its last
 * year is settled, the next version (before, "from Y+1 on" was advised past the agreement's end,
 * where it is refused as outside it; found by a probe).
 */
function laterOrNextVersion (verb: string, settled: number, effectiveTo: number | null): string {
  return effectiveTo !== null && settled >= effectiveTo
    ? `Every year it is in force (to ${effectiveTo}) is settled: record the change in a new agreement from ${effectiveTo + 1}, its next version.`
    : `${verb} from ${settled + 1} on, or record a new agreement.`
}

/** A mebibyte, in which the import limit is said when it is a whole number of them. */
const MIB = 1024 * 1024

export const Problems = {
  // —— 400: malformed input ————————————————————————————————————————————————
  /** A list's cursor that no list gave out. */
  badCursor: () => new InputError('malformed', at('/querystring/cursor', 'is not a cursor this list gave out')),
  idempotencyKeyRepeated: (times: number) => new Problem(400, 'invalid-input', `Idempotency-Key is given ${times} times: a request has one key (two headers would read as one key "a, b").`,
    at('/headers/idempotency-key', `is given ${times} times`)),
  /** Node keeps the first of two Content-Type headers and drops the rest: which one the client meant is not known. */
  contentTypeRepeated: (times: number) => new Problem(400, 'invalid-input', `Content-Type is given ${times} times: a body has one type, so send the header once.`,
    at('/headers/content-type', `is given ${times} times`)),
  /** Node keeps the first of two Authorization headers; a proxy in front may read the last: who is calling is not known. */
  authorizationRepeated: (times: number) => new Problem(400, 'invalid-input', `Authorization is given ${times} times: a request is made by one key, so send the header once.`,
    at('/headers/authorization', `is given ${times} times`)),
  idempotencyKeyMalformed: () => new Problem(400, 'invalid-input', 'Idempotency-Key must be 1 to 255 printable ASCII characters; spaces may come between them.',
    at('/headers/idempotency-key', 'must be 1 to 255 printable ASCII characters')),
  /** A field that goes with one role only (an API key's districtCode or zoneCode). */
  scopeFieldMismatch: (field: 'districtCode' | 'zoneCode', role: string) => {
    const owner = field === 'districtCode' ? 'district' : 'zone'
    return new Problem(400, 'invalid-input', `${field} goes with role ${owner}, and only with it.`,
      at(`/${field}`, role === owner ? `is required for role ${owner}` : `is not allowed for role ${role}`))
  },
  /** A request part that does not match its schema; `part` is body, querystring, params or headers. */
  schemaMismatch: (part: string, issues: readonly InputIssue[]) => new Problem(400, 'invalid-input',
    `${REQUEST_PARTS[part] ?? `The request ${part} does`} not match the schema: see errors for each field.`, issues),
  /** What the framework refuses before a handler runs (a body that is not JSON, too large, of another type; a URL that does not decode). */
  unacceptedRequest: (status: number, code: string, detail: string) => new Problem(status, unacceptedRequestType(status, code), detail),
  /** A body Fastify's JSON parser refused, with the parser's `reason` and, when it is known, where it stopped. */
  notJson: (code: string, reason: string, where?: InputIssue) => new Problem(400, unacceptedRequestType(400, code), `The body is not valid JSON: ${reason}.`,
    where === undefined ? undefined : [where]),
  dateRangeReversed: () => new Problem(400, 'invalid-input', 'from is after to.', at('/querystring/from', 'must not be after to')),
  notUtf8: (line: number) => new Problem(400, 'not-utf8',
    `The file is not UTF-8 text (line ${line}). Save it as "CSV UTF-8": a file in GBK or GB18030 cannot be read as it is.`,
    at(`/line/${line}`, 'holds bytes that are not UTF-8')),
  utf16File: () => new Problem(400, 'not-utf8',
    'The file is UTF-16 text (what Excel saves as "Unicode text"), not UTF-8 (line 1). Save it as "CSV UTF-8".',
    at('/line/1', 'begins with the byte-order mark of UTF-16')),
  /** A file in GBK whose bytes are UTF-8 too (src/services/csv-file.ts): `asGbk` is the text as GBK reads it, `asUtf8` as UTF-8 does. */
  readsAsGbk: (line: number, asGbk: string, asUtf8: string) => new Problem(400, 'not-utf8',
    `The file reads as GBK or GB18030 text, not UTF-8 (line ${line}: ${JSON.stringify(asGbk)} in GBK would be stored as ${JSON.stringify(asUtf8)}). Save it as "CSV UTF-8".`,
    at(`/line/${line}`, `reads as GBK text (${JSON.stringify(asGbk)}), not UTF-8`)),
  /** A name given twice in one object of a JSON body: JSON.parse keeps the last, another reader the first (RFC 8259 §4). */
  jsonKeyRepeated: (pointer: string, name?: string, times = 2) => new Problem(400, 'invalid-input',
    `The body gives ${name === undefined ? 'a name' : JSON.stringify(name.slice(0, 100))} ${times} times in one object${pointer === '' ? '' : ` (at ${pointer.slice(0, 200)})`}: ` +
    'readers differ on which one counts, so give it once.',
    at(pointer, `is given ${times} times`)),
  notUtf8Body: (offset: number) => new Problem(400, 'not-utf8',
    `The body is not UTF-8 text (byte ${offset}, counting from 0). Send JSON as UTF-8: text in GBK or GB18030 cannot be read as it is.`,
    at('', `holds bytes that are not UTF-8 from byte ${offset}`)),
  invalidCsv: (line: number, reason: string) => new Problem(400, 'invalid-csv', `The file is not valid CSV (line ${line}): ${reason.slice(0, 200)}`,
    at(`/line/${line}`, reason.slice(0, 500))),

  // —— 401, 403: who is calling ——————————————————————————————————————————————
  unauthorized: (detail: string) => new Problem(401, 'unauthorized', detail, undefined, { 'www-authenticate': BEARER_CHALLENGE }),
  forbidden: (role: string, operation: string, roles: readonly string[]) => new Problem(403, 'forbidden',
    `A ${role} key may not ${operation}; it is for ${roles.join(' or ')} keys.`),
  /** 审核确认: a district or zone key records its own party's decision only (an admin may record either's). */
  reviewForOtherParty: (role: 'district' | 'zone', party: string) => new Problem(403, 'forbidden',
    `A ${role} key records the ${role}'s own decision on a settlement line, not the ${party}'s; the ${party}'s key records it (or an admin on its behalf).`,
    at('/party', `a ${role} key may only record the ${role}'s decision`)),
  /** REQUIRE_TWO_ADMINS=1: the key that computed a run may not also finalize it. */
  secondAdminRequired: (runId: number, createdBy: string) => new Problem(403, 'second-admin-required',
    `Settlement run ${runId} was computed with key ${createdBy}; this deployment requires another admin key to finalize it (REQUIRE_TWO_ADMINS=1).`),
  /** REQUIRE_TWO_ADMINS: the finalizing key and the computing key share an issuer (src/domain/principal.ts sharedIssuer). */
  sameSigner: (runId: number, createdBy: string, keyId: string, shared: string) => new Problem(403, 'second-admin-required',
    `Settlement run ${runId} was computed with key ${createdBy}, and ${shared === createdBy ? `key ${keyId} was issued through it` : shared === keyId ? `that key was issued through key ${keyId}` : `both it and key ${keyId} were issued through key ${shared}`}: ` +
    'under REQUIRE_TWO_ADMINS=1 they count as one signer. Finalize it with an admin key issued by someone else (ADMIN_TOKEN issues each signer theirs).'),

  // —— 404: unknown, or outside the caller's scope ——————————————————————————————
  /** `what` names the record: "debt 12", "settlement run 3". */
  notFound: (what: string) => new Problem(404, 'not-found', `No ${what}.`),
  debtEventNotFound: (debtId: number, eventId: string) => new Problem(404, 'not-found', `Debt ${debtId} has no event ${eventId}.`),
  revenueMonthNotFound: () => new Problem(404, 'not-found', 'No revenue is recorded for that zone, district, category and month.'),
  routeNotFound: (method: string, path: string) => new Problem(404, 'not-found', `No route ${method} ${path}.`),

  // —— 409: conflicts ——————————————————————————————————————————————————————
  alreadyExists: (what: string, pointer: string, message = 'already exists') => new Problem(409, 'already-exists', `${what} already exists.`, at(pointer, message)),
  /** Codes are told apart by more than their case: a statement, a file or a clerk would take one for the other. */
  codeTakenInOtherCase: (what: 'Zone' | 'Revenue category', code: string, registered: string) => new Problem(409, 'already-exists',
    `${what} ${registered} already exists: ${code} differs from it only in case, and a statement or a file would not tell them apart. Choose another code.`,
    at('/code', `${registered} already exists`)),
  debtReferenceTaken: (zoneCode: string, reference: string) => new Problem(409, 'already-exists', `Zone ${zoneCode} already has a debt ${reference}.`,
    at('/reference', 'already registered for this zone')),
  /** A unique key of the database refused a write that the checks before it could not see coming (a race). */
  duplicateKey: () => new Problem(409, 'already-exists', 'A record with this key already exists.'),
  idempotencyKeyInUse: (key: string) => new Problem(409, 'idempotency-key-in-use', `A request with Idempotency-Key "${key}" is still running; retry when it has finished.`),
  settlementRunning: (year: number) => new Problem(409, 'settlement-running', `A settlement run for ${year} is in progress (being computed or finalized); try again when it has finished.`),
  /** calculation-rules.md §6: a carry_forward agreement settles Y only after Y−1 is finalized. */
  priorYearNotFinalized: (conflicts: readonly InputIssue[]) => new Problem(409, 'prior-year-not-finalized', sentence('The year cannot be settled yet', conflicts), conflicts),
  runAlreadyFinalized: (runId: number, finalizedAt: string | null) => new Problem(409, 'already-finalized',
    `Settlement run ${runId} was finalized on ${finalizedAt}; it can no longer change.`),
  /** calculation-rules.md §3: MIN_ZONE_RATE was raised after the draft was computed; a new run checks the bands against it. */
  floorRaisedSince: (runId: number, runFloor: string, floor: string) => new Problem(409, 'settlement-stale',
    `Settlement run ${runId} was computed under the floor of ${runFloor}, and the floor (MIN_ZONE_RATE) is now ${floor} (calculation-rules.md §3). ` +
    `Create a new run and finalize that one: it refuses a year's first settlement of an agreement whose bands are below ${floor}.`),
  /** calculation-rules.md §9: what the run read changed after it was computed (committed by any transaction). */
  settlementStale: (runId: number, year: number, stale: ReadonlyArray<{ agreementId: number, zoneCode: string, districtCode: string, changed: readonly string[] }>) => {
    const [first] = stale
    const more = stale.length > 1 ? ` (and ${counted(stale.length - 1, 'more agreement')})` : ''
    return new Problem(409, 'settlement-stale',
      `What run ${runId} read for ${year} changed after run ${runId} was computed: agreement ${first?.agreementId ?? ''} (${first?.zoneCode ?? ''}–${first?.districtCode ?? ''}): ` +
      `${first?.changed.join('; ') ?? ''}${more}. Create a new run and finalize that one.`,
      stale.map((s) => ({ pointer: `/agreements/${s.agreementId}`, message: `agreement ${s.agreementId} (${s.zoneCode}–${s.districtCode}): ${s.changed.join('; ')}` })))
  },
  /** calculation-rules.md §9: advances are paid before the year is settled; afterwards money moves through the balance and supplementary settlements. */
  yearSettled: (agreementId: number, year: number) => new Problem(409, 'year-settled',
    `Agreement ${agreementId} has a finalized ${year} settlement: advances for ${year} are paid before the year is settled; ` +
    'what is still owed moves through the balance due and supplementary settlements (补充结算).', at('/fiscalYear', `${year} is settled`)),
  /** A finalized run takes no more reviews. */
  reviewAfterFinalizing: (runId: number, finalizedAt: string | null) => new Problem(409, 'already-finalized',
    `Settlement run ${runId} was finalized on ${finalizedAt}: its lines take no more reviews.`),
  /** 审核确认: a line whose district or zone disputes it stops finalizing, unless an admin overrides it with a reason. */
  settlementDisputed: (runId: number, disputed: ReadonlyArray<{ agreementId: number, zoneCode: string, districtCode: string, parties: readonly string[], notes: readonly string[] }>) => {
    const [first] = disputed
    const more = disputed.length > 1 ? ` (and ${counted(disputed.length - 1, 'more line')})` : ''
    const line = (d: NonNullable<typeof first>) => `agreement ${d.agreementId} (${d.zoneCode}–${d.districtCode}) disputed by the ${d.parties.join(' and the ')}: ${d.notes.join('; ')}`
    return new Problem(409, 'settlement-disputed',
      `Settlement run ${runId} has ${counted(disputed.length, 'disputed line')}: ${first === undefined ? '' : line(first)}${more}. ` +
      'Settle the dispute (the party confirms), compute a new run, or finalize with an override giving the reason, which every statement prints.',
      disputed.map((d) => ({ pointer: `/agreements/${d.agreementId}`, message: line(d) })))
  },
  /** Verification compares a finalized run with the digest stored when it was finalized: a draft has none yet. */
  runNotFinalized: (runId: number) => new Problem(409, 'not-finalized',
    `Settlement run ${runId} is a draft: its digest is stored when it is finalized, and verification checks a finalized run against it.`),
  alreadySettled: (agreementId: number, year: number) => new Problem(409, 'already-settled',
    `Agreement ${agreementId} already has a finalized ${year} settlement; create a new run: it will be a supplementary settlement (补充结算).`),
  /** An agreement in a finalized settlement of `settled` may not end before it. */
  /** An agreement ending the year before another of the pair begins would become its previous version after the other's first year was signed (§6, §9). */
  successorSettled: (successor: { id: number, effectiveFrom: number }, pointer: string) => new Problem(409, 'agreement-settled',
    `Agreement ${successor.id} begins in ${successor.effectiveFrom}, carries shortfalls forward, and its ${successor.effectiveFrom} settlement is finalized with no previous ` +
    `version to carry in from: ending this agreement in ${successor.effectiveFrom - 1} would make it that previous version after the fact, and a shortfall it carried out ` +
    `of ${successor.effectiveFrom - 1} would belong to a year already signed (calculation-rules.md §6, §9: what has been settled is settled once). End it earlier.`,
    at(pointer, `must be before ${successor.effectiveFrom - 1} while agreement ${successor.id}'s ${successor.effectiveFrom} is finalized`)),
  agreementSettledEnd: (agreementId: number, settled: number) => new Problem(409, 'agreement-settled',
    `Agreement ${agreementId} is in a finalized settlement of ${settled}; it cannot end before that year.`, at('/effectiveTo', `must be ${settled} or later`)),
  /**
   * An agreement may not end before a year it has advances (预拨) for: no line would ever settle them
   * (calculation-rules.md §6: advancesPaid is what was paid under the agreement for Y).
   */
  agreementAdvancedEnd: (agreementId: number, years: ReadonlyArray<{ fiscalYear: number, total: string }>) => {
    const listed = years.map((y) => `${y.fiscalYear} (${y.total})`).join(', ')
    const last = years[years.length - 1]?.fiscalYear ?? 0
    return new Problem(409, 'agreement-has-advances',
      `Agreement ${agreementId} has advances (预拨) paid for ${listed}: ended before ${years.length === 1 ? 'that year' : 'those years'}, no settlement would ever count them. ` +
      'Record their recovery under this agreement first (a negative advance for each year), and pay them under the version that follows; or end it later.',
      at('/effectiveTo', `must be ${last} or later while advances for ${last} are on record`))
  },
  /** A base adjustment may not reach back into a settled year. */
  agreementSettledAdjustment: (agreementId: number, settled: number, fromYear: number, effectiveTo: number | null) => new Problem(409, 'agreement-settled',
    `Agreement ${agreementId} is in a finalized settlement of ${settled}: an adjustment from ${fromYear} would change a settled year. ` +
    `${laterOrNextVersion('Adjust', settled, effectiveTo)}`, at('/fromYear', `must be after ${settled}`)),
  /** A responsibility transfer may not move the base of a settled year. */
  agreementSettledTransfer: (agreementId: number, settled: number, fromYear: number, effectiveTo: number | null) => new Problem(409, 'agreement-settled',
    `Agreement ${agreementId} is in a finalized settlement of ${settled}: a transfer from ${fromYear} would change ${fromYear === settled ? 'that year' : `a year up to ${settled}`}, ` +
    'and the years up to a signed one are not changed after it (the years after them carry from them, calculation-rules.md §6). ' +
    `${laterOrNextVersion('Record it', settled, effectiveTo)}`,
    at('/fromYear', `must be after ${settled}`)),
  alreadyTransferred: (debtId: number, districtCode: string | undefined, on: string) => new Problem(409, 'already-transferred',
    `Debt ${debtId} was transferred to ${districtCode ?? ''} on ${on}; a debt is transferred once.`),
  alreadyReversed: (eventId: number) => new Problem(409, 'already-reversed', `Repayment ${eventId} was already reversed.`),

  // —— 413, 415: the body —————————————————————————————————————————————————
  fileTooLarge: (limit: number) => new Problem(413, 'body-too-large',
    `The file is larger than the import limit of ${limit} bytes${limit % MIB === 0 ? ` (${limit / MIB} MiB)` : ''}: nothing of it was imported. ` +
    'Split it into smaller files (by year or by month, say) and import each; each import stands on its own.'),
  notCsv: (instead: string) => new Problem(415, 'unsupported-media-type', `Send the file as Content-Type: text/csv; ${instead}.`),

  // —— 422: well-formed input that breaks a rule ————————————————————————————————
  unknownReferences: (detail: string, issues: readonly InputIssue[]) => new Problem(422, 'unknown-reference', detail, issues),
  zoneNotRegistered: (code: string, pointer: string) => new Problem(422, 'unknown-reference', `No zone ${code} is registered.`, at(pointer, 'no such zone')),
  districtNotRegistered: (code: string, pointer: string) => new Problem(422, 'unknown-reference', `No district ${code} is registered.`, at(pointer, 'no such district')),
  parentCategoryUnknown: (code: string) => new Problem(422, 'unknown-reference', `Parent category ${code} does not exist.`, at('/parentCode', 'no such category')),
  agreementNotInScope: (id: number) => new Problem(422, 'unknown-reference', `No agreement ${id}.`, at('/agreementId', 'no such agreement in your scope')),
  effectiveToBeforeFrom: (effectiveTo: number, effectiveFrom: number) => new Problem(422, 'rule-violated',
    `effectiveTo ${effectiveTo} is before effectiveFrom ${effectiveFrom}.`, at('/effectiveTo', 'before effectiveFrom')),
  totalGroupHasNoBase: (group: string) => new Problem(422, 'rule-violated',
    `Group "${group}" shares the whole amount (basis total): it has no base to adjust.`, at('/group', 'basis total has no base')),
  tooManyAdjustments: (group: string, held: number, max: number) => new Problem(422, 'rule-violated',
    `Group "${group}" already holds ${held} base adjustments, the most a group may hold; record a new agreement with the base as it now stands.`,
    at('/group', `at most ${max} adjustments per group`)),
  /** A base adjustment moves the base up or down from a year on: 0.00 moves nothing (as an advance of 0.00). */
  adjustmentEmpty: () => new Problem(422, 'rule-violated',
    'A base adjustment (基数调整) raises the base (a positive amount) or lowers it (a negative amount) from fromYear on; 0.00 moves nothing, and would only make the agreement\'s draft runs stale.',
    at('/amount', 'not zero')),
  adjustmentNotAfterBaseYear: (baseYear: number) => new Problem(422, 'rule-violated', `fromYear must be after the base year ${baseYear}.`,
    at('/fromYear', `must be after ${baseYear}`)),
  agreementNotInForce: (agreement: { id: number, effectiveFrom: number, effectiveTo: number | null }, year: number) => new Problem(422, 'rule-violated',
    `Agreement ${agreement.id} is not in force in ${year} (${years(agreement.effectiveFrom, agreement.effectiveTo)}).`,
    at('/fiscalYear', 'outside the agreement\'s years')),
  agreementGroupUnknown: (agreementId: number, group: string, names: readonly string[]) => new Problem(422, 'unknown-reference',
    `Agreement ${agreementId} has no group "${group}".`, at('/group', `one of: ${names.join(', ')}`)),
  /** A foreign key of the database refused a write (a race with a deletion the checks could not see). */
  danglingReference: () => new Problem(422, 'unknown-reference', 'The request refers to a record that does not exist.'),
  agreementsNotInForce: (year: number, missing: ReadonlyArray<{ id: number, index: number }>) => new Problem(422, 'unknown-reference',
    `${counted(missing.length, 'agreement')} ${missing.length === 1 ? 'is' : 'are'} unknown or not in force in ${year}.`,
    missing.map(({ id, index }) => ({ pointer: `/agreementIds/${index}`, message: `agreement ${id} is unknown or not in force in ${year}` }))),
  /** An override sets aside disputes: with none to set aside it would print a reason for nothing. */
  overrideWithoutDispute: (runId: number) => new Problem(422, 'rule-violated',
    `No line of settlement run ${runId} is disputed: finalize it without an override.`, at('/override', 'no disputed line to override')),
  /** An advance (预拨) for a year is paid from the year before to the year after it. */
  /** An advance pays the zone (positive) or recovers what was paid (negative): nothing moves with 0.00. */
  advanceEmpty: () => new Problem(422, 'rule-violated',
    'An advance (预拨) pays the zone some amount, or recovers some (a negative amount); 0.00 moves nothing, and would only make a draft run of the year stale.',
    at('/amount', 'not zero')),
  advancePaidOutsideYear: (fiscalYear: number, paidOn: string) => new Problem(422, 'rule-violated',
    `An advance for ${fiscalYear} paid on ${paidOn} cannot be right: advances for ${fiscalYear} are paid from ${fiscalYear - 1} to ${fiscalYear + 1}.`,
    at('/paidOn', `a day from ${fiscalYear - 1}-01-01 to ${fiscalYear + 1}-12-31`)),
  nothingToSettle: (year: number) => new Problem(422, 'nothing-to-settle', `No agreement is in force in ${year}.`, at('/fiscalYear', 'no agreement in force')),
  /** 测算: a scenario settles the years on record and projects later ones from the last of them; with none there is nothing to start from. */
  scenarioWithoutRevenue: (agreementId: number, effectiveTo: number | null) => {
    const upTo = effectiveTo === null ? '' : ` up to ${effectiveTo}, its last year`
    return new Problem(422, 'cannot-settle',
      `Agreement ${agreementId} has no revenue on record${upTo}: a scenario settles the recorded years and projects later ones from the last of them.`,
      at('/agreementId', `no revenue on record for the agreement's groups${upTo}`))
  },
  /** calculation-rules.md §4: a prior_year base needs revenue recorded for Y−1. */
  cannotSettle: (issues: readonly InputIssue[]) => new Problem(422, 'cannot-settle', sentence('The figures cannot be computed', issues), issues),
  overlappingAgreement: (other: { id: number, documentNo: string, effectiveFrom: number, effectiveTo: number | null },
    wanted: { zoneCode: string, districtCode: string, effectiveFrom: number, effectiveTo: number | null }) => new Problem(422, 'overlapping-agreement',
    `Agreement ${other.id} (${other.documentNo}, ${years(other.effectiveFrom, other.effectiveTo)}) already covers some of ` +
    `${years(wanted.effectiveFrom, wanted.effectiveTo)} for ${wanted.zoneCode} and ${wanted.districtCode}; end it first (PATCH effectiveTo) or start this one later.`,
    at('/effectiveFrom', `overlaps agreement ${other.id}`)),
  endOverlaps: (otherId: number) => new Problem(422, 'overlapping-agreement', `Agreement ${otherId} already covers some of those years.`,
    at('/effectiveTo', `overlaps agreement ${otherId}`)),
  invalidRecords: (issues: readonly InputIssue[]) => new Problem(422, 'invalid-records', `${counted(issues.length, 'problem')} in the records; nothing was recorded.`, issues),
  csvHeaderExpected: (header: readonly string[], found: string[] | undefined) => new Problem(422, 'invalid-csv-header',
    found === undefined ? `The file is empty: line 1 must be the header ${header.join(',')}.` : `Line 1 must be the header ${header.join(',')}.`,
    at('/line/1', found === undefined ? 'missing' : `found: ${found.join(',').slice(0, 200)}`)),
  /** `errors`: the problems an import's answer would list (the first of `problems`, all that were found). */
  invalidRows: (rejected: number, rows: number, loaded: number, errors: ReadonlyArray<{ line: number, field: string, message: string }>, problems = errors.length) => new Problem(422, 'invalid-rows',
    `${rejected} of ${counted(rows, 'line')} ${rejected === 1 ? 'is' : 'are'} bad; nothing was loaded. Correct ${rejected === 1 ? 'it' : 'them'}, or send ?partial=true to load the ${counted(loaded, 'good line')}.` +
      (problems > MAX_PROBLEM_ERRORS
        ? ` The first ${MAX_PROBLEM_ERRORS} of the ${problems} problems found in them are listed here; the answer to ?partial=true lists ${problems > errors.length ? `the first ${errors.length}` : 'them all'}.`
        : ''),
    errors.map((e) => ({ pointer: `/line/${e.line}/${e.field}`, message: `line ${e.line}${e.field === 'line' ? '' : `, ${e.field}`}: ${e.message}` }))),
  principalNotPositive: () => new Problem(422, 'rule-violated', 'The principal must be more than zero.', at('/principal', 'must be more than 0.00')),
  outstandingAbovePrincipal: (outstanding: string, principal: string) => new Problem(422, 'rule-violated',
    `The outstanding ${outstanding} is more than the principal ${principal}.`, at('/outstanding', 'at most the principal')),
  transferBeforeRepayments: (lastPayment: string) => new Problem(422, 'rule-violated',
    `Repayments were recorded up to ${lastPayment}; the transfer cannot be dated before them.`, at('/transferredOn', `on or after ${lastPayment}`)),
  /** api-contract.md, Legacy debts: nothing about a debt is dated before its registration. */
  datedBeforeRegistration: (registeredOn: string, what: 'transfer' | 'reversal', pointer: string) => new Problem(422, 'rule-violated',
    `The debt was registered on ${registeredOn}; nothing about it — a ${what} included — is dated before.`, at(pointer, `on or after ${registeredOn}`)),
  /** A transfer (划转) to a district other than the zone's host needs a reason. */
  transferReasonRequired: (debtId: number | undefined, zoneCode: string, hostDistrictCode: string, districtCode: string, pointer: string) => new Problem(422, 'rule-violated',
    `${debtId === undefined ? 'A debt' : `Debt ${debtId}`} of zone ${zoneCode} goes to its host district ${hostDistrictCode}; a transfer to ${districtCode} needs a reason saying why.`,
    at(pointer, `required: ${districtCode} is not the host district ${hostDistrictCode}`)),
  /** A district reverses only the repayments made since the debt was transferred to it. */
  notOwnRepayment: (eventId: number, paidOn: string, districtCode: string, transferredOn: string | undefined) => new Problem(422, 'rule-violated',
    `Repayment ${eventId} of ${paidOn} was made before the debt was transferred to ${districtCode}${transferredOn === undefined ? '' : ` on ${transferredOn}`}: ` +
    'a district reverses only its own repayments; an admin may reverse this one.', at('/params/eventId', `not a repayment of ${districtCode}`)),
  /** calculation-rules.md §6: advancesPaid is what was paid to the zone for the year; a recovery takes back no more than was paid. */
  advancesBelowZero: (agreementId: number, year: number, paid: string, total: string) => new Problem(422, 'rule-violated',
    `Agreement ${agreementId}'s advances (预拨) for ${year} add up to ${paid}; this one would take them to ${total}. ` +
    'A recovered advance (a negative amount) takes back at most what was paid for the year (calculation-rules.md §6: advancesPaid is what was paid to the zone).',
    at('/amount', paid === '0.00' ? 'more than 0.00: nothing was paid for the year to take back' : `at least -${paid} (what was paid for the year)`)),
  /** An advance that would take the year's advances of an agreement beyond 18 integer digits (§1). */
  advancesTooLarge: (agreementId: number, year: number, total: string) => new Problem(422, 'rule-violated',
    `Agreement ${agreementId}'s advances for ${year} would add up to ${total}, more than 18 integer digits (calculation-rules.md §1): ` +
    'its settlement could not print them.', at('/amount', 'the year\'s advances would exceed 18 integer digits')),
  /** A registration or repayment that would take the register's sums beyond 18 integer digits (§1). */
  registerFull: (what: 'outstanding' | 'interest', room: string, pointer: string) => new Problem(422, 'rule-violated',
    `The register's ${what === 'outstanding' ? 'outstanding at registration' : 'interest repaid'}, summed over every debt, would have more than 18 integer digits ` +
    `(calculation-rules.md §1): its summaries could not print it. At most ${room} more can be recorded.`, at(pointer, `at most ${room}`)),
  /** A debt's days that contradict each other (incurred after the day its outstanding figure is of, or maturing before it was incurred). */
  debtDatesDisagree: (issues: readonly InputIssue[]) => new Problem(422, 'rule-violated', 'The debt\'s days contradict each other: see errors for each.', issues),
  repaymentEmpty: () => new Problem(422, 'rule-violated', 'A repayment pays some principal or interest.', at('/principal', 'principal and interest are both zero')),
  /** A debt's record dated later than its kind allows (latestDayFor in src/domain/debt.ts). */
  datedAhead: (what: string, day: string, latest: string, why: string, pointer: string) => new Problem(422, 'rule-violated',
    `The ${what} is dated ${day}, after ${latest}: ${why}.`, at(pointer, `on or before ${latest}`)),
  repaymentBeforeRegistration: (registeredOn: string) => new Problem(422, 'rule-violated',
    `The debt was registered on ${registeredOn}; a repayment cannot be dated before.`, at('/paidOn', `on or after ${registeredOn}`)),
  repaymentBeforeTransfer: (debtId: number, districtCode: string | undefined, on: string) => new Problem(422, 'rule-violated',
    `Debt ${debtId} was transferred to ${districtCode ?? ''} on ${on}; a repayment by the district cannot be dated before the transfer.`, at('/paidOn', `on or after ${on}`)),
  notARepayment: (eventId: number, kind: string) => new Problem(422, 'rule-violated', `Event ${eventId} is a ${kind}; only repayments are reversed.`,
    at('/params/eventId', 'a repayment of the debt')),
  reversalBeforeRepayment: (repaidOn: string) => new Problem(422, 'rule-violated',
    `The repayment is dated ${repaidOn}; its reversal cannot be earlier.`, at('/reversedOn', `on or after ${repaidOn}`)),
  /** `lowestOn`: the day the least is outstanding, `paidOn` or a later day whose repayments leave less than is outstanding on `paidOn`. */
  repaymentExceedsOutstanding: (principal: string, limit: string, paidOn: string, lowest: { outstanding: string, on: string }) => new Problem(422, 'repayment-exceeds-outstanding',
    lowest.on === paidOn
      ? `Principal ${principal} is more than the ${limit} outstanding on ${paidOn}.`
      : `Principal ${principal} is more than can be repaid on ${paidOn}: ${lowest.outstanding} is outstanding that day, but the events dated after it ` +
        `leave ${limit} outstanding on ${lowest.on}, and no balance may go below zero.`,
    at('/principal', `at most ${limit}`)),
  /**
   * A responsibility transfer (事权划转) or a base adjustment (基数调整) moves an increment group's base in the
   * agreement's years only: from another year it would move none (a mistyped year, or one for another version).
   */
  fromYearOutsideAgreement: (record: 'transfer' | 'adjustment', agreement: { id: number, effectiveFrom: number, effectiveTo: number | null }, fromYear: number) => new Problem(422, 'rule-violated',
    `Agreement ${agreement.id} is in force ${years(agreement.effectiveFrom, agreement.effectiveTo)}: ${record === 'transfer' ? 'a transfer' : 'an adjustment'} from ${fromYear} would move no base it settles ` +
    (fromYear < agreement.effectiveFrom ? '(a function moved before effectiveFrom is already in the verified base).' : '(record it under the version that follows).'), at('/fromYear', `within ${years(agreement.effectiveFrom, agreement.effectiveTo)}`)),
  tooManyTransfers: (group: string, held: number, max: number) => new Problem(422, 'rule-violated',
    `Group "${group}" already holds ${held} responsibility transfers, the most a group may hold; record a new agreement with the base as it now stands.`,
    at('/group', `at most ${max} transfers per group`)),
  idempotencyKeyReused: (key: string) => new Problem(422, 'idempotency-key-reused',
    `Idempotency-Key "${key}" was used before with another request (another operation or path, or another body); use a new key for a new request.`,
    at('/headers/idempotency-key', 'already used with another request')),

  // —— 429, 503: try again later ——————————————————————————————————————————————
  rateLimited: (max: number, windowSeconds: number, after: string, retryAfterSeconds: number, by: 'token' | 'address' = 'token') => new Problem(429, 'rate-limited',
    `More than ${max} requests in ${windowSeconds} s ${by === 'token' ? 'with this token' : 'from this address without a token'}; retry in ${after}.`,
    undefined, { 'retry-after': String(retryAfterSeconds) }),
  /** An address that failed to authenticate more often than its budget allows, until its window ends. */
  authenticationFailuresExceeded: (max: number, windowSeconds: number, retryAfterSeconds: number) => new Problem(429, 'authentication-failures-exceeded',
    `More than ${max} failed authentications in ${windowSeconds} s from this address; retry in ${retryAfterSeconds} s with a valid token.`,
    undefined, { 'retry-after': String(retryAfterSeconds) }),
  overloaded: (what: string, value: string) => new Problem(503, 'overloaded', `The service is overloaded (${what} at ${value}); retry shortly.`,
    undefined, { 'retry-after': String(SHED_RETRY_AFTER_SECONDS) }),
  databaseUnavailable: (detail = 'The database is not available at the moment; try again shortly.') => new Problem(503, 'database-unavailable', detail,
    undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) }),
  /** The database answers without this service's tables: re-created or restored under the running service. */
  databaseUnmigrated: (migration?: string) => new Problem(503, 'database-unavailable',
    `The database answers, but without this service's schema${migration === undefined ? '' : ` (migration ${migration} is not applied)`}: ` +
    'it was re-created or restored under the running service. Restarting the service migrates it.',
    undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) }),
  /** A statement ran past its time limit, or the database sent nothing back in time. */
  databaseTimedOut: () => new Problem(503, 'database-unavailable',
    'The database did not answer in time and the request was abandoned; try again shortly. A write whose time ran out while it was being committed may have been saved: ' +
    'repeat it with the same Idempotency-Key, which answers it either way.',
    undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) }),
  shuttingDown: () => new Problem(503, 'shutting-down', 'The service is shutting down; send the request again, it will reach a running instance.',
    undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) }),
  /** A defect of the service, never the client's fault: the request id leads the operators to the log. */
  defect: (requestId: string) => new Problem(500, 'internal', `An unexpected error occurred; quote request id ${requestId} to the operators.`),
} as const
