import { Readable } from 'node:stream'
import t from 'tap'
import { openCsvImport } from '../../src/services/csv-file.js'

/* The CSV import's UTF-8 check as bytes arrive in chunks (api-contract.md, Revenue: CSV is UTF-8). */

const read = async (chunks: Buffer[]) => {
  const file = openCsvImport(Readable.from(chunks), ['a', 'b'], 1_000_000, 'or JSON')
  const lines: string[][] = []
  for await (const { fields } of file.lines) lines.push(fields)
  return lines
}

t.test('a character split across chunks is read whole', async (t) => {
  const bytes = Buffer.from('a,b\n示例,城阳\n')
  for (let cut = 1; cut < bytes.length; cut++) {
    t.same(await read([bytes.subarray(0, cut), bytes.subarray(cut)]), [['示例', '城阳']], `cut at byte ${cut}`)
  }
})

t.test('bytes that are not UTF-8 are refused with the line they are on, across chunks too', async (t) => {
  const gbk = Buffer.from([0xca, 0xbe, 0xc0, 0xfd]) // 示例 in GBK
  const file = Buffer.concat([Buffer.from('a,b\nx,y\nz,'), gbk, Buffer.from('\n')])
  for (const cut of [3, 9, 11, file.length - 1]) {
    await t.rejects(read([file.subarray(0, cut), file.subarray(cut)]), { status: 400, type: 'not-utf8', message: /line 3/ }, `cut at byte ${cut}`)
  }
  await t.rejects(read([Buffer.from('a,b\nx,'), Buffer.from([0xe7, 0xa4])]), { status: 400, message: /line 2/ }, 'a character cut short at the end')
})

t.test('a line longer than any line of an import is 400 at that line, read no further; one just under it is read', async (t) => {
  const { MAX_LINE_CHARACTERS } = await import('../../src/services/csv-file.js')
  const under = 'x'.repeat(MAX_LINE_CHARACTERS - 10)
  t.same(await read([Buffer.from(`a,b\n1,${under}\n2,3\n`)]), [['1', under], ['2', '3']])
  // A zone code of 80 MB once took a minute and a half and stalled the server; now the parser stops at the limit.
  const long = Buffer.from(`a,b\n1,2\n${'Q'.repeat(4 * MAX_LINE_CHARACTERS)},3\n`)
  const chunks = Array.from({ length: Math.ceil(long.length / 1024) }, (_, i) => long.subarray(i * 1024, (i + 1) * 1024))
  await t.rejects(read(chunks), { status: 400, type: 'invalid-csv', message: /line 3/ })
})

t.test('bytes that are not UTF-8 at the end of a line that came in many chunks: its line', async (t) => {
  const gbk = Buffer.from([0xca, 0xbe, 0xc0, 0xfd]) // 示例 in GBK
  const file = Buffer.concat([Buffer.from(`a,b\nx,y\nz,${'w'.repeat(50_000)}`), gbk, Buffer.from('\nu,v\n')])
  const chunks = Array.from({ length: Math.ceil(file.length / 1000) }, (_, i) => file.subarray(i * 1000, (i + 1) * 1000))
  await t.rejects(read(chunks), { status: 400, type: 'not-utf8', message: /line 3/ })
})
