import { readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

/*
 * The published contract checks itself (api-contract.md, Public endpoints: /openapi.json): every response a test receives through
 * testApp is held against the committed openapi/openapi.json. A status the operation does not
 * document, a content type it does not list, a JSON body its schema refuses (an unknown field
 * included: every object is closed), or a documented header whose value its schema refuses fails
 * the test that sent the request.
 */

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: object }>, headers?: Record<string, { $ref?: string, schema?: { type?: string } }> }>
}

interface PathEntry {
  template: string
  pattern: RegExp
  parameters: number
  operations: Record<string, Operation>
}

const document = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, object>, headers?: Record<string, { schema?: { type?: string } }> }
}

// Literal segments win over parameters: /v1/debts/summary before /v1/debts/{id}.
const paths: PathEntry[] = Object.entries(document.paths).map(([template, operations]) => ({
  template,
  operations,
  parameters: (template.match(/\{/g) ?? []).length,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
})).sort((a, b) => a.parameters - b.parameters)

const ajv = addFormats.default(new Ajv({ strict: false, allErrors: true, validateFormats: true }))
// Shared schemas (the problem body) are referred to as #/components/schemas/…: resolved from the document.
ajv.addSchema({ $id: 'openapi.json', components: document.components ?? {} })
const validators = new Map<string, ValidateFunction>()

function validatorFor (key: string, schema: object): ValidateFunction {
  let validate = validators.get(key)
  if (validate === undefined) {
    validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"openapi.json#/components/')) as object)
    validators.set(key, validate)
  }
  return validate
}

export interface ObservedResponse {
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

/**
 * What is wrong with a response to `method url` by the document, or undefined when it conforms.
 * Requests to paths the document does not list (Swagger UI, unknown routes) are not checked.
 */
export function contractViolation (method: string, url: string, response: ObservedResponse): string | undefined {
  const path = url.split('?')[0] ?? url
  const entry = paths.find((p) => p.pattern.test(path))
  if (entry === undefined) return undefined
  const operation = entry.operations[method.toLowerCase()]
  if (operation === undefined) return undefined
  const where = `${method.toUpperCase()} ${entry.template} → ${response.statusCode}`
  const documented = operation.responses[String(response.statusCode)]
  if (documented === undefined) {
    return `${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')}); body ${response.body.slice(0, 300)}`
  }
  // A documented header the answer carries holds what its schema says (a number as its digits).
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const value = response.headers[name.toLowerCase()]
    if (value === undefined) continue
    const schema = header.$ref === undefined ? header.schema : document.components?.headers?.[header.$ref.split('/').pop() ?? '']?.schema
    if (schema === undefined) return `${where}: header ${name} has no schema`
    const text = String(value)
    const typed = schema.type === 'integer' && /^-?\d+$/.test(text) ? Number(text) : text
    const validate = validatorFor(`header ${name}`, schema)
    if (!validate(typed)) return `${where}: header ${name} ${JSON.stringify(text)} does not match the documented schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}`
  }
  if (response.body === '' || documented.content === undefined) return undefined
  const contentType = String(response.headers['content-type'] ?? '').split(';')[0]!.trim()
  const media = documented.content[contentType]
  if (media === undefined) {
    return `${where}: content type ${contentType} not documented (documented: ${Object.keys(documented.content).join(', ')})`
  }
  if (!contentType.endsWith('json') || media.schema === undefined) return undefined
  let body: unknown
  try {
    body = JSON.parse(response.body)
  } catch {
    return `${where}: body is not JSON: ${response.body.slice(0, 200)}`
  }
  const validate = validatorFor(`${method} ${entry.template} ${response.statusCode} ${contentType}`, media.schema)
  if (validate(body)) return undefined
  return `${where}: body does not match the documented schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}; body ${response.body.slice(0, 300)}`
}
