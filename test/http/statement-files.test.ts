import ExcelJS from 'exceljs'
import t from 'tap'
import { CELL_LIMIT, tableCsv, tableXlsx } from '../../src/http/statement.js'

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

t.test('xlsx: a text longer than a cell holds (a 事权划转 citation of a hundred transfers) is cut at the limit with a note; CSV keeps it whole', async (t) => {
  const long = `${'职能划转（青政发〔2021〕1号）；'.repeat(2000)}末`
  t.ok(long.length > CELL_LIMIT)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(await tableXlsx('表', '表', columns, [{ name: long, documentNo: '文号', amount: '1.00' }]) as unknown as ArrayBuffer)
  const cell = String(workbook.getWorksheet('表')!.getRow(3).getCell(1).value)
  t.ok(cell.length <= CELL_LIMIT, `at most ${CELL_LIMIT} characters (before, ${long.length}: the file needed repairing in Excel)`)
  t.ok(long.startsWith(cell.slice(0, cell.indexOf('…'))), 'the text as far as it goes')
  t.match(cell, /全文见 CSV 或打印版/, 'and where it is whole')
  const csv = (await tableCsv('表', columns, [{ name: long, documentNo: '文号', amount: '1.00' }])).toString('utf8')
  t.ok(csv.includes(long), 'CSV holds it whole')
})

t.test('xlsx: a character XML cannot hold (U+FFFE, U+FFFF, a C0 control, a lone surrogate) in a name, a note or the title prints as U+FFFD, and the file opens', async (t) => {
  const odd = [{ name: '测试\uFFFF区', documentNo: '已核对\uFFFE', amount: '1.00' }, { name: 'a\u0001b\tc', documentNo: 'x\uD800y', amount: '2.00' }]
  const file = await tableXlsx('标题\uFFFE', '表', columns, odd)
  const workbook = new ExcelJS.Workbook()
  // Before, exceljs's own reader refused the file: "disallowed character".
  await workbook.xlsx.load(file as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('表')!
  t.equal(sheet.getRow(1).getCell(1).value, '标题\uFFFD')
  t.strictSame([3, 4].map((r) => [1, 2].map((c) => sheet.getRow(r).getCell(c).value)), [['测试\uFFFD区', '已核对\uFFFD'], ['a\uFFFDb\tc', 'x\uFFFDy']],
    'each such character shown, not dropped: the control between a and b, the surrogate without its pair')
  const csv = (await tableCsv('标题', columns, odd)).toString('utf8')
  t.ok(csv.includes('测试\uFFFF区') && csv.includes('a\u0001b'), 'the CSV keeps the text as stored')
})

t.test('CSV: a code a spreadsheet would read as another number (leading zeros, 16 digits or more, an exponent) is written as the formula ="…" whose value is the text; other codes as they are', async (t) => {
  const codes = ['007', '0042', '1E5', '2.5e3', '12345678901234567', '370214', 'QD-HT', '青政字〔2021〕5号', '2023-01-05']
  const lines = (await tableCsv('表', columns, codes.map((name) => ({ name, documentNo: 'x', amount: '1.00' })))).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(2, 2 + codes.length).map((l) => l.slice(0, l.indexOf(',x,'))), [
    '"=""007"""', '"=""0042"""', '"=""1E5"""', '"=""2.5e3"""', '"=""12345678901234567"""', '370214', 'QD-HT', '青政字〔2021〕5号', '"=""2023-01-05"""',
  ], 'before, 007 opened as 7 and 1E5 as 100000 (found by a review helper); a code without leading zeros reads as the same number; a date-like code is text (it opened as a date until a probe found zone codes turned into dates)')
  t.ok(lines.every((l) => !l.startsWith("'=")), 'not taken for a formula to neutralize')
})

t.test('CSV: a code, name or document number a spreadsheet would read as a date, a time, a fraction, a truth value or an error value is kept as text (="…"); other text as before', async (t) => {
  const names = ['2021-06', 'MAR-1', '1-Mar', '37-01', '1/2', '12:30', '12:30 PM', '1 1/2', '2021年6月', '6月1日', 'Jan 2021', 'TRUE', 'false', '#N/A', '#DIV/0!', '#REF!',
    '3 pm', '12 PM', '3时30分', '下午3:30', '1.2.2021', '#SPILL!',
    'QD-HT', 'QD-12', 'MAR', 'May', '青政字〔2021〕5号', '12 号', '-', '#1', 'true story', 'A-1']
  const lines = (await tableCsv('表', columns, names.map((name) => ({ name, documentNo: 'x', amount: '1.00' })))).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(2, 2 + names.length).map((l) => l.slice(0, l.indexOf(',x,'))), [
    '"=""2021-06"""', '"=""MAR-1"""', '"=""1-Mar"""', '"=""37-01"""', '"=""1/2"""', '"=""12:30"""', '"=""12:30 PM"""', '"=""1 1/2"""', '"=""2021年6月"""', '"=""6月1日"""', '"=""Jan 2021"""',
    '"=""TRUE"""', '"=""false"""', '"=""#N/A"""', '"=""#DIV/0!"""', '"=""#REF!"""',
    '"=""3 pm"""', '"=""12 PM"""', '"=""3时30分"""', '"=""下午3:30"""', '"=""1.2.2021"""', '"=""#SPILL!"""',
    'QD-HT', 'QD-12', 'MAR', 'May', '青政字〔2021〕5号', '12 号', "'-", '#1', 'true story', 'A-1',
  ], 'before, a zone coded 2021-06 opened as Jun-21, MAR-1 as 1-Mar, 1/2 as 1月2日 and TRUE as a truth value (found by a probe)')
})

t.test('CSV: a name or document number a spreadsheet would print as another number (decimals ending in zero, a bare point, thousands separators, parentheses) is kept as text too', async (t) => {
  const names = ['2018.10', '1.50', '0.0', '.5', '12.', '1,000', '1,234.5', '(12)', '(1,000.5)', '1.E5', '.5E3', '1234567890.1234567', '0.1234567890123456',
    '1.5', '12', '1,00', '（12）', '0.123456789012345', '1234567890.12345']
  const lines = (await tableCsv('表', columns, names.map((name) => ({ name, documentNo: 'x', amount: '1.00' })))).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(2, 2 + names.length).map((l) => l.slice(0, l.indexOf(',x,'))), [
    '"=""2018.10"""', '"=""1.50"""', '"=""0.0"""', '"="".5"""', '"=""12."""', '"=""1,000"""', '"=""1,234.5"""', '"=""(12)"""', '"=""(1,000.5)"""',
    '"=""1.E5"""', '"="".5E3"""', '"=""1234567890.1234567"""', '"=""0.1234567890123456"""',
    '1.5', '12', '"1,00"', '（12）', '0.123456789012345', '1234567890.12345',
  ], 'before, 2018.10 opened as 2018.1, (12) as -12 and 1,000 as 1000 (found by an export review), and 1.E5 as 100000 and a 16-digit decimal rounded (found by its review); 1.5, 12 and decimals of 15 digits read as the numbers they print')
})

t.test('CSV: a number with a sign, a currency or percent sign, or spaces around it is kept as text (="…"), not read as the bare number or shown with an apostrophe', async (t) => {
  const names = ['-007', '+12', '-1E5', '-2018.10', '12%', '5.0%', '¥12', '￥12.50', '$12', ' 007', '12 ', '-12',
    '-1,000', '-(12)', '¥1,000', '$1,000.00', '1,000%', '(¥12)',
    '-', '-abc', '=1+2', '12 号', '¥', '5 %', 'QD-12', '-(12', '¥(1,00)']
  const lines = (await tableCsv('表', columns, names.map((name) => ({ name, documentNo: 'x', amount: '1.00' })))).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(2, 2 + names.length).map((l) => l.slice(0, l.indexOf(',x,'))), [
    '"=""-007"""', '"=""+12"""', '"=""-1E5"""', '"=""-2018.10"""', '"=""12%"""', '"=""5.0%"""', '"=""¥12"""', '"=""￥12.50"""', '"=""$12"""', '"="" 007"""', '"=""12 """', '"=""-12"""',
    '"=""-1,000"""', '"=""-(12)"""', '"=""¥1,000"""', '"=""$1,000.00"""', '"=""1,000%"""', '"=""(¥12)"""',
    "'-", "'-abc", "'=1+2", '12 号', '¥', '5 %', 'QD-12', "'-(12", '"¥(1,00)"',
  ], 'before, -007 was written \'-007 (the apostrophe shown), 5.0% opened as 5%, ¥12 as 12 and " 007" as 7 (found by the review of 480054a); ' +
    'with thousands separators or parentheses, -1,000 as \'-1,000 and $1,000.00 as 1000 (found by the review of 8055c55); other text as before, a formula neutralized')
})

t.test('CSV: an amount of more than 15 digits is kept as text (="…"), as the xlsx keeps it; amounts a spreadsheet holds exactly stay numbers', async (t) => {
  const amounts = ['11999999999999999.88', '-999999999999999.99', '9999999999999.99', '-1.50', '']
  const lines = (await tableCsv('表', columns, amounts.map((amount) => ({ name: 'n', documentNo: 'x', amount })))).toString('utf8').slice(1).split('\r\n')
  t.same(lines.slice(2, 2 + amounts.length).map((l) => l.slice('n,x,'.length)), ['"=""11999999999999999.88"""', '"=""-999999999999999.99"""', '9999999999999.99', '-1.50', ''],
    'before, 11999999999999999.88 opened as 12000000000000000 (found by a review helper)')
})
