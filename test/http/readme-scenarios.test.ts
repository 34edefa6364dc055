import ExcelJS from 'exceljs'
import t from 'tap'
import { loadDemoData } from '../../src/demo.js'
import { readmeCurls, testApp, testDatabase } from '../helpers.js'
import { injector } from '../world.js'

// The README's negotiation (section "Scenarios (测算)"; api-contract.md, Scenarios; calculation-rules.md §4–§6), run from
// the README itself, request by request, on the demo data (DEMO_DATA=1), with the figures the README states.

const database = await testDatabase(t)
await loadDemoData(database.db)
const app = await testApp(t, database)
const injectAs = injector(app)

interface Answer { totals: { difference: string }, years: Array<{ fiscalYear: number, groups: Array<{ scenario: { base?: string } }>, totals: { difference: string } }> }

t.test('the README negotiation answers the figures the README states', async (t) => {
  const commands = await readmeCurls('The negotiation below runs as it is')
  t.equal(commands.length, 4, 'four requests')
  const answers = []
  for (const command of commands) {
    const url = /"?\$API([^"\s]+)"?/.exec(command)?.[1]
    const data = /-d '([^']*)'/.exec(command)?.[1]
    if (url === undefined || data === undefined) throw new Error(`README: not a POST with a body: ${command}`)
    const response = await injectAs('admin', { method: 'POST', url: `/v1${url}`, payload: JSON.parse(data) as object })
    t.equal(response.statusCode, 200, `${command.slice(0, 80)}…`, response.statusCode === 200 ? {} : { body: response.body })
    answers.push(response)
  }
  const [zone, district, lookBack, table] = answers.map((a, i) => i < 3 ? a?.json() as Answer : a)
  const z = zone as Answer
  t.same(z.years.map((y) => y.totals.difference), ['971600.00', '971600.00', '971600.00', '971600.00'], '1. 9716000.00 × 0.10 a year')
  t.equal(z.totals.difference, '3886400.00')
  const d = district as Answer
  t.equal(d.years[0]?.groups[0]?.scenario.base, '106432700.00', '2. B(2022) = 109272700.00 − 5000000.00 + 2160000.00')
  t.equal(d.years[0]?.totals.difference, '-6539287.00')
  t.equal(d.totals.difference, '-42410136.63')
  const l = lookBack as Answer
  t.same(l.years.slice(0, 2).map((y) => y.totals.difference), ['708808.84', '971600.00'], '3. 2020 and 2021 had 70% applied')
  t.equal(l.totals.difference, '4595208.84')
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load((table as { rawPayload: Buffer }).rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('测算')
  t.equal(sheet?.rowCount, 2 + 5 * 3 + 1, '4. title, header, 5 years × (2 groups + a total), the range total')
})
