import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { pointerSegment } from '../domain/errors.js'

/**
 * Two validators: request bodies are checked exactly as sent (a JSON number is never coerced
 * into an amount string), while query strings, path parameters and headers, which are text by
 * nature, are coerced to the schema's types. Errors are verbose so that problem details can
 * word each one from the schema that failed.
 */
export function validatorCompiler () {
  const options = { allErrors: true, verbose: true, strict: false, removeAdditional: false, useDefaults: false } as const
  const exact = addFormats.default(new Ajv({ ...options, coerceTypes: false }))
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }))
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) =>
    storableText(httpPart === 'body' ? exact.compile(schema) : wholeNumbersInDigits(schema, coercing.compile(schema)))
}

/** A whole number in a query string, path or header as a clerk writes it: decimal digits, a minus sign at most (01 is 1). */
const DIGITS = /^-?\d+$/

/**
 * Coercion reads text as JavaScript reads numbers, so `0xA`, `1e1`, `12.0` or ` 1` passed for 10,
 * 10, 12 and 1: a parameter of type integer (or a list of them) is refused unless written in digits,
 * before the coercing validator sees it.
 */
function wholeNumbersInDigits (schema: object, validate: ValidateFunction): ValidateFunction {
  const properties = (schema as { properties?: Record<string, IntegerSchema & { items?: IntegerSchema }> }).properties ?? {}
  const integers = Object.keys(properties).filter((key) => properties[key]?.type === 'integer' || (properties[key]?.type === 'array' && properties[key].items?.type === 'integer'))
  if (integers.length === 0) return validate
  return checkedFirst((data) => {
    if (data === null || typeof data !== 'object') return undefined
    for (const key of integers) {
      const value = (data as Record<string, unknown>)[key]
      // A parameter of one value given twice is told so by the schema ("is given 2 times"), not pointed at its second value.
      if (Array.isArray(value) && properties[key]?.type !== 'array') continue
      const written = Array.isArray(value) ? value : [value]
      const index = written.findIndex((v) => typeof v === 'string' && !DIGITS.test(v))
      if (index >= 0) {
        return {
          // A keyword of the service's own: its words stand as they are (src/http/problem.ts rewords Ajv's).
          keyword: 'wholeNumberInDigits', instancePath: Array.isArray(value) ? `/${key}/${index}` : `/${key}`, schemaPath: '#', params: { type: 'integer' },
          message: `must be a whole number written in decimal digits, e.g. ${exampleOf(properties[key]?.items ?? properties[key])}, got "${String(written[index])}"`,
        }
      }
    }
    return undefined
  }, validate)
}

interface IntegerSchema { type?: unknown, minimum?: number, maximum?: number, examples?: unknown[] }

/** A value the parameter takes, for its message: its example, else 2021 if a year, else its largest (a month's 12). */
function exampleOf (schema: IntegerSchema | undefined): string {
  const given = schema?.examples?.[0]
  if (typeof given === 'number') return String(given)
  const { minimum = -Infinity, maximum = Infinity } = schema ?? {}
  if (minimum <= 2021 && 2021 <= maximum) return '2021'
  return String(Number.isFinite(maximum) ? maximum : minimum)
}

/** `validate`, after `check`: what `check` finds is the one error, and the schema is not checked. */
function checkedFirst (check: (data: unknown) => ErrorObject | undefined, validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    const found = check(data)
    if (found !== undefined) {
      checked.errors = [found]
      return false
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }) as ValidateFunction
  return checked
}

/** Half of a UTF-16 surrogate pair without its other half: no character, so no text can hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Any half of a surrogate pair, lone or not. */
const SURROGATE = /[\uD800-\uDFFF]/

/** Why PostgreSQL text could not hold `text` as it is, if it could not. */
function unstorable (text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)'
  // Nearly every string holds no surrogate at all (a pair is most often an emoji): one scan settles it.
  if (!SURROGATE.test(text)) return undefined
  // Stored, it would silently become U+FFFD: refused instead of changed.
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff without its pair)'
  return undefined
}


/**
 * The pointer to the first string (or object key) in `data` that text cannot hold, and why;
 * iterative, for deeply nested input. A pointer is written only for what is found: each value
 * waits with its parent's place in `pending` and its key.
 */
function unstorableAt (data: unknown): { pointer: string, message: string } | undefined {
  const pending: Array<{ value: unknown, parent?: Pending, key?: string }> = [{ value: data }]
  type Pending = typeof pending[number]
  const pointerOf = (found: Pending): string => {
    const keys: string[] = []
    for (let p: Pending | undefined = found; p?.key !== undefined; p = p.parent) keys.push(pointerSegment(p.key))
    return keys.reverse().map((key) => `/${key}`).join('')
  }
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value } = next
    if (typeof value === 'string') {
      const message = unstorable(value)
      if (message !== undefined) return { pointer: pointerOf(next), message }
    } else if (value !== null && typeof value === 'object') {
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue
        const message = unstorable(key)
        if (message !== undefined) return { pointer: pointerOf({ value: undefined, parent: next, key }), message }
        pending.push({ value: (value as Record<string, unknown>)[key], parent: next, key })
      }
    }
  }
  return undefined
}

/**
 * PostgreSQL text cannot hold U+0000 or half a surrogate pair, so no request string may: refused
 * as a schema error (400) before the schema's own checks, in every part of the request.
 */
function storableText (validate: ValidateFunction): ValidateFunction {
  return checkedFirst((data) => {
    const found = unstorableAt(data)
    return found === undefined ? undefined : { keyword: 'text', instancePath: found.pointer, schemaPath: '#', params: {}, message: found.message }
  }, validate)
}
