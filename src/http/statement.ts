import ExcelJS from 'exceljs'
import { STATEMENT_COLUMNS, type StatementRow } from '../domain/settlement.js'

/*
 * The settlement statement (结算单) as files that open cleanly in a spreadsheet: CSV in UTF-8
 * with a BOM (so Excel reads the Chinese text) and xlsx with Chinese column titles, yuan
 * formatting, a frozen header row and a bold totals row. Text that a spreadsheet would take for
 * a formula (=, +, -, @ first) is prefixed with an apostrophe; amounts are never text-escaped.
 */

const FORMULA_START = /^[=+\-@\t\r]/

export function neutralize (text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text
}

function csvField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

export function statementCsv (title: string, rows: readonly StatementRow[]): string {
  const lines = [
    csvField(neutralize(title)),
    STATEMENT_COLUMNS.map((c) => csvField(c.title)).join(','),
    ...rows.map((row) => STATEMENT_COLUMNS.map((c) => {
      const value = row[c.key] ?? ''
      return csvField(c.money ? value : neutralize(value))
    }).join(',')),
  ]
  return `\uFEFF${lines.join('\r\n')}\r\n`
}

/** More than 15 significant digits would not survive a spreadsheet's floating point: keep those as text. */
const SPREADSHEET_EXACT = /^-?\d{1,13}\.\d{2}$/

export async function statementXlsx (title: string, rows: readonly StatementRow[]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook()
  workbook.creator = 'revenue-sharing settlement service'
  const sheet = workbook.addWorksheet('结算单', { views: [{ state: 'frozen', ySplit: 2 }] })
  sheet.addRow([neutralize(title)]).font = { bold: true, size: 14 }
  const header = sheet.addRow(STATEMENT_COLUMNS.map((c) => c.title))
  header.font = { bold: true }
  header.alignment = { wrapText: true, vertical: 'middle' }
  header.height = 32
  STATEMENT_COLUMNS.forEach((c, i) => {
    const column = sheet.getColumn(i + 1)
    column.width = c.money ? 18 : c.key === 'documentNo' || c.key.endsWith('Name') ? 24 : 14
    if (c.money) column.numFmt = '#,##0.00;[Red]-#,##0.00'
  })
  for (const row of rows) {
    const added = sheet.addRow(STATEMENT_COLUMNS.map((c) => {
      const value = row[c.key]
      if (value === undefined) return null
      if (!c.money) return neutralize(value)
      // A cell a spreadsheet can add up: its own number type holds every amount of up to 15 digits exactly.
      return SPREADSHEET_EXACT.test(value) ? Number(value) : value
    }))
    if (row.row?.startsWith('合计') === true) added.font = { bold: true }
    if (row.row?.startsWith('小计') === true) added.font = { italic: true }
  }
  return Buffer.from(await workbook.xlsx.writeBuffer())
}
