import { Ajv } from 'ajv'
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
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) =>
    (httpPart === 'body' ? exact : coercing).compile(schema)
}
