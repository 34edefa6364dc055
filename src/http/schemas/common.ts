import Type from 'typebox'
import { DAY_PATTERN } from '../../domain/days.js'
import { MAX_PROBLEM_ERRORS } from '../../domain/errors.js'
import { GROWTH_PATTERN, MONEY_PATTERN, NON_NEGATIVE_MONEY_PATTERN, RATE_PATTERN } from '../../domain/money.js'
import { SAYS_SOMETHING } from '../../domain/text.js'

/*
 * Building blocks of the route schemas. One schema per route validates the request, types the
 * handler, serializes the response and documents the operation; every description gives the
 * Chinese term first (api-contract.md).
 */

/** 金额: yuan as a string, at most two decimals (calculation-rules.md §1). */
export const Money = (description: string) =>
  Type.String({ pattern: MONEY_PATTERN, maxLength: 19, description: `${description} (元, string, at most two decimals)`, examples: ['1000000.00'] })

export const NonNegativeMoney = (description: string) =>
  Type.String({ pattern: NON_NEGATIVE_MONEY_PATTERN, maxLength: 18, description: `${description} (元, string, ≥ 0, at most two decimals)`, examples: ['0.00'] })

/**
 * Printed amounts always have exactly two decimals and at most 18 integer digits (calculation-rules.md
 * §1): whatever would print a longer figure is refused with a 422 naming the input that led there.
 */
export const MoneyOut = (description: string) =>
  Type.String({ pattern: '^-?\\d{1,18}\\.\\d{2}$', maxLength: 22, description: `${description} (元, exactly two decimals, at most 18 integer digits)` })

/** 比例: a rate between 0 and 1, at most six decimals. */
export const Rate = (description: string) =>
  Type.String({ pattern: RATE_PATTERN, maxLength: 8, description: `${description} (string between 0 and 1, at most six decimals)`, examples: ['0.60'] })

export const RateOut = (description: string) =>
  Type.String({ pattern: '^\\d\\.\\d{2,6}$', maxLength: 8, description })

/** Growth ratios as printed (an escalating base's growthRate, a band's upToGrowth): at least two decimals, the sign and up to three integer digits the input allows. */
export const GrowthOut = (description: string) =>
  Type.String({ pattern: '^-?\\d{1,3}\\.\\d{2,6}$', maxLength: 11, description })

export const Growth = (description: string) =>
  Type.String({ pattern: GROWTH_PATTERN, maxLength: 11, description: `${description} (string, at most six decimals)`, examples: ['0.10'] })

/** 财政年度 */
export const FiscalYear = (description = '财政年度 fiscal year') =>
  Type.Integer({ minimum: 1990, maximum: 2100, format: 'int32', description, examples: [2021] })

export const StringEnum = <T extends string[]>(values: [...T], description: string) =>
  Type.Enum(values, { type: 'string', description })

/** RFC 9457 problem details (application/problem+json). */
export const Problem = Type.Object({
  type: Type.String({ maxLength: 200, description: '问题类型 problem type URI' }),
  title: Type.String({ maxLength: 200, description: '标题 short summary of the problem type' }),
  status: Type.Integer({ minimum: 400, maximum: 599, format: 'int32', description: '状态码 HTTP status code' }),
  detail: Type.String({ maxLength: 10000, description: '详情 what is wrong, in words' }),
  instance: Type.Optional(Type.String({ maxLength: 2000, description: '请求路径 the request path' })),
  requestId: Type.Optional(Type.String({ maxLength: 100, description: '请求编号 request id, also in the server log' })),
  errors: Type.Optional(Type.Array(Type.Object({
    pointer: Type.String({ maxLength: 500, description: '位置 JSON pointer (RFC 6901) to the offending field' }),
    message: Type.String({ maxLength: 1000, description: '说明 what is wrong with it' }),
  }, { additionalProperties: false }), { maxItems: MAX_PROBLEM_ERRORS, description: '字段错误 one entry per offending field' })),
}, { additionalProperties: false, description: '错误 RFC 9457 problem details' })

/** The problem responses every /v1 operation can give, for the OpenAPI document. */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  const titles: Record<number, string> = {
    400: '请求格式错误 malformed or schema-invalid input',
    401: '未认证 no or bad bearer token',
    403: '无权限 the role may not do this',
    404: '不存在 unknown, or outside the caller\'s scope',
    409: '冲突 conflict',
    413: '请求体过大 body too large',
    414: '路径过长 a path parameter longer than any valid value',
    415: '不支持的媒体类型 unsupported content type',
    422: '违反规则 well-formed input that breaks a rule',
    429: '请求过多 more requests than the token\'s budget; see Retry-After',
    500: '内部错误 a defect in the service; quote the request id to the operators',
    503: '服务不可用 the database does not answer, or the service sheds load; see Retry-After',
  }
  return Object.fromEntries(statuses.map((s) => [s, {
    description: titles[s] ?? 'problem',
    content: { 'application/problem+json': { schema: Problem } },
  }]))
}

/** ?limit=&cursor= of every list (api-contract.md, Lists). */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, format: 'int32', description: '每页条数 page size, default 100, at most 1000' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: '游标 nextCursor of the previous page' })),
}

export const pageLimit = (limit: number | undefined) => limit ?? 100

/** { items, nextCursor } of every list. */
export const PageOf = <T extends Type.TSchema>(item: T, description: string) => {
  const examples = (item as { examples?: unknown[] }).examples
  return Type.Object({
    items: Type.Array(item, { maxItems: 1000, description }),
    nextCursor: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description: '下一页游标 cursor of the next page; null on the last page' }),
  }, { additionalProperties: false, ...(examples === undefined ? {} : { examples: [{ items: examples.slice(0, 1), nextCursor: null }] }) })
}

export const Timestamp = (description: string) => Type.String({ format: 'date-time', maxLength: 40, description })
/** The codes' patterns (src/http/problem.ts words each for a client). */
export const DISTRICT_CODE_PATTERN = '^[1-9][0-9]{5}$'
export const ZONE_CODE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'
export const CATEGORY_CODE_PATTERN = '^[0-9A-Za-z][0-9A-Za-z.-]{0,31}$'
export const DistrictCode = (description = '行政区划代码 6-digit GB/T 2260 division code of the district') =>
  Type.String({ pattern: DISTRICT_CODE_PATTERN, maxLength: 6, description, examples: ['370214'] })
export const ZoneCode = (description = '功能区代码 the zone\'s code') =>
  Type.String({ pattern: ZONE_CODE_PATTERN, maxLength: 32, description, examples: ['QD-HT'] })
export const CategoryCode = (description = '科目编码 government revenue classification code (政府收支分类科目)') =>
  Type.String({ pattern: CATEGORY_CODE_PATTERN, maxLength: 32, description, examples: ['10101'] })
/** 日期 a real day written YYYY-MM-DD, from 1900-01-01 to 2199-12-31 (src/domain/days.ts). */
export const DateString = (description: string) =>
  Type.String({ pattern: DAY_PATTERN, format: 'date', maxLength: 10, description, examples: ['2021-06-30'] })

export { MAX_BASE_ADJUSTMENTS } from '../../domain/agreement.js'

/**
 * The longest explanation line: the base line lists every adjustment, each at most
 * " + adjustment <19 characters> (from <year>, <documentNo of 100>)" ≈ 150 characters, and every
 * responsibility transfer, each at most its function (200), its document (100) and F(Y) computed
 * exactly (an indexed amount shrinking for a century prints some 700 decimals): 100 of each stay
 * under 130,000 characters.
 */
export const EXPLANATION_LINE_MAX = 200_000

/** The largest id PostgreSQL's integer identity columns hold. */
const INT4_MAX = 2147483647

/** 编号 a record's id in a body or a response (an integer identity column). */
export const RecordId = (description: string, examples?: number[]) =>
  Type.Integer({ minimum: 1, maximum: INT4_MAX, format: 'int32', description, ...(examples === undefined ? {} : { examples }) })

/** 条数 a count of rows or lines, or a line number. */
export const Count = (description: string, minimum = 0) =>
  Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER, format: 'int64', description })

/**
 * An import's problems beyond those its `errors` lists (the first 10,000): present only when the
 * list is cut, so that the answer says so itself, not only its schema.
 */
export const UnlistedErrors = () => Type.Optional(Count('未列出 problems found beyond those errors lists (the first 10000); absent when it lists every one', 1))

/**
 * 1 to 2147483647 (INT4_MAX) in decimal digits, without leading zeros: every id an identity column
 * can hold, digit by digit (from 2147483647 down: the longest prefix kept, the next digit lower).
 */
/** Text that says something: a character neither white space nor invisible (src/domain/text.ts). Ajv reads patterns as Unicode. */
export const NOT_BLANK_PATTERN = SAYS_SOMETHING.source

/** A required text field of at most `maxLength` characters that is not blank (spaces alone are refused, 400). */
export const Words = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: NOT_BLANK_PATTERN, description })

/**
 * What a name printed on statements never holds: control characters (a tab, a line break), the
 * line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates,
 * which make printed text read otherwise than it is stored (a key's label U+202E "a‮b" printed as a
 * reviewer's name; found by a probe of the keys).
 */
export const NOT_IN_NAMES = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'
/**
 * What may come before a name's first character that says something: the white space and invisible
 * characters NOT_BLANK_PATTERN's class leaves out, less NOT_IN_NAMES. No character is in both this
 * class and NOT_BLANK_PATTERN's, so the pattern below is matched in one pass: a class that overlapped
 * it (any character but NOT_IN_NAMES) took time in the square of the length (a label of 160,000
 * characters held the service 56 s; found by review).
 */
export const BLANK_IN_NAMES = ' \\u00a0\\u00ad\\u0600-\\u0605\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u1680\\u180e\\u2000-\\u200d\\u202f\\u205f-\\u2064\\u206a-\\u206f\\u3000\\ufeff\\ufff9-\\ufffb'
/** One line that says something, with none of NOT_IN_NAMES. */
export const NAME_PATTERN = `^[${BLANK_IN_NAMES}]*${NOT_BLANK_PATTERN}[^${NOT_IN_NAMES}]*$`

/** A name: Words on one line, without the characters that make printed text read otherwise (NAME_PATTERN). */
export const Name = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: NAME_PATTERN, description })

export const ID_PATTERN = '^(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|' +
  '214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])$'

/**
 * A record's id in a path or a query string: decimal digits, typed as text as OWASP API1 asks of
 * identifiers in URLs, within the range of an identity column (an id beyond it is a 400 saying
 * so, not a record that is not found). Read it with `idFromParam`.
 */
export const IdParam = (description: string, example: number) =>
  Type.String({ pattern: ID_PATTERN, maxLength: 10, description: `${description} (1 to ${INT4_MAX})`, examples: [String(example)] })

/** The id an IdParam names (its pattern keeps it within 1 to INT4_MAX). */
export const idFromParam = (text: string): number => Number(text)

/** The formats a table downloads as (statements, summaries). */
export const TABLE_FORMATS = ['csv', 'xlsx'] as const

/** Every /v1 operation: Authorization: Bearer <token>. */
export const security = [{ bearerAuth: [] }]

/** The Idempotency-Key header of every creating POST (api-contract.md, Idempotency). */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: '幂等键 Idempotency-Key: a retry with the same key and body replays the first response' })),
})
