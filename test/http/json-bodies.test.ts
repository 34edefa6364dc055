import { isUtf8 } from 'node:buffer'
import fc from 'fast-check'
import t from 'tap'
import { firstNonUtf8Byte } from '../../src/http/json-bodies.js'
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
