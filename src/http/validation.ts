import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

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
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) => storableText((httpPart === 'body' ? exact : coercing).compile(schema))
}

/** Half of a UTF-16 surrogate pair without its other half: no character, so no text can hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why PostgreSQL text could not hold `text` as it is, if it could not. */
function unstorable (text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)'
  // Stored, it would silently become U+FFFD: refused instead of changed.
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff without its pair)'
  return undefined
}

/** The pointer to the first string (or object key) in `data` that text cannot hold, and why; iterative, for deeply nested input. */
function unstorableAt (data: unknown): { pointer: string, message: string } | undefined {
  const pending: Array<[unknown, string]> = [[data, '']]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, pointer] = next
    if (typeof value === 'string') {
      const message = unstorable(value)
      if (message !== undefined) return { pointer, message }
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const path = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
        const message = unstorable(key)
        if (message !== undefined) return { pointer: path, message }
        pending.push([child, path])
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
  const checked = ((data: unknown) => {
    const found = unstorableAt(data)
    if (found !== undefined) {
      checked.errors = [{ keyword: 'text', instancePath: found.pointer, schemaPath: '#', params: {}, message: found.message }]
      return false
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }) as ValidateFunction
  return checked
}
