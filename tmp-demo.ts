import { buildApp } from './src/app.js'
import { openDatabase } from './src/db/connect.js'
import { migrate } from './src/db/migrate.js'
import { loadDemoData } from './src/demo.js'
const database = openDatabase({ kind: 'pglite' })
await migrate(database)
await loadDemoData(database.db)
const app = await buildApp({ database, adminToken: 'x'.repeat(32), minZoneRate: '0.60', rateLimit: false, authFailures: false, pressure: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 } })
const post = async (body: unknown, q = '') => (await app.inject({ method: 'POST', url: '/v1/scenarios' + q, headers: { authorization: 'Bearer ' + 'x'.repeat(32) }, payload: body as object }))
const bodies = JSON.parse(process.argv[2] ?? '[]')
for (const b of bodies) {
  const r = await post(b)
  if (r.statusCode !== 200) { console.log(r.statusCode, r.body); continue }
  const j = r.json()
  console.log('last', j.lastRecordedYear, JSON.stringify(j.totals))
  for (const y of j.years) console.log(y.fiscalYear, y.projected ? 'P' : 'R', y.groups.map((g: any) => `${g.name} A ${g.agreed.actual} B ${g.agreed.base ?? '-'} ${g.agreed.zoneShare}/${g.scenario.zoneShare} co ${g.agreed.carriedShortfallOut ?? '-'}/${g.scenario.carriedShortfallOut ?? '-'} d ${g.difference}`).join(' | '), 'T', y.totals.agreed.zoneShare, y.totals.scenario.zoneShare, y.totals.difference)
}
await app.close(); await database.close()
