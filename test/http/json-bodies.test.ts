import { isUtf8 } from 'node:buffer'
import fc from 'fast-check'
import t from 'tap'
import { firstNonUtf8Byte, repeatedNameIn } from '../../src/http/json-bodies.js'
import { holds } from '../properties.js'

// api-contract.md, Errors: a JSON body that is not UTF-8 is a 400 saying where its first bad byte is.

t.test('firstNonUtf8Byte: -1 exactly when the bytes are UTF-8; otherwise everything before it is, and it begins no character', async (t) => {
  // Text, text with one byte changed, and noise: most of it well-formed, much of it not.
  const bytes = fc.oneof(
    fc.string({ unit: 'binary' }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    fc.tuple(fc.string({ unit: 'binary', minLength: 1 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, at, byte]) => {
      const b = new Uint8Array(Buffer.from(s, 'utf8'))
      b[at % b.length] = byte
      return b
    }),
    fc.uint8Array({ maxLength: 40 }),
  )
  holds(t, fc.property(bytes, (b) => {
    const offset = firstNonUtf8Byte(b)
    if (offset === -1) return isUtf8(b)
    return !isUtf8(b) && isUtf8(b.subarray(0, offset)) && !isUtf8(b.subarray(offset))
  }), { numRuns: 5000, seed: 20261202 })
  t.equal(firstNonUtf8Byte(Buffer.from('{"name":"中文"}')), -1)
  t.equal(firstNonUtf8Byte(Buffer.from([0x7b, 0x22, 0xd6, 0xd0])), 2, 'GBK 中 at byte 2')
  t.equal(firstNonUtf8Byte(Buffer.from([0x61, 0xed, 0xa0, 0x80])), 1, 'an encoded surrogate half')
  t.equal(firstNonUtf8Byte(Buffer.from([0xc0, 0xaf])), 0, 'an overlong /')
  t.equal(firstNonUtf8Byte(Buffer.from([0x61, 0xe4, 0xb8])), 1, 'a character cut short at the end')
})

t.test('RFC 8259 §4, repeatedNameIn: JSON as any writer writes it has no name given twice, whatever its names hold; one given twice is found at its pointer', async (t) => {
  // Names and strings with quotes, backslashes, colons and any character; written compact or indented.
  const value = fc.jsonValue({ maxDepth: 4 })
  holds(t, fc.property(value, fc.constantFrom(undefined, 2, '\t'), (v, indent) => {
    const text = JSON.stringify(v, null, indent)
    return repeatedNameIn(text, JSON.parse(text)) === undefined
  }), { numRuns: 3000, seed: 20261206 }, 'JSON values')
  // An object of any names, one of them given again with another value, inside an array inside an object.
  const object = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 5 })
  holds(t, fc.property(object, fc.nat(), fc.jsonValue({ maxDepth: 2 }), (o, pick, again) => {
    const names = Object.keys(o)
    const name = names[pick % names.length] as string
    const inner = JSON.stringify(o)
    const text = `{"outer":[true,${inner.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(again)}}]}`
    const problem = repeatedNameIn(text, JSON.parse(text))
    const pointer = `/outer/1/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`
    return problem?.status === 400 && problem.errors?.[0]?.pointer === pointer && problem.errors[0].message === 'is given 2 times'
  }), { numRuns: 2000, seed: 20261206 }, 'objects with a name given twice')
})
