import { isAscii, isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { CsvError, parse } from 'csv-parse'
import { Problems } from '../domain/errors.js'

/*
 * The conventions of every CSV import (api-contract.md, Revenue): Content-Type text/csv, UTF-8
 * (a BOM is fine), a fixed header on line 1, streamed as it arrives, every bad line reported with
 * its line number as a spreadsheet shows it (the header is line 1), nothing loaded unless the
 * whole file is good or the caller asked for ?partial=true. The file's bytes are hashed for
 * Idempotency-Key and capped at the import limit (413).
 */

/** Bad lines listed in an import's answer; all of them are counted. */
export const MAX_LISTED_ERRORS = 10_000

export interface ImportError { line: number, field: string, message: string }

/**
 * The longest line an import reads, in bytes of UTF-8 (csv-parse counts the bytes it is given; a
 * Chinese character is three): a line of any import is a few hundred characters at most (every
 * field has a schema limit), so a longer one is not a line of the file but a file that is not CSV
 * (a missing newline, a quote never closed): 400 at its line, read no further.
 */
export const MAX_LINE_BYTES = 64 * 1024

export interface CsvImport {
  /** The data lines with the header's number of fields, in order. */
  lines: AsyncIterable<{ line: number, fields: string[] }>
  /** Reports a problem of a line; the line then counts as rejected. */
  reject: (line: number, field: string, message: string) => void
  /** Counts more rejected lines without listing them (beyond what an answer lists). */
  rejectUnlisted: (lines: number) => void
  /** After the lines: the counts, or 422 when lines were rejected and the import is not partial. */
  finish: (partial: boolean, loaded: number) => { rows: number, rejected: number, errors: ImportError[], unlistedErrors?: number }
  /** SHA-256 of the bytes read, once they are all read. */
  digest: () => string
  /** Reads the file to its end without loading it (an Idempotency-Key retry): its digest. */
  readToEnd: () => Promise<string>
}

const LF = 0x0a
const CR = 0x0d

/** The line breaks in `bytes`: each CR, and each LF that does not end a CR LF (`afterCR`: the bytes before them ended with CR). */
function lineBreaks (bytes: Buffer, afterCR: boolean): number {
  let breaks = 0
  for (let at = bytes.indexOf(CR); at !== -1; at = bytes.indexOf(CR, at + 1)) breaks++
  for (let at = bytes.indexOf(LF); at !== -1; at = bytes.indexOf(LF, at + 1)) {
    if (!(at === 0 ? afterCR : bytes[at - 1] === CR)) breaks++
  }
  return breaks
}

/** The last CR or LF in `bytes`; −1 when there is none. */
const lastBreakOf = (bytes: Buffer): number => Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR))

/** Where the line from `start` ends: its first CR or LF, or the end of `bytes`. */
function nextBreak (bytes: Buffer, start: number): number {
  const lf = bytes.indexOf(LF, start)
  const cr = bytes.indexOf(CR, start)
  if (lf === -1 && cr === -1) return bytes.length
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
}

/**
 * The line of a record as a spreadsheet shows it (the header is line 1): one row for each record
 * before it and for each empty line. A cell holding a line break (a quoted field over two lines of
 * the file) is one row of the spreadsheet, so the records after it are not numbered by the lines of
 * the file, and a record is not numbered by the line it ends on.
 */
const rowOf = (recordsBefore: number, emptyLinesBefore: number): number => recordsBefore + emptyLinesBefore + 1

/** The first bytes of a file in UTF-16: FF FE (little-endian, what Windows writes) or FE FF. */
const isUtf16Bom = (chunk: Buffer) => (chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)

/** In a chunk read as latin1 (a character a byte): a character of UTF-8 in three or four bytes (CJK, a BOM). */
const WIDE_UTF8 = /[\xE0-\xF4]/
/** Two or more characters of UTF-8 in two bytes each, one after the other (U+0080–U+07FF). */
const TWO_BYTE_RUNS = /(?:[\xC2-\xDF][\x80-\xBF]){2,}/g
/** A two-byte character from U+0180 on (Latin Extended-B, IPA, Greek, Cyrillic, Armenian…): where GBK's Chinese lands when it reads as UTF-8. */
const BEYOND_LATIN = /[\xC6-\xDF]/
/** The bytes at the end of a chunk that may begin a run the next chunk goes on with (none is ASCII or begins three bytes). */
const RUN_TAIL = 64

/**
 * A file in GBK whose bytes happen to be UTF-8 too: about 1,900 common characters are (医院 is
 * D2 BD D4 BA, which reads as ҽԺ), and a short file of them passed the UTF-8 check and was stored
 * as Cyrillic and Armenian (found by a probe). Chinese text in UTF-8 is three bytes a character, so
 * a file with no such character and a run of two-byte characters, one of them past Latin (U+0180
 * on), is taken for GBK: refused, naming the line and the text both ways. One character of three
 * bytes anywhere (a BOM, as "CSV UTF-8" writes, or any Chinese) settles that the file is UTF-8;
 * Latin text (××, Ñúñez, Þórður, lüè) is never taken for GBK. Only chunks that are not ASCII are
 * looked at, with the end of the chunk before (a run may go on across chunks).
 */
function gbkLookingUtf8 () {
  let wide = false
  let suspect: { line: number, bytes: Buffer } | undefined
  let tail = Buffer.alloc(0)
  return {
    /** Looks at a chunk whose first line is `line` (breaks: the line breaks before an offset of it). */
    look (chunk: Buffer, line: number, breaks: (end: number) => number): void {
      if (wide || suspect !== undefined) return
      if (isAscii(chunk)) {
        tail = Buffer.alloc(0)
        return
      }
      const bytes = tail.length === 0 ? chunk : Buffer.concat([tail, chunk])
      const text = bytes.toString('latin1')
      if (WIDE_UTF8.test(text)) {
        wide = true
        return
      }
      for (const run of text.matchAll(TWO_BYTE_RUNS)) {
        if (!BEYOND_LATIN.test(run[0])) continue
        // The tail holds no line break: a run that begins in it is on the chunk's first line.
        suspect = { line: line + breaks(Math.max(0, run.index - tail.length)), bytes: bytes.subarray(run.index, run.index + Math.min(run[0].length, 40)) }
        return
      }
      let from = bytes.length
      while (from > 0 && bytes.length - from < RUN_TAIL && (bytes[from - 1] ?? 0) >= 0x80) from--
      tail = Buffer.from(bytes.subarray(from))
    },
    /** At the end of the file: the problem, if it reads as GBK. */
    problem () {
      if (wide || suspect === undefined) return undefined
      return Problems.readsAsGbk(suspect.line, new TextDecoder('gb18030').decode(suspect.bytes), suspect.bytes.toString('utf8'))
    },
  }
}

/** A record without the empty fields at its end. */
function withoutEmptyTail (record: readonly string[]): readonly string[] {
  let end = record.length
  while (end > 0 && record[end - 1] === '') end--
  return end === record.length ? record : record.slice(0, end)
}

export function openCsvImport (body: unknown, header: readonly string[], limit: number, instead: string): CsvImport {
  if (!(body instanceof Readable)) throw Problems.notCsv(instead)
  const hash = createHash('sha256')
  let bytes = 0
  let digest: string | undefined
  // UTF-8 is checked as the bytes arrive: decoded leniently, a file saved in GBK (what a
  // spreadsheet often writes for "CSV") would load with its Chinese text turned into U+FFFD.
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  const gbk = gbkLookingUtf8()
  // Line breaks before the unfinished line, counted as csv-parse counts them: CR LF, LF or CR
  // (Excel's "CSV (Macintosh)") each end a line.
  let linesBefore = 0
  let endsWithCR = false
  // The bytes of the line the last chunk left unfinished, as they came: joined only to find a line
  // that is not UTF-8 (joined at every chunk, a line of many megabytes took time in its square).
  let partialLine: Buffer[] = []
  const notUtf8 = (chunk: Buffer) => {
    // The first line (counting from the one the chunk continues) whose bytes are not UTF-8. A
    // character's bytes are never CR or LF, so the lines can be cut at them before decoding.
    const text = Buffer.concat([...partialLine, chunk])
    let line = linesBefore + 1
    let start = endsWithCR && text[0] === LF ? 1 : 0
    for (;;) {
      const end = nextBreak(text, start)
      if (!isUtf8(text.subarray(start, end))) break
      if (end === text.length) break
      start = end + (text[end] === CR && text[end + 1] === LF ? 2 : 1)
      line++
    }
    return Problems.notUtf8(line)
  }
  // The bytes of the line the chunks so far leave unfinished. csv-parse's own limit (max_record_size)
  // counts a record's fields and not the commas between them: a line of commas alone grew without
  // end, a field at a time.
  let lineBytes = 0
  /** The line of `chunk` (counting from the one it continues) longer than MAX_LINE_BYTES, if any: 400 at it. `lastBreak`: lastBreakOf(chunk). */
  const tooLong = (chunk: Buffer, lastBreak: number) => {
    let start = 0
    let end = nextBreak(chunk, 0)
    let length = lineBytes + end
    while (length <= MAX_LINE_BYTES) {
      if (end === chunk.length) {
        lineBytes = length
        return undefined
      }
      start = end + 1
      // What is left of the chunk holds no line that long: only its last, unfinished one goes on.
      if (chunk.length - start <= MAX_LINE_BYTES) {
        lineBytes = chunk.length - lastBreak - 1
        return undefined
      }
      end = nextBreak(chunk, start)
      length = end - start
    }
    return Problems.invalidCsv(linesBefore + 1 + lineBreaks(chunk.subarray(0, start), endsWithCR),
      `a line of more than ${MAX_LINE_BYTES.toLocaleString('en')} bytes: no line of an import is that long`)
  }
  const metered = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      if (bytes > limit) {
        callback(Problems.fileTooLarge(limit))
        return
      }
      try {
        utf8.decode(chunk, { stream: true })
      } catch {
        // Excel's "Unicode text" and Notepad's "Unicode" are UTF-16, with its BOM: name it, rather
        // than advise about GBK (found by a probe of CSV files as Chinese Windows saves them).
        callback(bytes === chunk.length && isUtf16Bom(chunk) ? Problems.utf16File() : notUtf8(chunk))
        return
      }
      gbk.look(chunk, linesBefore + 1, (end) => lineBreaks(chunk.subarray(0, end), endsWithCR))
      const lastBreak = lastBreakOf(chunk)
      const long = tooLong(chunk, lastBreak)
      if (long !== undefined) {
        callback(long)
        return
      }
      if (lastBreak === -1) {
        partialLine.push(chunk)
        endsWithCR = false
      } else {
        linesBefore += lineBreaks(chunk, endsWithCR)
        endsWithCR = chunk[chunk.length - 1] === CR
        partialLine = [chunk.subarray(lastBreak + 1)]
      }
      hash.update(chunk)
      callback(null, chunk)
    },
    flush (callback) {
      try {
        utf8.decode()
      } catch {
        callback(notUtf8(Buffer.alloc(0)))
        return
      }
      callback(gbk.problem())
    },
  })
  // The file is read only once someone iterates the lines (inside the write's transaction).
  // The records the parser has given so far, the header and skipped records too.
  let emitted = 0
  const openParser = () => {
    // A quote inside a field that is not quoted (`ab"c`) is a bad line, reported with the others,
    // not a file that is not CSV: the parser skips that record and the file reads on. Every other
    // error of the parser stops it (400): after a quote that opens or closes a field wrongly, it
    // cannot know where the record ends.
    let strayQuote: { column: number } | undefined
    const parser = parse({
      bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, max_record_size: MAX_LINE_BYTES,
      // Every line break ends a line, whichever the file began with: left to itself, csv-parse takes
      // the first one it meets as the only one, and a file written in CR LF with lines appended in
      // LF (another tool's rows added to a spreadsheet's export) read two lines as one.
      record_delimiter: ['\r\n', '\n', '\r'],
      skip_records_with_error: true,
      on_skip: (error: CsvError | undefined) => {
        // The header is the file's own description: a quote in it leaves nothing to read the lines by.
        if (error === undefined || error.code !== 'INVALID_OPENING_QUOTE' || emitted === 0) throw error ?? new Error('csv-parse skipped a record without an error')
        const { column } = error as CsvError & { column?: unknown }
        strayQuote ??= { column: typeof column === 'number' ? column : 0 }
        return undefined
      },
    })
    // Each record comes with its line as a spreadsheet shows it (rowOf), read from the parser as it
    // pushes the record: csv-parse's `info` option copies the parser's whole state for every
    // record, most of the time an import spent parsing.
    const push = parser.push.bind(parser)
    parser.push = (record: unknown, encoding?: BufferEncoding) =>
      push(record === null ? null : { record, info: { lines: rowOf(emitted++, parser.info.empty_lines) } }, encoding)
    // A skipped record is still a row of the spreadsheet: it comes in its place, marked, so that it
    // is reported in line order and the rows after it keep their numbers. csv-parse has no hook for
    // the end of a skipped record; its record handler is wrapped on this parser alone.
    const api = (parser as unknown as { api: { state: { recordHasError: boolean }, __onRecord: (push: unknown) => unknown } }).api
    const onRecord = api.__onRecord
    api.__onRecord = function (this: unknown, ...args: [unknown]) {
      if (api.state.recordHasError && strayQuote !== undefined) {
        push({ record: undefined, info: { lines: rowOf(emitted++, parser.info.empty_lines) }, strayQuote })
        strayQuote = undefined
      }
      return onRecord.apply(this, args)
    }
    body.pipe(metered).pipe(parser)
    body.on('error', (error) => parser.destroy(error))
    metered.on('error', (error) => parser.destroy(error))
    return parser
  }

  const errors: ImportError[] = []
  // Lines come in order: a line's second problem finds it already counted.
  let lastRejected = -1
  let rejected = 0
  let rows = 0
  // Every problem found, listed or not (a line may have several; lines beyond the listing count one each).
  let problems = 0
  const reject = (line: number, field: string, message: string) => {
    if (line !== lastRejected) {
      rejected++
      lastRejected = line
    }
    problems++
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ line, field, message })
  }
  /** The parser's records; a file that is not CSV at all (an unbalanced quote, …) is malformed input: 400. */
  async function * records () {
    try {
      yield * openParser() as AsyncIterable<{ record: string[], info: { lines: number }, strayQuote?: { column: number } }>
    } catch (error) {
      if (!(error instanceof CsvError)) throw error
      // The record being read when the parser gave up: the line where it starts.
      // (The parser's own count of records leaves out those it skipped.)
      const { empty_lines: emptyLines } = error as CsvError & { empty_lines?: unknown }
      const line = typeof emptyLines === 'number' ? rowOf(emitted, emptyLines) : typeof error.lines === 'number' ? error.lines : 1
      // The parser's own "at line N" counts the lines of the file, where the answer names the row.
      throw Problems.invalidCsv(line, error.message.replace(/ at line \d+/g, ''))
    }
  }
  async function * lines () {
    let headerSeen = false
    for await (const { record, info, strayQuote } of records()) {
      if (strayQuote !== undefined) {
        rows++
        reject(info.lines, header[strayQuote.column] ?? 'line',
          'has a quote (") inside a field that is not in quotes; a field holding a quote is written in quotes with the quote doubled ("a""b")')
        continue
      }
      if (!headerSeen) {
        headerSeen = true
        if (withoutEmptyTail(record).join(',') !== header.join(',')) {
          throw Problems.csvHeaderExpected(header, record)
        }
        continue
      }
      // A row of separators alone (",,,,,", what a spreadsheet leaves below the data it saved) holds
      // nothing to load or refuse: skipped, as an empty line is (before, five problems a row).
      if (record.every((field) => field === '')) continue
      rows++
      // Empty fields after the last column are what a spreadsheet writes when cells to the right of
      // the data were touched (a header "zoneCode,…,amount,,"): nothing to load, nothing to refuse.
      const fields = record.length > header.length && record.slice(header.length).every((field) => field === '') ? record.slice(0, header.length) : record
      if (fields.length !== header.length) {
        reject(info.lines, 'line', `has ${fields.length} fields, expected ${header.length}`)
        continue
      }
      // PostgreSQL text cannot hold U+0000.
      if (fields.some((field) => field.includes('\u0000'))) {
        reject(info.lines, 'line', 'contains the NUL character (U+0000)')
        continue
      }
      yield { line: info.lines, fields }
    }
    if (!headerSeen) throw Problems.csvHeaderExpected(header, undefined)
  }
  const source = lines()
  const digestOf = () => (digest ??= hash.digest('hex'))
  return {
    lines: source,
    reject,
    rejectUnlisted (count) {
      rejected += count
      problems += count
    },
    finish (partial, loaded) {
      // Lines found bad after reading (a month given twice) are listed in line order with the others.
      errors.sort((a, b) => a.line - b.line)
      if (rejected > 0 && !partial) {
        throw Problems.invalidRows(rejected, rows, loaded, errors, problems)
      }
      // The problems `errors` leaves out, said in the answer when there are any.
      return problems > errors.length ? { rows, rejected, errors, unlistedErrors: problems - errors.length } : { rows, rejected, errors }
    },
    digest: digestOf,
    async readToEnd () {
      // The bytes are hashed as the lines are read; the lines themselves are let go of.
      for await (const _line of source) { /* read on */ }
      return digestOf()
    },
  }
}
