import ExcelJS from 'exceljs'
import t from 'tap'
import { tableCsv, tableXlsx } from '../../src/http/statement.js'

/*
 * Statements and tables open cleanly in a spreadsheet (README, Statements): in CSV, text a spreadsheet would take for a
 * formula is prefixed with an apostrophe; in xlsx a text cell is never a formula, so names and document numbers print as
 * written (before, an xlsx statement printed a zone named =测试区 as '=测试区).
 */

const columns = [{ key: 'name', title: '名称 name', money: false }, { key: 'documentNo', title: '文号 document', money: false }, { key: 'amount', title: '金额 amount', money: true }] as const
const rows = [
  { name: '=测试区', documentNo: '-2+3 号', amount: '-1.50' },
  { name: '@SUM(A1)', documentNo: '+86 文', amount: '2.00' },
]

t.test('xlsx: text cells hold the text as written, as text; amounts are numbers', async (t) => {
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(await tableXlsx('=标题 title', '表', columns, rows) as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('表')!
  t.equal(sheet.getRow(1).getCell(1).value, '=标题 title')
  const cells = [3, 4].map((r) => [1, 2, 3].map((c) => sheet.getRow(r).getCell(c)))
  t.strictSame(cells.map((row) => row.map((cell) => cell.value)), [['=测试区', '-2+3 号', -1.5], ['@SUM(A1)', '+86 文', 2]])
  t.strictSame(cells.map((row) => row.slice(0, 2).map((cell) => cell.type)), [[ExcelJS.ValueType.String, ExcelJS.ValueType.String], [ExcelJS.ValueType.String, ExcelJS.ValueType.String]],
    'text, not formulas')
})

t.test('CSV: text a spreadsheet would take for a formula is prefixed with an apostrophe; amounts are not', async (t) => {
  const lines = (await tableCsv('=标题 title', columns, rows)).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(0, 4), ["'=标题 title", '名称 name,文号 document,金额 amount', "'=测试区,'-2+3 号,-1.50", "'@SUM(A1),'+86 文,2.00"])
})
