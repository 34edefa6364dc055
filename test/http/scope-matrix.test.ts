import t from 'tap'
import { testApp, testDatabase } from '../helpers.js'
import { agreementBody, buildWorld, created, injector, linesOf, type Principal } from '../world.js'

// api-contract.md, Roles and scope, as a matrix: every /v1 route × every role × in and out of
// scope. Out of scope reads answer 404, forbidden operations 403, lists are filtered.
// The world: 城阳区 370214 hosts QD-HT (agreement ht); 市北区 370203 hosts QD-BL (agreement bl).

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
await created(t, app, '/v1/revenues', { records: [
  { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '1000.00' },
  { zoneCode: 'QD-BL', category: '10101', year: 2021, month: 1, amount: '2000.00' },
] }, 200)
await created(t, app, '/v1/advances', { agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-06-30', amount: '1.00', documentNo: 'x' })
await created(t, app, '/v1/advances', { agreementId: world.agreements.bl, fiscalYear: 2021, paidOn: '2021-06-30', amount: '2.00', documentNo: 'x' })
// Debts: 1 of QD-HT, transferred to 370214, with a repayment (event 2); 2 of QD-HT, not transferred.
const debt = await created(t, app, '/v1/debts', { zoneCode: 'QD-HT', reference: 'M-1', creditor: '银行', kind: 'bank_loan', principal: '1000.00', outstanding: '1000.00', registeredOn: '2020-01-01', transfer: { districtCode: '370214', transferredOn: '2020-06-30', documentNo: 'x' } })
const repayment = await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2020-07-01', principal: '10.00', interest: '1.00' })
const untransferred = await created(t, app, '/v1/debts', { zoneCode: 'QD-HT', reference: 'M-2', creditor: '银行', kind: 'bond', principal: '1000.00', outstanding: '1000.00', registeredOn: '2020-01-01' })
// Run 1: the 2020 settlement of both agreements.
await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 })
// A third zone of 城阳区, for the agreements the matrix creates.
await created(t, app, '/v1/zones', { code: 'QD-X', name: '测试功能区', hostDistrictCode: '370214' })

const PRINCIPALS: Principal[] = ['admin', 'district214', 'district203', 'zoneHT', 'zoneBL']

interface Case {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** The route as the OpenAPI document names it. */
  route: string
  url: (who: Principal, n: number) => string
  body?: (who: Principal, n: number) => unknown
  contentType?: string
  expect: Record<Principal, number>
}

/** A read of something on the QD-HT / 370214 side. */
const HT_READ: Record<Principal, number> = { admin: 200, district214: 200, district203: 404, zoneHT: 200, zoneBL: 404 }
const EVERYONE = (status: number): Record<Principal, number> => ({ admin: status, district214: status, district203: status, zoneHT: status, zoneBL: status })
const ADMIN_ONLY = (status: number): Record<Principal, number> => ({ admin: status, district214: 403, district203: 403, zoneHT: 403, zoneBL: 403 })
/** Recording something on the QD-HT / 370214 side: admins and 城阳区 only. */
const HT_WRITE = (status: number): Record<Principal, number> => ({ admin: status, district214: status, district203: 422, zoneHT: 403, zoneBL: 403 })

/** Reviewing a line on the QD-HT / 370214 side: admins, 城阳区 and QD-HT; the others do not see it. */
const HT_WRITE_REVIEW: Record<Principal, number> = { admin: 201, district214: 201, district203: 404, zoneHT: 201, zoneBL: 404 }

let serial = 0
const cases: Case[] = [
  { method: 'POST', route: '/v1/calculations', url: () => '/v1/calculations', body: () => ({ fiscalYear: 2021, groups: [{ name: 'f', basis: 'total', actual: '1.00', rates: [{ rate: '0.60' }] }] }), expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/revenue-categories', url: () => '/v1/revenue-categories', expect: EVERYONE(200) },
  { method: 'POST', route: '/v1/revenue-categories', url: () => '/v1/revenue-categories', body: (_w, n) => ({ code: `99${n}`, nameZh: '测试', nameEn: 'test', kind: 'fee' }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/districts', url: () => '/v1/districts', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/districts/{code}', url: () => '/v1/districts/370214', expect: HT_READ },
  { method: 'POST', route: '/v1/districts', url: () => '/v1/districts', body: (_w, n) => ({ code: `3799${String(n).padStart(2, '0')}`, name: '测试区' }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/zones', url: () => '/v1/zones', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/zones/{code}', url: () => '/v1/zones/QD-HT', expect: HT_READ },
  { method: 'POST', route: '/v1/zones', url: () => '/v1/zones', body: (_w, n) => ({ code: `QD-T${n}`, name: '测试', hostDistrictCode: '370214' }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/agreements', url: () => '/v1/agreements', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/agreements/{id}', url: () => `/v1/agreements/${world.agreements.ht}?year=2021`, expect: HT_READ },
  { method: 'POST', route: '/v1/agreements', url: () => '/v1/agreements', body: (_w, n) => agreementBody('QD-X', '370214', { effectiveFrom: 2040 + n, effectiveTo: 2040 + n, baseYear: 2030 }), expect: ADMIN_ONLY(201) },
  { method: 'PATCH', route: '/v1/agreements/{id}', url: () => `/v1/agreements/${world.agreements.ht}`, body: () => ({ effectiveTo: 2035 }), expect: ADMIN_ONLY(200) },
  { method: 'POST', route: '/v1/agreements/{id}/base-adjustments', url: () => `/v1/agreements/${world.agreements.ht}/base-adjustments`, body: () => ({ group: 'taxes', fromYear: 2022, amount: '1.00', reason: 'x', documentNo: 'x' }), expect: ADMIN_ONLY(201) },
  { method: 'POST', route: '/v1/responsibility-transfers', url: () => '/v1/responsibility-transfers', body: () => ({ agreementId: world.agreements.ht, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2022, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/responsibility-transfers', url: () => '/v1/responsibility-transfers', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/revenues', url: () => '/v1/revenues', expect: EVERYONE(200) },
  { method: 'POST', route: '/v1/revenues', url: () => '/v1/revenues', body: (_w, n) => ({ records: [{ zoneCode: 'QD-HT', category: '10104', year: 2021, month: 1, amount: `${n}.00` }] }), expect: HT_WRITE(200) },
  { method: 'POST', route: '/v1/revenues/import', url: () => '/v1/revenues/import', contentType: 'text/csv', body: (_w, n) => `zoneCode,districtCode,category,year,month,amount\nQD-HT,370214,10104,2021,2,${n}.00\n`, expect: HT_WRITE(200) },
  { method: 'GET', route: '/v1/revenues/{zoneCode}/{districtCode}/{category}/{year}/{month}/history', url: () => '/v1/revenues/QD-HT/370214/10101/2021/1/history', expect: HT_READ },
  { method: 'GET', route: '/v1/advances', url: () => '/v1/advances', expect: EVERYONE(200) },
  { method: 'POST', route: '/v1/advances', url: () => '/v1/advances', body: () => ({ agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-07-01', amount: '1.00', documentNo: 'x' }), expect: HT_WRITE(201) },
  { method: 'POST', route: '/v1/api-keys', url: () => '/v1/api-keys', body: () => ({ role: 'zone', zoneCode: 'QD-HT', label: 'x' }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/api-keys', url: () => '/v1/api-keys', expect: ADMIN_ONLY(200) },
  { method: 'DELETE', route: '/v1/api-keys/{id}', url: () => '/v1/api-keys/key_matrix_nonexistent', expect: ADMIN_ONLY(404) },
  { method: 'GET', route: '/v1/audit-events', url: () => '/v1/audit-events', expect: ADMIN_ONLY(200) },
  { method: 'POST', route: '/v1/debts', url: () => '/v1/debts', body: (_w, n) => ({ zoneCode: 'QD-BL', reference: `N-${n}`, creditor: '银行', kind: 'other', principal: '5.00', outstanding: '5.00' }), expect: ADMIN_ONLY(201) },
  { method: 'POST', route: '/v1/debts/import', url: () => '/v1/debts/import', contentType: 'text/csv', body: (_w, n) => `zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\nQD-BL,C-${n},银行,other,5.00,5.00,,,,2020-01-01,\n`, expect: ADMIN_ONLY(200) },
  { method: 'GET', route: '/v1/debts', url: () => '/v1/debts', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/debts/summary', url: () => '/v1/debts/summary?asOf=2021-12-31&groupBy=zone', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/debts/maturities', url: () => '/v1/debts/maturities?from=2020-01-01&to=2030-12-31', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/debts/{id}', url: () => `/v1/debts/${debt.id}?asOf=2020-12-31`, expect: HT_READ },
  { method: 'POST', route: '/v1/debts/{id}/transfer', url: () => `/v1/debts/${untransferred.id}/transfer`, body: () => ({ districtCode: '370214', transferredOn: '2021-01-01', documentNo: 'x' }), expect: ADMIN_ONLY(200) },
  // Repayments: admins, and the district the debt was transferred to; another district cannot see it.
  { method: 'POST', route: '/v1/debts/{id}/repayments', url: () => `/v1/debts/${debt.id}/repayments`, body: () => ({ paidOn: '2021-01-01', principal: '1.00', interest: '0.00' }), expect: { admin: 201, district214: 201, district203: 404, zoneHT: 403, zoneBL: 403 } },
  { method: 'POST', route: '/v1/debts/{id}/repayments/{eventId}/reversal', url: () => `/v1/debts/${debt.id}/repayments/${repayment.id}/reversal`, body: () => ({ reversedOn: '2021-01-02', reason: 'x' }), expect: { admin: 201, district214: 409, district203: 404, zoneHT: 403, zoneBL: 403 } },
  { method: 'POST', route: '/v1/settlement-runs', url: () => '/v1/settlement-runs', body: () => ({ fiscalYear: 2020 }), expect: ADMIN_ONLY(201) },
  { method: 'GET', route: '/v1/settlement-runs', url: () => '/v1/settlement-runs', expect: EVERYONE(200) },
  // Run 1 settles 2020 for both agreements: every scoped key sees its own line of it.
  { method: 'GET', route: '/v1/settlement-runs/{id}', url: () => '/v1/settlement-runs/1', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/settlement-runs/{id}/lines', url: () => '/v1/settlement-runs/1/lines', expect: EVERYONE(200) },
  { method: 'GET', route: '/v1/settlement-runs/{id}/statement', url: () => '/v1/settlement-runs/1/statement', expect: EVERYONE(200) },
  // Run 2 is the admin's run above, computed after the agreement cases changed agreement ht's terms: run 1 read
  // them as they were and can no longer be finalized (calculation-rules.md §9); run 2 can.
  // 审核确认 of QD-HT's line of run 1 (a draft): its district and its zone for themselves, an admin for a party; the others cannot see it.
  { method: 'POST', route: '/v1/settlement-runs/{id}/lines/{agreementId}/review', url: () => `/v1/settlement-runs/1/lines/${world.agreements.ht}/review`,
    body: (who) => who === 'admin' ? { decision: 'confirm', party: 'zone', note: '书面确认' } : { decision: 'confirm' }, expect: HT_WRITE_REVIEW },
  { method: 'POST', route: '/v1/settlement-runs/{id}/finalize', url: () => '/v1/settlement-runs/2/finalize', expect: { admin: 200, district214: 403, district203: 403, zoneHT: 403, zoneBL: 403 } },
  // Run 2, finalized just above, has a line of each side: every key verifies it, within its scope.
  { method: 'GET', route: '/v1/settlement-runs/{id}/verification', url: () => '/v1/settlement-runs/2/verification', expect: EVERYONE(200) },
  // 测算: every key runs one within its scope; another side's agreement is 404, as every read of it.
  { method: 'POST', route: '/v1/scenarios', url: () => '/v1/scenarios', body: () => ({ agreementId: world.agreements.ht, changes: {}, fromYear: 2020, toYear: 2022 }), expect: HT_READ },
  // Last: the serial numbers of the cases above (years of the agreements created) stay as they were.
  { method: 'GET', route: '/v1/agreements/{id}/history', url: () => `/v1/agreements/${world.agreements.ht}/history`, expect: HT_READ },
]

t.test('the matrix covers every /v1 operation of the OpenAPI document', async (t) => {
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> }
  const operations = Object.entries(document.paths).filter(([path]) => path.startsWith('/v1/'))
    .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`)).sort()
  t.same(cases.map((c) => `${c.method} ${c.route}`).sort(), operations)
})

t.test('every route × every role: the status the contract gives', async (t) => {
  for (const c of cases) {
    for (const who of PRINCIPALS) {
      const n = ++serial
      const body = c.body?.(who, n)
      const response = await injectAs(who, {
        method: c.method, url: c.url(who, n),
        ...(c.contentType === undefined ? {} : { headers: { 'content-type': c.contentType } }),
        ...(body === undefined ? {} : { payload: body as string }),
      })
      t.equal(response.statusCode, c.expect[who], `${c.method} ${c.route} as ${who}`, { body: response.statusCode >= 400 ? response.body : undefined })
    }
  }
})

t.test('lists are filtered to the caller\'s scope', async (t) => {
  const list = async (url: string, who: Principal, key: (item: Record<string, unknown>) => unknown) =>
    ((await injectAs(who, { method: 'GET', url })).json().items as Array<Record<string, unknown>>).map(key)
  const codes = (i: Record<string, unknown>) => i.code
  t.same(await list('/v1/districts', 'district214', codes), ['370214'])
  t.same(await list('/v1/districts', 'zoneBL', codes), ['370203'], 'a zone sees its host district')
  t.same(await list('/v1/zones', 'district203', codes), ['QD-BL'])
  t.same(await list('/v1/zones', 'zoneHT', codes), ['QD-HT'])
  t.same(await list('/v1/agreements', 'district203', (i) => i.id), [world.agreements.bl])
  t.same(await list('/v1/agreements', 'zoneHT', (i) => i.zoneCode).then((z) => [...new Set(z)]), ['QD-HT'])
  t.same(await list('/v1/revenues', 'district214', (i) => i.zoneCode).then((z) => [...new Set(z)]), ['QD-HT'])
  t.same(await list('/v1/revenues', 'zoneBL', (i) => i.amount), ['2000.00'])
  t.same(await list('/v1/advances', 'district203', (i) => i.amount), ['2.00'])
  t.same(await list('/v1/responsibility-transfers', 'zoneHT', (i) => i.agreementId).then((ids) => [...new Set(ids)]), [world.agreements.ht], 'a zone sees the transfers of its own agreements')
  t.same(await list('/v1/responsibility-transfers', 'district203', (i) => i.agreementId), [], 'a district sees none of another district\'s')
  t.same(await list(`/v1/responsibility-transfers?agreementId=${world.agreements.ht}`, 'zoneBL', (i) => i.agreementId), [], 'a filter cannot widen the scope')
  t.ok((await list('/v1/districts', 'admin', codes)).length > 2, 'an admin sees every district')
  const runLines = async (who: Principal) => (await linesOf(injectAs, 1, who)).map((l) => l.zoneCode)
  t.same(await runLines('district214'), ['QD-HT'], 'a district sees its own line of a run')
  t.same(await runLines('zoneBL'), ['QD-BL'])
  t.same((await runLines('admin')).sort(), ['QD-BL', 'QD-HT'])
  const statement = (await injectAs('district203', { method: 'GET', url: '/v1/settlement-runs/1/statement' })).body
  t.ok(statement.includes('QD-BL') && !statement.includes('QD-HT'), 'and only its own rows of the statement')
  // A filter cannot widen the scope.
  t.same(await list('/v1/revenues?zoneCode=QD-BL', 'district214', (i) => i.zoneCode), [])
})
