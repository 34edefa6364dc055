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
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) => withoutNul((httpPart === 'body' ? exact : coercing).compile(schema))
}

/** The pointer to a string (or object key) in `data` that holds U+0000, if any; iterative, for deeply nested input. */
function nulAt (data: unknown): string | undefined {
  const pending: Array<[unknown, string]> = [[data, '']]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, pointer] = next
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return pointer
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const path = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
        if (key.includes('\u0000')) return path
        pending.push([child, path])
      }
    }
  }
  return undefined
}

/**
 * PostgreSQL text cannot hold U+0000, so no request string may: refused as a schema error (400)
 * before the schema's own checks, in every part of the request.
 */
function withoutNul (validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    const pointer = nulAt(data)
    if (pointer !== undefined) {
      checked.errors = [{ keyword: 'nul', instancePath: pointer, schemaPath: '#', params: {}, message: 'must not contain the NUL character (U+0000)' }]
      return false
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }) as ValidateFunction
  return checked
}
