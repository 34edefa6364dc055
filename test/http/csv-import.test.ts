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
  const { MAX_LINE_BYTES } = await import('../../src/services/csv-file.js')
  const under = 'x'.repeat(MAX_LINE_BYTES - 10)
  t.same(await read([Buffer.from(`a,b\n1,${under}\n2,3\n`)]), [['1', under], ['2', '3']])
  // The limit is of bytes, as README says (it said characters; found by a probe of the imports): 中 is three.
  const chinese = '中'.repeat(Math.floor((MAX_LINE_BYTES - 10) / 3))
  t.same(await read([Buffer.from(`a,b\n1,${chinese}\n`)]), [['1', chinese]], `${chinese.length} characters in ${Buffer.byteLength(chinese)} bytes are read`)
  await t.rejects(read([Buffer.from(`a,b\n1,${'中'.repeat(22_000)}\n`)]), { status: 400, type: 'invalid-csv', message: /line 2/ }, '22,000 characters in 66,000 bytes are not')
  // A zone code of 80 MB once took a minute and a half and stalled the server; now the parser stops at the limit.
  const long = Buffer.from(`a,b\n1,2\n${'Q'.repeat(4 * MAX_LINE_BYTES)},3\n`)
  const chunks = Array.from({ length: Math.ceil(long.length / 1024) }, (_, i) => long.subarray(i * 1024, (i + 1) * 1024))
  await t.rejects(read(chunks), { status: 400, type: 'invalid-csv', message: /line 3/ })
  // The limit is of the line's bytes, commas and quotes too (found by review: csv-parse's own counts a record's fields, and a
  // line of 70,000 commas, or of fields of 30,000 characters each, was read as a line).
  const commas = Buffer.from(`a,b\n1,2\nQD-HT${','.repeat(70_000)}\n3,4\n`)
  const longFields = Buffer.from(`a,b\n1,${'中'.repeat(15_000)},${'中'.repeat(15_000)},${'x'.repeat(35_000)}\n`)
  for (const [name, file, line] of [['70,000 commas', commas, 3], ['three fields of 45,000, 45,000 and 35,000 bytes', longFields, 2]] as const) {
    for (const size of [file.length, 1000, 65_536, 100_000]) {
      const pieces = Array.from({ length: Math.ceil(file.length / size) }, (_, i) => file.subarray(i * size, (i + 1) * size))
      await t.rejects(read(pieces), { status: 400, type: 'invalid-csv', message: new RegExp(`^The file is not valid CSV \\(line ${line}\\): a line of more than 65,536 bytes`) }, `${name}, in chunks of ${size}`)
    }
  }
  // Lines of exactly the limit, in CR LF, across chunks: read.
  const full = `${'y'.repeat(MAX_LINE_BYTES - 2)},z`
  const crlf = Buffer.from(`a,b\r\n${full}\r\n${full}\r\n`)
  for (const size of [crlf.length, 7, 65_537, 65_540]) {
    const pieces = Array.from({ length: Math.ceil(crlf.length / size) }, (_, i) => crlf.subarray(i * size, (i + 1) * size))
    t.same((await read(pieces)).length, 2, `two lines of ${MAX_LINE_BYTES} bytes in chunks of ${size}`)
  }
})

t.test('bytes that are not UTF-8 at the end of a line that came in many chunks: its line', async (t) => {
  const gbk = Buffer.from([0xca, 0xbe, 0xc0, 0xfd]) // 示例 in GBK
  const file = Buffer.concat([Buffer.from(`a,b\nx,y\nz,${'w'.repeat(50_000)}`), gbk, Buffer.from('\nu,v\n')])
  const chunks = Array.from({ length: Math.ceil(file.length / 1000) }, (_, i) => file.subarray(i * 1000, (i + 1) * 1000))
  await t.rejects(read(chunks), { status: 400, type: 'not-utf8', message: /line 3/ })
})

/** Each data line's number and fields, as an import reads them. */
const numbered = async (chunks: Buffer[]) => {
  const file = openCsvImport(Readable.from(chunks), ['a', 'b'], 1_000_000, 'or JSON')
  const lines: Array<[number, string[]]> = []
  for await (const { line, fields } of file.lines) lines.push([line, fields])
  return lines
}

t.test('api-contract.md, Revenue: a line is numbered as a spreadsheet shows it: a cell over two lines of the file is one row, an empty line is a row', async (t) => {
  const file = Buffer.from('a,b\n"第一行\n第二行",x\n1,2\n\n4,5\n')
  t.same(await numbered([file]), [[2, ['第一行\n第二行', 'x']], [3, ['1', '2']], [5, ['4', '5']]],
    'the record whose cell breaks is row 2 (not line 3, where it ends), the next row 3 (line 4 of the file), and after an empty line row 5')
  const windows = Buffer.from('a,b\r\n"x\r\ny",z\r\n1,2\r\n')
  t.same(await numbered([windows]), [[2, ['x\r\ny', 'z']], [3, ['1', '2']]], 'the same with CR LF')
  t.same(await numbered([Buffer.from('a,b\r1,2\r3,4\r')]), [[2, ['1', '2']], [3, ['3', '4']]], 'CR alone ends a line (Excel\'s "CSV (Macintosh)")')
})

t.test('a quote never closed is 400 invalid-csv at the line its record starts on, not the last line of the file', async (t) => {
  const file = Buffer.from('a,b\n1,2\n"3,4\n5,6\n7,8\n')
  const refused = await numbered([file]).then(() => undefined, (error: unknown) => error as Error)
  t.match(refused, { status: 400, type: 'invalid-csv', message: /^The file is not valid CSV \(line 3\): Quote Not Closed/ })
  t.notMatch(refused?.message, /line 6/, 'the parser\'s count of the file\'s lines is not printed beside it')
})

t.test('bytes that are not UTF-8 are refused with their line when lines end with CR alone or CR LF, cut anywhere into chunks', async (t) => {
  const gbk = Buffer.from([0xca, 0xbe, 0xc0, 0xfd]) // 示例 in GBK
  for (const [name, eol] of [['CR', '\r'], ['CR LF', '\r\n'], ['LF', '\n']] as const) {
    const file = Buffer.concat([Buffer.from(`a,b${eol}x,y${eol}${eol}z,`), gbk, Buffer.from(`${eol}u,v${eol}`)])
    for (let cut = 1; cut < file.length; cut++) {
      await t.rejects(read([file.subarray(0, cut), file.subarray(cut)]), { status: 400, type: 'not-utf8', message: /\(line 4\)/ }, `${name}: cut at byte ${cut}`)
    }
    const bytes = [...file].map((b) => Buffer.from([b]))
    await t.rejects(read(bytes), { status: 400, type: 'not-utf8', message: /\(line 4\)/ }, `${name}: a byte at a time`)
  }
})

t.test('api-contract.md, Revenue ("lists every bad row with its line number"): a quote inside a field that is not quoted is a bad line, reported in its place; the lines after it keep their numbers', async (t) => {
  const file = 'a,b\n1,2\n"x\ny",3\nab"c,4\n\n5,6"7"\n8,9\n'
  t.same(await numbered([Buffer.from(file)]), [[2, ['1', '2']], [3, ['x\ny', '3']], [7, ['8', '9']]], 'rows 4 and 6 are skipped; the multi-line cell is row 3 and the empty line row 5')
  await t.rejects(numbered([Buffer.from(`${file}"10,11\n12,13\n`)]), { status: 400, type: 'invalid-csv', message: /\(line 8\): Quote Not Closed/ },
    'a quote never closed still stops the file, at its row counted with the skipped ones')

  const partial = openCsvImport(Readable.from([Buffer.from('a,b\n1,2\nab"c,4\n5,6"7"8\n9,10\n')]), ['a', 'b'], 1_000_000, 'or JSON')
  const good: number[] = []
  for await (const { line } of partial.lines) good.push(line)
  t.same(good, [2, 5])
  t.same(partial.finish(true, good.length), {
    rows: 4,
    rejected: 2,
    errors: [
      { line: 3, field: 'a', message: 'has a quote (") inside a field that is not in quotes; a field holding a quote is written in quotes with the quote doubled ("a""b")' },
      { line: 4, field: 'b', message: 'has a quote (") inside a field that is not in quotes; a field holding a quote is written in quotes with the quote doubled ("a""b")' },
    ],
  }, 'each bad line once, however many quotes it holds, naming the column of the first')
  const refused = (() => { try { partial.finish(false, good.length) } catch (error) { return error } })()
  t.match(refused, { status: 422 }, 'without ?partial=true the file is refused, listing them')
})

t.test('a quote inside the header is 400 invalid-csv at line 1: the lines cannot be read without it', async (t) => {
  await t.rejects(read([Buffer.from('a,b"\n1,2\n')]), { status: 400, type: 'invalid-csv', message: /\(line 1\): Invalid Opening Quote/ })
  await t.rejects(read([Buffer.from('a,b\n"1"x,2\n3,4\n')]), { status: 400, type: 'invalid-csv', message: /\(line 2\): Invalid Closing Quote/ }, 'a quoted field followed by more text still stops the file: where its record ends is unknown')
})

t.test('api-contract.md, Revenue ("every bad row with its line number"): lines may end with CR LF, LF or CR in one file; each is a row', async (t) => {
  const file = 'a,b\r\n1,2\r\n3,4\n5,6\r\n\n7,8\r9,10\r\n'
  t.same(await numbered([Buffer.from(file)]), [[2, ['1', '2']], [3, ['3', '4']], [4, ['5', '6']], [6, ['7', '8']], [7, ['9', '10']]],
    'a line ending in LF or CR amid CR LF lines is a row of its own, and the rows after it keep their numbers (row 5 is empty)')
  const bytes = Buffer.from(file)
  for (let cut = 1; cut < bytes.length; cut++) {
    t.same((await numbered([bytes.subarray(0, cut), bytes.subarray(cut)])).map(([line]) => line), [2, 3, 4, 6, 7], `cut at byte ${cut}`)
  }
})

t.test('a file in GBK whose bytes are UTF-8 too (医院, 学校, 债券 are) is refused naming its line and the text both ways, not stored as Cyrillic and Armenian (found by a probe); UTF-8 with other two-byte characters is read', async (t) => {
  const gbk = (text: string) => Buffer.from(new Map([['医院', 'd2bdd4ba'], ['学校', 'd1a7d0a3'], ['债券', 'd5aec8af']]).get(text)!, 'hex')
  t.equal(gbk('医院').toString('utf8'), 'ҽԺ', '医院 in GBK is UTF-8: ҽԺ')
  const file = Buffer.concat([Buffer.from('a,b\r\nG-001,x\r\n'), Buffer.from('G-002,'), gbk('医院'), Buffer.from('\r\nG-003,'), gbk('学校'), Buffer.from('\r\n')])
  for (const cut of [1, 14, 20, 21, 22, 23, file.length - 1]) {
    await t.rejects(read([file.subarray(0, cut), file.subarray(cut)]), {
      status: 400, type: 'not-utf8',
      message: 'The file reads as GBK or GB18030 text, not UTF-8 (line 3: "医院" in GBK would be stored as "ҽԺ"). Save it as "CSV UTF-8".',
      errors: [{ pointer: '/line/3', message: 'reads as GBK text ("医院"), not UTF-8' }],
    }, `cut at byte ${cut}`)
  }
  // What is UTF-8 beyond doubt is read as it is: Chinese in UTF-8 anywhere in the file, or the BOM "CSV UTF-8" writes.
  t.same(await read([Buffer.concat([Buffer.from('a,b\nG-002,'), gbk('债券'), Buffer.from('\nG-003,城阳\n')])]), [['G-002', 'ծȯ'], ['G-003', '城阳']], 'with Chinese in UTF-8 further on')
  t.same(await read([Buffer.from('\uFEFFa,b\nG-002,ҽԺ\n')]), [['G-002', 'ҽԺ']], 'after a BOM')
  t.same(await read([Buffer.from('a,b\nMüller,25°C\nCafé,Straße 1\n')]), [['Müller', '25°C'], ['Café', 'Straße 1']], 'a two-byte character alone, here and there')
  const latin = [['××', 'Ñúñez'], ['Þórður', 'lüè'], ['Größe', '÷±']]
  t.same(await read([Buffer.from(`a,b\n${latin.map((l) => l.join(',')).join('\n')}\n`)]), latin, 'Latin text in runs (found by review: ×× and Ñúñez were taken for GBK)')
})

t.test('rows of separators alone (",", what a spreadsheet leaves below its data) are skipped as empty lines are, and the rows after them keep their numbers (found by a probe: five problems a row, and the file refused)', async (t) => {
  const file = openCsvImport(Readable.from([Buffer.from('a,b\r\n1,2\r\n,\r\n , \r\n3,4\r\n,\r\n,,\r\n')]), ['a', 'b'], 1_000_000, 'or JSON')
  const lines: Array<{ line: number, fields: string[] }> = []
  for await (const line of file.lines) lines.push(line)
  t.same(lines, [{ line: 2, fields: ['1', '2'] }, { line: 5, fields: ['3', '4'] }], 'the data rows, numbered as the spreadsheet shows them')
  t.same(file.finish(false, 2), { rows: 2, rejected: 0, errors: [] })
})

t.test('a file in UTF-16 (Excel\'s "Unicode text") is refused as UTF-16, not with advice about GBK (found by a probe of CSV files as Chinese Windows saves them)', async (t) => {
  const text = 'a,b\n城阳,1\n'
  const littleEndian = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
  const bigEndian = Buffer.from(littleEndian)
  bigEndian.swap16()
  for (const [name, file] of [['little-endian', littleEndian], ['big-endian', bigEndian]] as const) {
    await t.rejects(read([file]), {
      status: 400,
      type: 'not-utf8',
      message: 'The file is UTF-16 text (what Excel saves as "Unicode text"), not UTF-8 (line 1). Save it as "CSV UTF-8".',
      errors: [{ pointer: '/line/1', message: 'begins with the byte-order mark of UTF-16' }],
    }, name)
  }
  // The same bytes later in a file are bytes that are not UTF-8, on their line.
  await t.rejects(read([Buffer.from('a,b\n'), littleEndian]), { status: 400, type: 'not-utf8', message: /^The file is not UTF-8 text \(line 2\)/ })
})

t.test('empty columns after the last one, as a spreadsheet writes them when cells to the right of the data were touched ("a,b,,"), are read as absent; a value in one is a bad line (found by a probe of CSV files as Excel and WPS save them)', async (t) => {
  const file = openCsvImport(Readable.from([Buffer.from('a,b,,\r\n1,2,,\r\n3,4\r\n5,6,7,\r\n8,9,\r\n')]), ['a', 'b'], 1_000_000, 'or JSON')
  const lines: Array<{ line: number, fields: readonly string[] }> = []
  for await (const line of file.lines) lines.push(line)
  t.same(lines, [{ line: 2, fields: ['1', '2'] }, { line: 3, fields: ['3', '4'] }, { line: 5, fields: ['8', '9'] }])
  t.same(file.finish(true, 3), { rows: 4, rejected: 1, errors: [{ line: 4, field: 'line', message: 'has 4 fields, expected 2' }] })
  // A header with a name in a column past the last is another header.
  const other = openCsvImport(Readable.from([Buffer.from('a,b,c\r\n1,2,3\r\n')]), ['a', 'b'], 1_000_000, 'or JSON')
  await t.rejects((async () => { for await (const _line of other.lines) { /* read */ } })(), { status: 422, type: 'invalid-csv-header', message: 'Line 1 must be the header a,b.' })
})
