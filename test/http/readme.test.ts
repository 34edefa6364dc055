import t from 'tap'
import { readmeCurls, testApp, testDatabase } from '../helpers.js'
import { injector } from '../world.js'

// The README's registry and settlement flow for the agreements cities sign ("Agreements as cities sign them"):
// falling bands, a rate schedule (分段期限) and responsibility transfers (事权划转), run from the README itself, request
// by request, on an empty database (calculation-rules.md §2, §4; api-contract.md, Registry, Responsibility transfers,
// Settlement runs, POST /v1/calculations).

const app = await testApp(t, await testDatabase(t))
const injectAs = injector(app)

/** `.items[0].calculationRequest` of a JSON value, as jq reads it. */
function jqPath (value: unknown, path: string): unknown {
  return [...path.matchAll(/\.(\w+)|\[(\d+)\]/g)].reduce<unknown>((v, [, key, index]) =>
    (v as Record<string, unknown> | undefined)?.[key ?? Number(index)], value)
}

const url = (command: string) => {
  const match = /"?\$API([^"\s]+)"?/.exec(command)
  if (match?.[1] === undefined) throw new Error(`no $API URL in: ${command}`)
  return `/v1${match[1]}`
}

t.test('every command of the README flow answers 2xx, with the figures the README states', async (t) => {
  const commands = await readmeCurls('The flow below runs as it is')
  t.ok(commands.length >= 10, `${commands.length} commands`)
  const answers: Array<{ command: string, body: unknown }> = []
  for (const command of commands) {
    let response
    const piped = /^curl -s "?\$API(\S+?)"? .*\| jq '([^']+)' \| curl -s \$API(\S+) .*-d @-$/.exec(command)
    if (piped !== null) {
      const source = (await injectAs('admin', { method: 'GET', url: `/v1${piped[1]!}` })).json()
      response = await injectAs('admin', { method: 'POST', url: `/v1${piped[3]!}`, payload: jqPath(source, piped[2]!) as object })
    } else {
      const data = /-d '([^']*)'/.exec(command)?.[1]
      const method = /-X (\w+)/.exec(command)?.[1] ?? (data === undefined ? 'GET' : 'POST')
      response = await injectAs('admin', { method: method as 'GET', url: url(command), ...(data === undefined ? {} : { payload: JSON.parse(data) as object }) })
    }
    t.ok(response.statusCode >= 200 && response.statusCode < 300, `${command.slice(0, 90)}… → ${response.statusCode}`, response.statusCode >= 300 ? { body: response.body } : {})
    answers.push({ command, body: response.json() })
  }
  const answer = <T>(fragment: string) => answers.find((a) => a.command.includes(fragment))?.body as T
  const y2023 = answer<{ groups: Array<Record<string, unknown>> }>('agreements/1?year=2023')
  t.match(y2023.groups[0], {
    baseForYear: '101860000.00', periodForYear: { fromYear: 2023, toYear: 2025, number: 1, of: 2 },
    ratesForYear: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }],
    transfersForYear: [{ function: '卫生健康', fundingForYear: '2160000.00', baseMove: '2160000.00' }, { function: '城市管理', fundingForYear: '300000.00', baseMove: '-300000.00' }],
  })
  const calculation = answer<{ zoneShare: string, balanceDue: string, groups: Array<{ zoneShare: string, explanation: string[] }> }>('| jq')
  t.match(calculation, { zoneShare: '10221200.00', balanceDue: '5221200.00' })
  t.equal(calculation.groups[0]?.zoneShare, '9921200.00')
  t.equal(calculation.groups[0]?.explanation[0], '分段期限：第1段（共2段），2023–2025年，适用本段分成比例')
  t.match(calculation.groups[0]?.explanation[1], / \+ 事权划转 2160000\.00（「卫生健康」划归属地，青政字〔2023〕5号，F\(2023\) = 12人 × 180000\.00 = 2160000\.00）/)
  const lines = (await injectAs('admin', { method: 'GET', url: '/v1/settlement-runs/1/lines' })).json() as { items: Array<{ zoneShare: string, groups: unknown[] }> }
  t.equal(lines.items[0]?.zoneShare, calculation.zoneShare, 'the line and the calculation agree')
  t.same(lines.items[0]?.groups, calculation.groups, 'group for group')
  t.match(answer('finalize'), { status: 'finalized' })
  const y2026 = answer<{ groups: Array<Record<string, unknown>> }>('agreements/1?year=2026')
  t.match(y2026.groups[0], { baseForYear: '101812712.50', ratesForYear: [{ rate: '0.60' }], periodForYear: { fromYear: 2026, toYear: null } })
})
