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
