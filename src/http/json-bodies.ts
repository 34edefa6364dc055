import { isUtf8 } from 'node:buffer'
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify'
import { parse as parseJsonTree, type ElementNode, type MemberNode, type ValueNode } from '@humanwhocodes/momoa'
import { pointerSegment, Problems, type Problem } from '../domain/errors.js'

/**
 * The offset of the first byte of `body` that does not begin a well-formed UTF-8 character; -1
 * when every one does. Each multi-byte sequence is checked whole by isUtf8 (overlong forms and
 * surrogates included).
 */
export function firstNonUtf8Byte (body: Uint8Array): number {
  for (let i = 0; i < body.length;) {
    const lead = body[i] ?? 0
    const length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0
    if (length === 0 || i + length > body.length || (length > 1 && !isUtf8(body.subarray(i, i + length)))) return i
    i += length
  }
  return -1
}

/** How many times the request gives the header `name` (lower case): Node joins some headers given twice and drops others. */
export function timesGiven (request: FastifyRequest, name: string): number {
  const raw = request.raw.rawHeaders
  let times = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.length === name.length && raw[i]?.toLowerCase() === name) times++
  return times
}

/** The body types a route's schema declares it takes (`consumes`); undefined where it declares none (JSON). */
export function consumedTypes (request: FastifyRequest): readonly unknown[] | undefined {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes
  return Array.isArray(consumes) ? consumes : undefined
}

/**
 * Bodies are taken as they are written (identity): a compressed body (Content-Encoding: gzip, say)
 * is 415 saying so, before it is read; read as it came, its bytes would be refused as text that is
 * not UTF-8, with advice about GBK that does not apply.
 *
 * And a body has one type: two Content-Type headers are 400. Node keeps the first and drops the
 * others, so `application/json` then `text/csv` was read as JSON, whichever the client meant.
 */
export function refuseAmbiguousBodies (app: FastifyInstance): void {
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const encoding = request.headers['content-encoding']
    const { 'content-length': length, 'transfer-encoding': chunked } = request.headers
    // A GET or HEAD is answered without its body, whatever it is sent with; so is a request no route takes (404).
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && !request.is404 && (chunked !== undefined || (length !== undefined && length !== '0'))
    if (hasBody && request.headers['content-type'] !== undefined) {
      const times = timesGiven(request, 'content-type')
      if (times > 1) {
        done(Problems.contentTypeRepeated(times))
        return
      }
    }
    if (encoding === undefined || !hasBody || encoding.split(',').every((coding) => /^\s*(identity\s*)?$/i.test(coding))) {
      done(null, payload)
      return
    }
    done(Problems.unacceptedRequest(415, 'FST_ERR_CTP_INVALID_CONTENT_ENCODING',
      `The body is sent with Content-Encoding ${JSON.stringify(encoding.slice(0, 100))}, which this service does not take: send it uncompressed (identity).`))
  })
}

/**
 * JSON bodies as Fastify reads them (its own parser: empty bodies, prototype poisoning), but
 * refused when they are not UTF-8: decoded as they were, the bytes of text saved in GBK would be
 * stored as U+FFFD, a name or a creditor turned into question marks (RFC 8259 §8.1: JSON
 * exchanged between systems is UTF-8). A body that is not JSON says why, as JSON.parse found it.
 */
export function acceptJsonBodies (app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // A request no route takes is 404, whatever its body holds (gzip bytes, GBK, not JSON).
    if (request.is404) {
      done(null, undefined)
      return
    }
    // An operation that takes another type (the CSV imports) refuses JSON whatever it holds: 415, not a parse error of what may be CSV.
    const consumes = consumedTypes(request)
    if (consumes !== undefined && !consumes.includes('application/json')) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']), undefined)
      return
    }
    const bytes = body as Buffer
    if (!isUtf8(bytes)) {
      done(Problems.notUtf8Body(Math.max(0, firstNonUtf8Byte(bytes))), undefined)
      return
    }
    // UTF-8 through and through: decoding it loses nothing.
    const text = bytes.toString('utf8')
    parse(request, text, (error: Error | null, value?: unknown) => {
      const code = (error as FastifyError | null)?.code
      if (error === null) {
        // A name given twice in one object: JSON.parse kept the last, silently ("amount" 1.00, then 100000.00).
        done(repeatedNameIn(text, value) ?? null, value)
        return
      }
      if (code !== 'FST_ERR_CTP_INVALID_JSON_BODY') {
        done(error, value)
        return
      }
      // Fastify's own error does not say what is wrong: the parser's reason does, and where it stopped.
      const json = text.replace(/^\uFEFF/, '')
      try {
        JSON.parse(json)
      } catch (parseError) {
        const reason = parseError instanceof Error ? parseError.message : 'it could not be parsed'
        done(Problems.notJson(code, reason, whereJsonStops(json, reason)), undefined)
        return
      }
      done(Problems.notJson(code, 'it holds a __proto__ or constructor.prototype key'), undefined)
    })
  })
}

/**
 * Where JSON.parse stopped reading `json`, which it refused for `reason`: the value it was reading
 * (a JSON pointer: the member or element, or the object awaiting a name) and the line and column,
 * so that a body of many records says which one to mend. Node's reason names the position for
 * some faults and the end of the input for another; for the rest ("Unexpected token '}', … is not
 * valid JSON") the tree's parser finds it. Undefined when neither can say.
 */
function whereJsonStops (json: string, reason: string): { pointer: string, message: string } | undefined {
  const offset = stopOffset(json, reason)
  if (offset === undefined) return undefined
  // Lines end as a text editor ends them: CR LF, LF or CR alone (JSON takes each as white space).
  let line = 1
  let lineStart = 0
  for (const found of json.slice(0, offset).matchAll(/\r\n|\r|\n/g)) {
    line++
    lineStart = found.index + found[0].length
  }
  // Node's reason without its excerpt of the body (cut at either end when long) or its position.
  const fault = reason.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '').replace(/ in JSON at position \d+$/, '').replace(/ at position \d+$/, '')
  return { pointer: pointerAt(json, offset), message: `is not valid JSON at line ${line}, column ${offset - lineStart + 1}: ${fault}` }
}

function stopOffset (json: string, reason: string): number | undefined {
  // Node's own position ends its reason ("… in JSON at position 48", "… after JSON at position 8").
  const position = / at position (\d+)$/.exec(reason)
  if (position !== null) return Math.min(Number(position[1]), json.length)
  if (reason.startsWith('Unexpected end of JSON input')) return json.length
  try {
    parseJsonTree(json)
  } catch (error) {
    const offset = (error as { offset?: unknown }).offset
    if (typeof offset === 'number' && offset >= 0 && offset <= json.length) return offset
  }
  return undefined
}

/**
 * The JSON pointer of the value being read at `offset` of `json`, whose text before it reads as
 * JSON so far: each open array's element, each open object's member once its name and colon are
 * read (an object awaiting a name is itself the place).
 */
function pointerAt (json: string, offset: number): string {
  const open: Array<{ array: boolean, segment: string | undefined, index: number }> = []
  // Values nested deeper than a pointer is printed (a problem's message is cut at 500 characters)
  // are counted, not followed: a megabyte of "[[[[" is a million of them.
  let deeper = 0
  let name = ''
  for (let i = 0; i < offset; i++) {
    const char = json[i]
    const top = deeper > 0 ? undefined : open.at(-1)
    if (char === '"') {
      let end = i + 1
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1
      if (top !== undefined && !top.array && top.segment === undefined) name = stringValue(json.slice(i, end + 1))
      i = end
    } else if (char === '{' || char === '[') {
      if (open.length < MAX_POINTER_DEPTH) open.push({ array: char === '[', segment: char === '[' ? '0' : undefined, index: 0 })
      else deeper++
    } else if (char === '}' || char === ']') {
      if (deeper > 0) deeper--
      else open.pop()
    } else if (char === ':' && top !== undefined && !top.array) {
      top.segment = name
    } else if (char === ',' && top !== undefined) {
      top.segment = top.array ? String(++top.index) : undefined
    }
  }
  let pointer = ''
  for (const { segment } of open) {
    if (segment === undefined) break
    pointer += `/${pointerSegment(segment)}`
  }
  return pointer
}

/** The depth to which pointerAt follows the values a body opens. */
const MAX_POINTER_DEPTH = 250

/** A JSON string literal's text; as written, without its quotes, when it does not read as one. */
function stringValue (literal: string): string {
  try {
    const value: unknown = JSON.parse(literal)
    if (typeof value === 'string') return value
  } catch { /* as written */ }
  return literal.slice(1, -1)
}

/** The problem of a name given twice in one object of the JSON `text`, which parsed as `value`; undefined when none is. */
export function repeatedNameIn (text: string, value: unknown): Problem | undefined {
  return pairsWritten(text) === pairsParsed(value) ? undefined : repeatedName(text)
}

/** The name–value pairs a JSON text writes: its colons outside strings (the text is JSON, parsed already). */
function pairsWritten (text: string): number {
  let pairs = 0
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (char === 0x3A) pairs++
    else if (char === 0x22) {
      // Skip the string, escapes and all, to its closing quote.
      for (i++; i < text.length; i++) {
        const inside = text.charCodeAt(i)
        if (inside === 0x5C) i++
        else if (inside === 0x22) break
      }
    }
  }
  return pairs
}

/**
 * The name–value pairs of the objects in a parsed JSON value; fewer than written when a name was
 * given twice. Iterative, for deeply nested input; `for…in` allocates nothing, and what JSON.parse
 * makes has no enumerable property but its own (a __proto__ key is refused before).
 */
function pairsParsed (value: unknown): number {
  let pairs = 0
  // Objects alone go on the stack: `for…in` over a string would count its characters.
  const pending = typeof value === 'object' && value !== null ? [value] : []
  while (pending.length > 0) {
    const next = pending.pop()
    if (Array.isArray(next)) {
      for (const element of next as unknown[]) if (typeof element === 'object' && element !== null) pending.push(element)
      continue
    }
    for (const name in next as Record<string, unknown>) {
      // Own names alone, should anything have made a property of Object.prototype enumerable.
      if (!Object.hasOwn(next as object, name)) continue
      pairs++
      const member = (next as Record<string, unknown>)[name]
      if (typeof member === 'object' && member !== null) pending.push(member)
    }
  }
  return pairs
}

/**
 * The problem of a name given twice in one object of `text` (objects taken in the order they begin
 * in the text: an object before those it holds), with its pointer: `text` is read again, as a tree, only when a name was given twice.
 */
function repeatedName (text: string): Problem {
  const nameOf = (member: MemberNode) => member.name.type === 'String' ? member.name.value : member.name.name
  const pending: Array<{ node: ValueNode, pointer: string }> = []
  try {
    pending.push({ node: parseJsonTree(text.replace(/^\uFEFF/, '')).body, pointer: '' })
  } catch {
    // JSON.parse read it and the tree's parser cannot (nested too deep for it, say): the body is the place.
    return Problems.jsonKeyRepeated('')
  }
  while (pending.length > 0) {
    const { node, pointer } = pending.pop() as { node: ValueNode, pointer: string }
    // Children go on the stack last first: popped, they come in the order they begin in the text.
    if (node.type === 'Array') {
      for (let i = node.elements.length - 1; i >= 0; i--) pending.push({ node: (node.elements[i] as ElementNode).value, pointer: `${pointer}/${i}` })
    }
    if (node.type !== 'Object') continue
    const names = node.members.map(nameOf)
    const times = new Map<string, number>()
    for (const name of names) times.set(name, (times.get(name) ?? 0) + 1)
    for (const [name, count] of times) if (count > 1) return Problems.jsonKeyRepeated(`${pointer}/${pointerSegment(name)}`, name, count)
    for (let i = node.members.length - 1; i >= 0; i--) pending.push({ node: (node.members[i] as MemberNode).value, pointer: `${pointer}/${pointerSegment(names[i] as string)}` })
  }
  return Problems.jsonKeyRepeated('')
}
