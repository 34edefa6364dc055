import type { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { finished } from 'node:stream/promises'
import ExcelJS from 'exceljs'
import { previousZoneShareSum, runTotals, type RunTotals, STATEMENT_COLUMNS, type StatementLine, statementLineRows, type StatementRow, statementTotalRow } from '../domain/settlement.js'
import { type ItemSource, slicesInTurns } from '../services/turns.js'
import { xmlText } from './xml-text.js'

/*
 * The settlement statement (结算单) as files that open cleanly in a spreadsheet: CSV in UTF-8
 * with a BOM (so Excel reads the Chinese text) and xlsx with Chinese column titles, yuan
 * formatting, a frozen header row and a bold totals row. In CSV, text that a spreadsheet would
 * take for a formula (=, +, -, @ first) is prefixed with an apostrophe; an xlsx cell holds text as
 * text (never a formula), so it prints as written. Amounts are never text-escaped.
 */

const FORMULA_START = /^[=+\-@\t\r]/

export function neutralize (text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text
}

/**
 * Text a spreadsheet opening the CSV would read as a number and print otherwise: a code with
 * leading zeros (007 → 7), more digits than its floating point keeps, what reads as an exponent
 * (1E5 → 100000, 1.E5, .5E3), more significant digits than that in a decimal, decimals ending in zero or a bare point (2018.10 → 2018.1, .5 → 0.5, 12. → 12),
 * thousands separators (1,000 → 1000) or an accountant's parentheses ((12) → −12). Codes, names and
 * document numbers are text: such a cell is written as the formula ="007", whose value is the text
 * as written.
 */
const READ_AS_ANOTHER_NUMBER =
  /^(?:0\d+(?:\.\d+)?|\d{16,}|(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+|\d*\.\d*0|\d+\.|\.\d+|\d{1,3}(?:,\d{3})+(?:\.\d*)?|\([\d,]*\d(?:\.\d*)?\))$/

/**
 * Text a spreadsheet would read as a date, a time, a fraction, a truth value or an error value, and
 * print otherwise: a zone code 2021-06 (Jun-21), MAR-1 (1-Mar), 37-01, 1/2 (1月2日), 12:30, 1 1/2,
 * 2021年6月, TRUE, #N/A. No export has a date column: every such cell is a code, a name or a number
 * of a document, kept as text. (Before, a zone coded 2021-06 opened as a date; found by a probe.)
 */
const READ_AS_A_DATE_OR_VALUE = new RegExp([
  String.raw`^(?:上午|下午)?(?=.*\d)(?=.*[-/:年月日时分秒])[\d\s\-/:.年月日时分秒]+(?:\s*[ap]\.?m\.?)?$`,
  String.raw`^\d{1,2}\s*[ap]\.?m\.?$`,
  String.raw`^\d{1,2}\.\d{1,2}\.\d{2,4}$`,
  String.raw`^(?=.*\d)[\d\s\-/,.]*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?[\d\s\-/,.]*$`,
  String.raw`^(?:true|false)$`,
  String.raw`^#(?:n/a|div/0!|value!|ref!|name\?|num!|null!|spill!|calc!|getting_data)$`,
].join('|'), 'i')

/** A decimal of more significant digits than a spreadsheet's floating point keeps (15): 0.1234567890123456 would print rounded. */
const beyondFifteenDigits = (text: string): boolean =>
  /^\d*\.\d+$/.test(text) && text.replace('.', '').replace(/^0+/, '').length > 15

/**
 * A number with what a spreadsheet strips or reads around it: a sign (-007 → -7, and a text cell
 * starting with one would otherwise be neutralized with a visible apostrophe), a currency sign
 * (¥12 → 12), a percent sign (5.0% → 5%) or spaces at either end ( 007 → 7), with or without
 * thousands separators or an accountant's parentheses (-1,000, $1,000.00, (¥12)). Kept as text too.
 */
const NUMBER = String.raw`(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`
const DECORATED_NUMBER = new RegExp(String.raw`^(?=[\s+-]|.*[¥￥$%]|.*\s$)\s*[+-]?(?:[¥￥$]?${NUMBER}|[¥￥$]?\([¥￥$]?${NUMBER}\))%?\s*$`)

/** A CSV cell whose value is `text` as text, whatever a spreadsheet would read it as (text without quotes). */
const keptAsText = (text: string): string => `="${text}"`

/** A CSV text cell: neutralized, and kept as the text it is where a spreadsheet would read another number. */
function csvText (text: string): string {
  return READ_AS_ANOTHER_NUMBER.test(text) || beyondFifteenDigits(text) || DECORATED_NUMBER.test(text) || READ_AS_A_DATE_OR_VALUE.test(text) ? keptAsText(text) : neutralize(text)
}

function csvField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

export interface TableColumn<K extends string> {
  key: K
  title: string
  money: boolean
  /** A whole number (a count 笔数, a year, a run's number): a number in xlsx, so that a spreadsheet sorts and adds it as one; other text in the column stays text. */
  count?: boolean
}

/**
 * The statement's rows (src/domain/settlement.ts) a page of lines at a time, as the service reads
 * them: each line's rows, then the total of the lines (runTotals) that the pages answer at the end.
 */
export async function * statementRows (pages: AsyncGenerator<StatementLine[], RunTotals>, printsSupplementary: boolean): AsyncGenerator<StatementRow[]> {
  const previous = previousZoneShareSum()
  try {
    for (;;) {
      const next = await pages.next()
      if (next.done === true) {
        yield [statementTotalRow(next.value, printsSupplementary, previous.total())]
        return
      }
      previous.add(next.value)
      const rows: StatementRow[] = []
      for (const line of next.value) rows.push(...statementLineRows(line))
      yield rows
    }
  } finally {
    // Should the file stop before the last page, no page is read after it (a no-op once the pages are done).
    await pages.return(runTotals([]))
  }
}

export function statementCsv (title: string, rows: ItemSource<StatementRow>): Promise<Buffer> {
  return tableCsv(title, STATEMENT_COLUMNS, rows)
}

export function statementXlsx (title: string, rows: ItemSource<StatementRow>): Promise<Buffer> {
  return tableXlsx(title, '结算单', STATEMENT_COLUMNS, rows)
}

/**
 * A titled table as CSV: UTF-8 with a BOM, CRLF lines, text neutralized, amounts as they are.
 * Encoded a slice of rows at a time between turns of the event loop (a national statement, 75,000
 * rows and 12 MB, joined and encoded in one piece held the event loop for a few hundred ms); rows
 * that come a page at a time are let go of once encoded, so memory holds the file and one page.
 */
export async function tableCsv<K extends string> (title: string, columns: ReadonlyArray<TableColumn<K>>, rows: ItemSource<Partial<Record<K, string>>>): Promise<Buffer> {
  const line = (cells: readonly string[]) => `${cells.join(',')}\r\n`
  const pieces = [Buffer.from(`\uFEFF${line([csvField(neutralize(title))])}${line(columns.map((c) => csvField(c.title)))}`)]
  for await (const slice of slicesInTurns(rows)) {
    pieces.push(Buffer.from(slice.map((row) => line(columns.map((c) => {
      const value = row[c.key] ?? ''
      if (c.count === true && COUNT.test(value)) return value
      // An amount of more than 15 digits would be rounded by the spreadsheet's floating point: kept as text, as in xlsx.
      if (c.money) return value === '' || SPREADSHEET_EXACT.test(value) ? value : csvField(keptAsText(value))
      return csvField(csvText(value))
    }))).join('')))
  }
  return Buffer.concat(pieces)
}

/** Yuan in a spreadsheet: thousands separators, two decimals, red when negative. */
const YUAN_FORMAT = '#,##0.00;[Red]-#,##0.00'
const TOTAL_FONT: Partial<ExcelJS.Font> = { bold: true }
const SUBTOTAL_FONT: Partial<ExcelJS.Font> = { italic: true }

const COUNT = /^\d{1,15}$/

/** The most characters a spreadsheet cell holds (Excel's limit): a longer text would make the file need repairing. */
export const CELL_LIMIT = 32_767
const CUT_NOTE = '…（超出表格单元格长度，全文见 CSV 或打印版 cut at the cell limit: the CSV and the printable statement hold it whole）'

/**
 * Text for an xlsx cell: as it is, each character XML cannot hold shown as U+FFFD (src/http/xml-text.ts;
 * exceljs writes U+FFFE and U+FFFF as they are, leaving a file no spreadsheet opens, and drops the
 * controls without a trace), cut at the cell limit with a note saying where it is whole.
 */
function fitsACell (given: string): string {
  const text = xmlText(given)
  return text.length <= CELL_LIMIT ? text : `${text.slice(0, CELL_LIMIT - CUT_NOTE.length).replace(/[\uD800-\uDBFF]$/, '')}${CUT_NOTE}`
}

/** More than 15 significant digits would not survive a spreadsheet's floating point: keep those as text. */
const SPREADSHEET_EXACT = /^-?\d{1,13}\.\d{2}$/

/**
 * A titled table as xlsx: frozen header, yuan formatting, a bold total row (the one whose first
 * cell starts 合计). Written with exceljs's streaming writer, a row at a time into the zip: memory
 * holds the compressed file, not a model of every cell, and a national statement (25,000
 * agreements, 75,000 rows) is written in about 8 s with the server answering between its rows, where
 * the in-memory workbook took 20 s of one blocked event loop and 530 MB more.
 */
export async function tableXlsx<K extends string> (title: string, sheetName: string, columns: ReadonlyArray<TableColumn<K>>, rows: ItemSource<Partial<Record<K, string>>>): Promise<Buffer> {
  const file = new PassThrough()
  const chunks: Buffer[] = []
  file.on('data', (chunk: Buffer) => chunks.push(chunk))
  // Settles however the file ends; awaited with the workbook's commit, never left unhandled meanwhile.
  const written = finished(file)
  written.catch(() => {})
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: file, useStyles: true, useSharedStrings: false })
  // exceljs listens for its zip's errors only while committing: one before ends the file with it.
  const zip = (workbook as unknown as { zip: EventEmitter }).zip
  zip.on('error', (error: Error) => file.destroy(error))
  try {
    await writeRows(workbook, title, sheetName, columns, rows)
    await Promise.all([workbook.commit(), written])
  } catch (error) {
    file.destroy()
    throw error
  }
  return Buffer.concat(chunks)
}

/** Rows written into the zip between turns of the event loop (a thousand took 80 ms, and the next page of the statement is built in a turn of its own). */
const XLSX_ROWS_AT_A_TIME = 250

/**
 * A money column's width, in characters: "-1,234,567,890,123.45" (21), a city's totals with room
 * to spare. At 18, a total of 13 integer digits showed ##### (found by a probe of the spreadsheets).
 */
const MONEY_WIDTH = 22

/** The sheet of tableXlsx, a row at a time. */
async function writeRows<K extends string> (
  workbook: ExcelJS.stream.xlsx.WorkbookWriter, title: string, sheetName: string, columns: ReadonlyArray<TableColumn<K>>, rows: ItemSource<Partial<Record<K, string>>>,
): Promise<void> {
  workbook.creator = 'revenue-sharing settlement service'
  const sheet = workbook.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 2 }] })
  sheet.columns = columns.map((c) => ({
    width: c.money ? MONEY_WIDTH : c.key === 'documentNo' || c.key.endsWith('Name') ? 24 : 14,
    ...(c.money ? { style: { numFmt: YUAN_FORMAT } } : {}),
  }))
  // exceljs gives every new cell a style object of its own, and finds an object it has not seen by
  // rendering it to XML (about 70% of a national statement's time). The cells of a column in rows of
  // one kind share one object instead: the same styles, looked up once.
  const sharedStyles = (font?: Partial<ExcelJS.Font>) => columns.map((c): Partial<ExcelJS.Style> => ({
    ...(c.money ? { numFmt: YUAN_FORMAT } : {}), ...(font === undefined ? {} : { font }),
  }))
  const styles = { plain: sharedStyles(), total: sharedStyles(TOTAL_FONT), subtotal: sharedStyles(SUBTOTAL_FONT) }
  const titleRow = sheet.addRow([fitsACell(title)])
  titleRow.font = { bold: true, size: 14 }
  titleRow.commit()
  const header = sheet.addRow(columns.map((c) => c.title))
  header.font = { bold: true }
  header.alignment = { wrapText: true, vertical: 'middle' }
  header.height = 32
  header.commit()
  for await (const slice of slicesInTurns(rows, XLSX_ROWS_AT_A_TIME)) {
    for (const row of slice) {
      const added = sheet.addRow(columns.map((c) => {
        const value = row[c.key]
        if (value === undefined) return null
        if (c.count === true && COUNT.test(value)) return Number(value)
        // A string cell is text to a spreadsheet, whatever it starts with: a zone named =… prints so.
        if (!c.money) return fitsACell(value)
        // A cell a spreadsheet can add up: its own number type holds every amount of up to 15 digits exactly.
        return SPREADSHEET_EXACT.test(value) ? Number(value) : value
      }))
      const [firstColumn] = columns
      const first = firstColumn === undefined ? '' : row[firstColumn.key] ?? ''
      const kind = first.startsWith('合计') ? 'total' : first.startsWith('小计') ? 'subtotal' : 'plain'
      // The row's own style (its `s` attribute), then each cell's.
      if (kind !== 'plain') added.font = kind === 'total' ? TOTAL_FONT : SUBTOTAL_FONT
      added.eachCell({ includeEmpty: true }, (cell, column) => { cell.style = styles[kind][column - 1] ?? {} })
      added.commit()
    }
  }
  sheet.commit()
}
