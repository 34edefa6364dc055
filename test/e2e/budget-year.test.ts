import ExcelJS from 'exceljs'
import t, { type Test } from 'tap'
import { ADMIN_TOKEN } from '../helpers.js'
import { apiClient, listeningServer } from '../client/index.js'

/*
 * One fiscal year (2021) as the budget offices run it, end to end, through the typed
 * openapi-fetch client only (types generated from the committed openapi/openapi.json) against a
 * listening server: the municipal finance bureau (市财政局, admin) registers two districts and two
 * zones, signs their agreements (分成办法) and a base adjustment, imports the year's revenue from a
 * spreadsheet; the district bureau (区财政局) records its advances (预拨); the municipal bureau runs
 * the settlement (年度结算), the district bureau and the zone's management committee (功能区管委会)
 * review their line (the zone disputes, then confirms), the municipal bureau finalizes it, takes
 * the statement (结算单) as CSV, xlsx and a printable page, and verifies it; then the legacy debts
 * (历史遗留债务) are registered, transferred (划转) and repaid, and summarized.
 *
 * Every figure below is worked out by hand from calculation-rules.md (the § is cited) before it is
 * asserted: these are the numbers the offices sign.
 */

const { baseUrl } = await listeningServer(t)
const admin = apiClient(baseUrl, ADMIN_TOKEN)

interface Answer<T> { data?: T, error?: unknown, response: Response }

/** Awaits a call, asserts its status and answers its body. */
async function expectStatus<T> (t: Test, what: string, status: number, call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call
  t.equal(response.status, status, `${what}: ${status}`, { error })
  if (data === undefined) throw new Error(`${what}: answered ${response.status} without the expected body: ${JSON.stringify(error)}`)
  return data
}

/** Awaits a call that must be refused with an RFC 9457 problem of the status given, and answers the problem. */
async function expectProblem (t: Test, what: string, status: number, call: Promise<Answer<unknown>>) {
  const { data, error, response } = await call
  t.equal(response.status, status, `${what}: ${status}`, { data })
  t.match(response.headers.get('content-type'), /^application\/problem\+json/, `${what}: problem+json`)
  return error as { status: number, detail: string, errors?: Array<{ pointer: string, message: string }> }
}

/** An amount string ("-12000.00", always two decimals in responses, §1) as a whole number of cents: sums stay exact. */
function cents (amount: string | undefined): bigint {
  if (amount === undefined || !/^-?\d+\.\d{2}$/.test(amount)) throw new Error(`not an amount with two decimals: ${amount}`)
  return BigInt(amount.replace('.', ''))
}

/** RFC 4180 fields of one CSV line (quotes doubled inside quoted fields). */
function csvFields (line: string): string[] {
  const fields: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { fields.push(field); field = '' } else field += c
  }
  fields.push(field)
  return fields
}

let agreementHT: number
let agreementBL: number
let districtToken: string
let zoneToken: string

t.test('registry: the municipal bureau registers districts, zones and an API key for a district bureau', async (t) => {
  await expectStatus(t, 'district 城阳区', 201, admin.POST('/v1/districts', { body: { code: '370214', name: '城阳区' } }))
  await expectStatus(t, 'district 市北区', 201, admin.POST('/v1/districts', { body: { code: '370203', name: '市北区' } }))
  const zone = await expectStatus(t, 'zone 青岛高新区', 201, admin.POST('/v1/zones', { body: { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' } }))
  t.match(zone, { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' })
  await expectStatus(t, 'zone 示例保税区', 201, admin.POST('/v1/zones', { body: { code: 'QD-BL', name: '示例保税区', hostDistrictCode: '370203' } }))
  await expectProblem(t, 'the same district twice', 409, admin.POST('/v1/districts', { body: { code: '370214', name: '城阳区' } }))

  const zones = await expectStatus(t, 'zones', 200, admin.GET('/v1/zones'))
  t.same(zones.items.map((z) => [z.code, z.hostDistrictCode]), [['QD-BL', '370203'], ['QD-HT', '370214']])
  t.equal(zones.nextCursor, null, 'one page')

  const key = await expectStatus(t, 'a key for 城阳区财政局', 201, admin.POST('/v1/api-keys', { body: { role: 'district', districtCode: '370214', label: '城阳区财政局' } }))
  t.match(key, { role: 'district', districtCode: '370214' })
  t.type(key.token, 'string', 'the first answer shows the token')
  districtToken = key.token ?? ''
  const zoneKey = await expectStatus(t, 'a key for 青岛高新区管委会', 201, admin.POST('/v1/api-keys', { body: { role: 'zone', zoneCode: 'QD-HT', label: '青岛高新区管委会' } }))
  t.match(zoneKey, { role: 'zone', zoneCode: 'QD-HT' })
  zoneToken = zoneKey.token ?? ''
})

t.test('agreements: 分成办法 of both zones, and a base adjustment (基数调整)', async (t) => {
  const ht = await expectStatus(t, 'agreement QD-HT', 201, admin.POST('/v1/agreements', {
    body: {
      zoneCode: 'QD-HT',
      districtCode: '370214',
      documentNo: '青政字〔2021〕5号',
      effectiveFrom: 2021,
      baseYear: 2020,
      groups: [
        // Taxes: VAT, enterprise income tax and its refunds, on the increment over an escalating base.
        { name: 'taxes', basis: 'increment', categories: ['10101', '10104', '10105'], base: { amount: '1000000.00', mode: 'escalating', growthRate: '0.05' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' },
        // Administrative fees (行政事业性收费) on the whole amount, above the 60% floor (§3).
        { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.65' }] },
      ],
    },
  }))
  agreementHT = ht.id
  t.match(ht, { zoneCode: 'QD-HT', districtCode: '370214', effectiveFrom: 2021, baseYear: 2020 })
  const bl = await expectStatus(t, 'agreement QD-BL', 201, admin.POST('/v1/agreements', {
    body: {
      zoneCode: 'QD-BL',
      districtCode: '370203',
      documentNo: '青政字〔2021〕6号',
      effectiveFrom: 2021,
      baseYear: 2020,
      groups: [
        { name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '500000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'deduct' },
        { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
      ],
    },
  }))
  agreementBL = bl.id

  // Below the floor is refused and names it (§3).
  const low = await expectProblem(t, 'a rate below the floor', 422, admin.POST('/v1/agreements', {
    body: { zoneCode: 'QD-BL', districtCode: '370203', documentNo: 'x', effectiveFrom: 2030, baseYear: 2029, groups: [{ name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.55' }] }] },
  }))
  t.same(low.errors?.map((e) => e.pointer), ['/groups/0/rates/0/rate'])
  t.match(low.errors?.[0]?.message, /below the floor of 0\.60/, 'the field\'s message names the floor')
  t.match(low.detail, /below the floor of 0\.60/, 'and so does the detail (§3)')

  // A cost handed to the zone lowers the base (§4).
  await expectStatus(t, 'base adjustment', 201, admin.POST('/v1/agreements/{id}/base-adjustments', {
    params: { path: { id: String(agreementHT) } },
    body: { group: 'taxes', fromYear: 2021, amount: '-30000.00', reason: '园区道路养护职能移交功能区', documentNo: '青财预〔2021〕3号' },
  }))
  // §4 escalating: B(2021) = round(1000000.00 × 1.05^(2021 − 2020)) + (−30000.00) = 1050000.00 − 30000.00 = 1020000.00.
  const in2021 = await expectStatus(t, 'agreement QD-HT in 2021', 200, admin.GET('/v1/agreements/{id}', { params: { path: { id: String(agreementHT) }, query: { year: 2021 } } }))
  t.match(in2021.groups[0], { name: 'taxes', baseForYear: '1020000.00' })
})

t.test('revenue (实际收入) by CSV import: a bad file loads nothing, a good one loads all, a corrected one revises', async (t) => {
  const header = 'zoneCode,districtCode,category,year,month,amount'
  const importCsv = (csv: string) => admin.POST('/v1/revenues/import', {
    body: csv,
    bodySerializer: (body: string) => body,
    headers: { 'content-type': 'text/csv' },
  })

  const bad = await expectProblem(t, 'a file with a 13th month', 422, importCsv([header, 'QD-HT,,10101,2021,3,400000.00', 'QD-HT,,10101,2021,13,1.00', ''].join('\n')))
  t.same(bad.errors?.map((e) => e.pointer), ['/line/3/month'], 'the bad line by its spreadsheet line number (header = line 1)')
  t.same((await expectStatus(t, 'revenue after the bad file', 200, admin.GET('/v1/revenues', { params: { query: { year: 2021 } } }))).items, [], 'nothing loaded')

  const file = [
    header,
    'QD-HT,370214,10101,2021,3,400000.00',
    'QD-HT,370214,10101,2021,6,350000.00',
    'QD-HT,370214,10101,2021,12,290000.00', // corrected below to 300000.00
    'QD-HT,,10104,2021,12,250000.00', // districtCode empty: the zone's host district
    'QD-HT,370214,10105,2021,11,-10000.05', // an enterprise income tax refund, negative (§5)
    'QD-HT,370214,10304,2021,6,6000.00',
    'QD-HT,370214,10304,2021,12,6345.67',
    'QD-HT,370214,10106,2021,12,99999.99', // individual income tax: in no group, not shared (§2)
    'QD-BL,370203,10101,2021,6,230000.00',
    'QD-BL,,10101,2021,12,250000.00',
    'QD-BL,370203,10304,2021,12,1000.00',
  ].join('\r\n')
  const loaded = await expectStatus(t, 'the year\'s revenue', 200, importCsv(file))
  t.match(loaded, { rows: 11, loaded: 11, rejected: 0, created: 11, revised: 0, unchanged: 0, errors: [] })

  const corrected = await expectStatus(t, 'a corrected December', 200, importCsv(`${header}\nQD-HT,370214,10101,2021,12,300000.00\nQD-HT,370214,10101,2021,6,350000.00\n`))
  t.match(corrected, { rows: 2, loaded: 2, created: 0, revised: 1, unchanged: 1 })

  const vat = await expectStatus(t, 'QD-HT VAT 2021', 200, admin.GET('/v1/revenues', { params: { query: { zoneCode: 'QD-HT', year: 2021, category: '10101' } } }))
  t.same(vat.items.map((r) => [r.month, r.amount]), [[3, '400000.00'], [6, '350000.00'], [12, '300000.00']], 'the latest revision of each month')
  const history = await expectStatus(t, 'December\'s history', 200, admin.GET('/v1/revenues/{zoneCode}/{districtCode}/{category}/{year}/{month}/history', {
    params: { path: { zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 12 } },
  }))
  t.same(history.items.map((r) => r.amount), ['290000.00', '300000.00'], 'the earlier revision is kept, oldest first')
})

t.test('advances (预拨): the district bureau records its own; a retried POST is not paid twice', async (t) => {
  const district = apiClient(baseUrl, districtToken)
  const june = { agreementId: agreementHT, fiscalYear: 2021, paidOn: '2021-06-30', amount: '80000.00', documentNo: '城财预〔2021〕21号' }
  const first = await district.POST('/v1/advances', { body: june, headers: { 'idempotency-key': 'ht-2021-advance-06' } })
  t.equal(first.response.status, 201)
  const retry = await district.POST('/v1/advances', { body: june, headers: { 'idempotency-key': 'ht-2021-advance-06' } })
  t.equal(retry.response.status, 201)
  t.equal(retry.response.headers.get('idempotent-replayed'), 'true', 'the retry is a replay')
  t.same(retry.data, first.data, 'the same answer')
  await expectStatus(t, 'September advance', 201, district.POST('/v1/advances', { body: { ...june, paidOn: '2021-09-30', amount: '60000.00', documentNo: '城财预〔2021〕37号' } }))
  // Another district's agreement is outside its scope: refused exactly as an agreement that does not exist.
  const outside = await expectProblem(t, 'an advance under 市北区\'s agreement', 422, district.POST('/v1/advances', { body: { ...june, agreementId: agreementBL } }))
  const unknown = await expectProblem(t, 'an advance under no agreement', 422, district.POST('/v1/advances', { body: { ...june, agreementId: 999999 } }))
  t.same(outside.errors, unknown.errors, 'the same answer as for an unknown agreement')
  await expectStatus(t, 'QD-BL advance', 201, admin.POST('/v1/advances', { body: { agreementId: agreementBL, fiscalYear: 2021, paidOn: '2021-06-30', amount: '10000.00', documentNo: '市北财预〔2021〕9号' } }))

  const advances = await expectStatus(t, 'QD-HT advances', 200, district.GET('/v1/advances', { params: { query: { agreementId: String(agreementHT), fiscalYear: 2021 } } }))
  t.same(advances.items.map((a) => a.amount), ['80000.00', '60000.00'], 'two advances, not three')
})

let runId: number
let digest: string

t.test('the settlement run (年度结算): a draft with the figures worked out by hand, then finalized', async (t) => {
  const run = await expectStatus(t, 'settlement run 2021', 201, admin.POST('/v1/settlement-runs', { body: { fiscalYear: 2021 } }))
  runId = run.id
  t.match(run, { fiscalYear: 2021, status: 'draft', minimumRate: '0.60', finalizedAt: null })
  t.equal(run.lineCount, 2, 'one line per agreement in force')
  const page = await expectStatus(t, 'the lines of run 2021', 200, admin.GET('/v1/settlement-runs/{id}/lines', { params: { path: { id: String(runId) } } }))
  t.equal(page.nextCursor, null, 'both on one page')
  const lines = page.items
  const ht = lines.find((l) => l.agreementId === agreementHT)!
  const bl = lines.find((l) => l.agreementId === agreementBL)!

  // QD-HT taxes (§5, increment): A = 400000.00 + 350000.00 + 300000.00 + 250000.00 − 10000.05 = 1289999.95;
  // B = 1020000.00 (§4, above); I = 269999.95; C_in = 0.00 (first year); S = 269999.95;
  // L₁ = 1020000.00 × 0.10 = 102000.00; portions 102000.00 and 167999.95;
  // band shares round(0.60 × 102000.00) = 61200.00 and round(0.80 × 167999.95) = 134399.96; Z = 195599.96;
  // D = 1289999.95 − 195599.96 = 1094399.99. 10106 (99999.99) is in no group and takes no part (§2).
  t.match(ht.groups[0], {
    name: 'taxes', basis: 'increment', base: '1020000.00', actual: '1289999.95', increment: '269999.95', carriedShortfallIn: '0.00', shareable: '269999.95',
    bands: [{ rate: '0.60', amount: '102000.00', zoneShare: '61200.00' }, { rate: '0.80', amount: '167999.95', zoneShare: '134399.96' }],
    zoneShare: '195599.96', districtShare: '1094399.99', carriedShortfallOut: '0.00',
  })
  // QD-HT fees (§5, total): Z = round(0.65 × 12345.67) = round(8024.6855) = 8024.69 (half up, §1); D = 4320.98.
  t.match(ht.groups[1], { name: 'fees', basis: 'total', actual: '12345.67', bands: [{ rate: '0.65', amount: '12345.67', zoneShare: '8024.69' }], zoneShare: '8024.69', districtShare: '4320.98' })
  // QD-HT (§6): revenueTotal = 1289999.95 + 12345.67 = 1302345.62; zoneShare = 195599.96 + 8024.69 = 203624.65;
  // districtShare = 1098720.97; advances 80000.00 + 60000.00 = 140000.00; balanceDue = 63624.65 (补拨, the district pays).
  t.match(ht, { zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', revenueTotal: '1302345.62', zoneShare: '203624.65', districtShare: '1098720.97', advancesPaid: '140000.00', balanceDue: '63624.65' })

  // QD-BL taxes (§5, deduct): A = 230000.00 + 250000.00 = 480000.00; B = 500000.00 (fixed); I = S = −20000.00;
  // Z = round(0.60 × −20000.00) = −12000.00; D = 492000.00; one band whose amount is S (api-contract).
  t.match(bl.groups[0], { name: 'taxes', base: '500000.00', actual: '480000.00', increment: '-20000.00', shareable: '-20000.00', bands: [{ rate: '0.60', amount: '-20000.00', zoneShare: '-12000.00' }], zoneShare: '-12000.00', districtShare: '492000.00', carriedShortfallOut: '0.00' })
  // QD-BL fees: Z = round(0.60 × 1000.00) = 600.00; D = 400.00.
  t.match(bl.groups[1], { name: 'fees', actual: '1000.00', zoneShare: '600.00', districtShare: '400.00' })
  // QD-BL (§6): revenueTotal 481000.00; zoneShare −12000.00 + 600.00 = −11400.00; districtShare 492400.00;
  // advances 10000.00; balanceDue = −11400.00 − 10000.00 = −21400.00 (扣回, the zone returns it).
  t.match(bl, { zoneCode: 'QD-BL', districtCode: '370203', revenueTotal: '481000.00', zoneShare: '-11400.00', districtShare: '492400.00', advancesPaid: '10000.00', balanceDue: '-21400.00' })

  // The run: 1302345.62 + 481000.00 = 1783345.62; 203624.65 − 11400.00 = 192224.65; 1098720.97 + 492400.00 = 1591120.97;
  // 140000.00 + 10000.00 = 150000.00; 63624.65 − 21400.00 = 42224.65.
  t.same(run.totals, { revenueTotal: '1783345.62', zoneShare: '192224.65', districtShare: '1591120.97', advancesPaid: '150000.00', balanceDue: '42224.65', adjustment: '0.00', balanceAdjustment: '0.00' })
  // Conservation (§7), to the cent.
  for (const line of lines) {
    t.equal(cents(line.zoneShare) + cents(line.districtShare), cents(line.revenueTotal), `agreement ${line.agreementId}: zone + district = revenue`)
    for (const g of line.groups) t.equal(cents(g.zoneShare) + cents(g.districtShare), cents(g.actual), `agreement ${line.agreementId} ${g.name}: Z + D = A`)
  }

  // 审核确认: 城阳区财政局 confirms QD-HT's line; 青岛高新区管委会 disputes it, then confirms it.
  const district = apiClient(baseUrl, districtToken)
  const zone = apiClient(baseUrl, zoneToken)
  const line = (agreementId: number) => ({ params: { path: { id: String(runId), agreementId: String(agreementId) } } })
  const confirmed = await expectStatus(t, '城阳区 confirms', 201, district.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementHT), body: { decision: 'confirm' } }))
  t.match(confirmed, { party: 'district', decision: 'confirm', byRole: 'district', byLabel: '城阳区财政局', reviews: { district: { decision: 'confirm' }, zone: null } })
  const disputed = await expectStatus(t, 'the zone disputes', 201, zone.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', {
    ...line(agreementHT), body: { decision: 'dispute', note: '12月增值税入库数待与国库核对' },
  }))
  t.match(disputed.reviews, { district: { decision: 'confirm' }, zone: { decision: 'dispute', note: '12月增值税入库数待与国库核对', byLabel: '青岛高新区管委会' } })
  // Neither may review the other district's line (404, as if absent), nor record the other party's decision (403).
  await expectProblem(t, 'the zone reviewing QD-BL\'s line', 404, zone.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementBL), body: { decision: 'confirm' } }))
  await expectProblem(t, '城阳区 reviewing QD-BL\'s line', 404, district.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementBL), body: { decision: 'confirm' } }))
  await expectProblem(t, 'the zone recording the district\'s decision', 403, zone.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementHT), body: { decision: 'confirm', party: 'district' } }))
  await expectProblem(t, '城阳区 recording the zone\'s decision', 403, district.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementHT), body: { decision: 'confirm', party: 'zone' } }))

  // The district bureau may read the run but not finalize it: only the municipal bureau does (403).
  await expectProblem(t, 'a district finalizing', 403, district.POST('/v1/settlement-runs/{id}/finalize', { params: { path: { id: String(runId) } } }))
  const refused = await expectProblem(t, 'finalizing a disputed run', 409, admin.POST('/v1/settlement-runs/{id}/finalize', { params: { path: { id: String(runId) } } }))
  t.match(refused.detail, /disputed by the zone: 12月增值税入库数待与国库核对/)
  t.same(refused.errors?.map((e) => e.pointer), [`/agreements/${agreementHT}`], 'naming the disputed line')
  await expectStatus(t, 'the zone confirms', 201, zone.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', {
    ...line(agreementHT), body: { decision: 'confirm', note: '已核对：差异为跨年在途款' },
  }))
  const reviewed = await expectStatus(t, 'the reviewed lines', 200, admin.GET('/v1/settlement-runs/{id}/lines', { params: { path: { id: String(runId) } } }))
  t.same(reviewed.items.map((l) => [l.zoneCode, l.reviews.district?.decision ?? '未确认', l.reviews.zone?.decision ?? '未确认']),
    [['QD-BL', '未确认', '未确认'], ['QD-HT', 'confirm', 'confirm']], 'QD-HT confirmed by both; QD-BL unreviewed, which does not stop finalizing')

  const finalized = await expectStatus(t, 'finalize', 200, admin.POST('/v1/settlement-runs/{id}/finalize', { params: { path: { id: String(runId) } } }))
  t.equal(finalized.status, 'finalized')
  t.type(finalized.finalizedAt, 'string')
  t.match(finalized.digest, /^[0-9a-f]{64}$/, 'with the digest of what was signed')
  t.equal(finalized.overrideReason, null)
  digest = finalized.digest!
  t.same(finalized.totals, run.totals, 'finalizing changes no figure')
  const finalizedLines = await expectStatus(t, 'the finalized lines', 200, admin.GET('/v1/settlement-runs/{id}/lines', { params: { path: { id: String(runId) } } }))
  t.same(finalizedLines.items.map(({ reviews: _reviews, ...figures }) => figures), lines.map(({ reviews: _reviews, ...figures }) => figures), 'not one figure')
  t.same(finalizedLines.items.map((l) => l.reviews), reviewed.items.map((l) => l.reviews), 'and the reviews as they were')
  await expectProblem(t, 'a review after finalizing', 409, district.POST('/v1/settlement-runs/{id}/lines/{agreementId}/review', { ...line(agreementHT), body: { decision: 'confirm' } }))
  const again = await expectProblem(t, 'finalizing twice', 409, admin.POST('/v1/settlement-runs/{id}/finalize', { params: { path: { id: String(runId) } } }))
  t.equal(again.status, 409)
  const runs = await expectStatus(t, 'runs of 2021', 200, admin.GET('/v1/settlement-runs', { params: { query: { fiscalYear: 2021 } } }))
  t.same(runs.items.map((r) => [r.id, r.status]), [[runId, 'finalized']])
})

t.test('the statement (结算单) as CSV: every figure as signed, and the total row reconciles to the cent', async (t) => {
  const { data: file, response } = await admin.GET('/v1/settlement-runs/{id}/statement', { params: { path: { id: String(runId) }, query: { format: 'csv' } }, parseAs: 'arrayBuffer' })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/csv; charset=utf-8/)
  t.match(response.headers.get('content-disposition'), /attachment; filename="settlement-2021-run-\d+\.csv"/)
  if (file === undefined) throw new Error('no statement')
  const bytes = new Uint8Array(file)
  t.same([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM for Excel')
  const csv = new TextDecoder('utf-8', { fatal: true }).decode(bytes) // the decoder drops the BOM
  const [title, head, ...rows] = csv.trimEnd().split('\r\n').map(csvFields)
  t.match(title![0], /^2021年度结算单/)
  const column = (name: string) => {
    const index = head!.findIndex((h) => h.endsWith(` ${name}`))
    if (index < 0) throw new Error(`no column "${name}" in ${head!.join(',')}`)
    return index
  }
  const [kind, zone, group, actual, zoneShare, districtShare, advances, balance, documentNo] =
    ['row', 'zone', 'group', 'actual revenue', 'zone share', 'district share', 'advances paid', 'balance due', 'agreement'].map(column) as [number, number, number, number, number, number, number, number, number]

  const groupRows = rows.filter((r) => r[kind]!.startsWith('口径组'))
  const subtotals = rows.filter((r) => r[kind]!.startsWith('小计'))
  const total = rows.filter((r) => r[kind]!.startsWith('合计'))
  t.equal(rows.length, 7, 'four group rows, two subtotals, one total')
  // Agreements in zone code order, each agreement's groups in its own order.
  t.same(groupRows.map((r) => [r[zone], r[documentNo], r[group], r[actual], r[zoneShare], r[districtShare]]), [
    ['QD-BL', '青政字〔2021〕6号', 'taxes', '480000.00', '-12000.00', '492000.00'],
    ['QD-BL', '青政字〔2021〕6号', 'fees', '1000.00', '600.00', '400.00'],
    ['QD-HT', '青政字〔2021〕5号', 'taxes', '1289999.95', '195599.96', '1094399.99'],
    ['QD-HT', '青政字〔2021〕5号', 'fees', '12345.67', '8024.69', '4320.98'],
  ], 'the figures of the run (§5)')
  t.same(subtotals.map((r) => [r[zone], r[actual], r[zoneShare], r[districtShare], r[advances], r[balance]]), [
    ['QD-BL', '481000.00', '-11400.00', '492400.00', '10000.00', '-21400.00'],
    ['QD-HT', '1302345.62', '203624.65', '1098720.97', '140000.00', '63624.65'],
  ], 'one subtotal per agreement (§6)')
  t.same(rows.map((r) => r[kind]!.split(' ')[0]), ['口径组', '口径组', '小计', '口径组', '口径组', '小计', '合计'], 'each subtotal under its groups, the total last')
  t.equal(total.length, 1)
  t.same([total[0]![actual], total[0]![zoneShare], total[0]![districtShare], total[0]![advances], total[0]![balance]],
    ['1783345.62', '192224.65', '1591120.97', '150000.00', '42224.65'], 'the total the offices sign')

  // Reconciliation, in cents: the group rows add up to each subtotal and to the total; the subtotals' advances
  // and balances add up to the total; and zone + district = revenue on every row (§5 "adds up to the cent").
  const sum = (list: string[][], index: number) => list.reduce((acc, r) => acc + cents(r[index]), 0n)
  for (const index of [actual, zoneShare, districtShare]) {
    t.equal(sum(groupRows, index), cents(total[0]![index]), `${head![index]}: group rows = total`)
    t.equal(sum(subtotals, index), cents(total[0]![index]), `${head![index]}: subtotals = total`)
    for (const sub of subtotals) {
      t.equal(sum(groupRows.filter((r) => r[zone] === sub[zone]), index), cents(sub[index]), `${head![index]}: ${sub[zone]} groups = subtotal`)
    }
  }
  for (const index of [advances, balance]) t.equal(sum(subtotals, index), cents(total[0]![index]), `${head![index]}: subtotals = total`)
  for (const r of [...groupRows, ...subtotals, ...total]) t.equal(cents(r[zoneShare]) + cents(r[districtShare]), cents(r[actual]), `${r[kind]} ${r[zone]} ${r[group]}: zone + district = actual`)
  t.equal(cents(total[0]![zoneShare]) - cents(total[0]![advances]), cents(total[0]![balance]), 'balance due = zone share − advances (§6)')
})

t.test('the statement as xlsx and as a printable page, and the verification: the digest and every line recomputed', async (t) => {
  const path = { params: { path: { id: String(runId) } } }
  const { data: xlsx, response: xlsxResponse } = await admin.GET('/v1/settlement-runs/{id}/statement', { params: { ...path.params, query: { format: 'xlsx' } }, parseAs: 'arrayBuffer' })
  t.equal(xlsxResponse.status, 200)
  if (xlsx === undefined) throw new Error('no xlsx')
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(xlsx)
  const sheet = workbook.getWorksheet('结算单')!
  t.match(String(sheet.getRow(1).getCell(1).value), `校验码 SHA-256 digest ${digest}`, 'the digest in the xlsx title')
  const header = (sheet.getRow(2).values as unknown[]).map(String)
  const zoneReview = header.indexOf('功能区管委会审核 zone review')
  const htSubtotal = sheet.getRows(3, sheet.rowCount - 2)!.find((r) => String(r.getCell(1).value).startsWith('小计') && r.getCell(2).value === 'QD-HT')!
  t.match(String(htSubtotal.getCell(zoneReview).value), /^确认 confirm · 青岛高新区管委会 · .* · 已核对：差异为跨年在途款$/, 'the zone\'s decision in force on QD-HT\'s subtotal')
  t.equal(sheet.getRow(sheet.rowCount).getCell(header.indexOf('功能区分成 zone share')).value, 192224.65, 'the total zone share, a number to add up')

  const { data: html, response } = await admin.GET('/v1/settlement-runs/{id}/statement', { params: { ...path.params, query: { format: 'html' } }, parseAs: 'text' })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/html; charset=utf-8/)
  t.match(response.headers.get('content-security-policy'), /^default-src 'none'; style-src 'self'; font-src 'self';/)
  if (html === undefined) throw new Error('no html')
  t.equal(html.match(/<section class="agreement"/g)?.length, 2, 'a page per agreement')
  for (const figure of ['1,302,345.62', '203,624.65', '1,098,720.97', '140,000.00', '63,624.65', '-21,400.00', '134,399.96']) t.match(html, `>${figure}<`, `${figure} in 元 with thousands separators`)
  t.equal(html.split(digest).length - 1, 3, 'the digest on both pages, and on the totals page (since the print probe)')
  for (const seal of ['市财政局', '区财政局', '功能区管委会']) t.match(html, `<h3>${seal}</h3>`, `a seal block for ${seal}`)
  t.match(html, '未确认', 'QD-BL\'s line printed as unreviewed')

  const verification = await expectStatus(t, 'verification', 200, admin.GET('/v1/settlement-runs/{id}/verification', path))
  t.same(verification, { runId, digest, recomputedDigest: digest, digestMatches: true, linesChecked: 2, mismatchCount: 0, mismatches: [] }, 'clean')
  const districtView = await expectStatus(t, '城阳区\'s verification', 200, apiClient(baseUrl, districtToken).GET('/v1/settlement-runs/{id}/verification', path))
  t.match(districtView, { digest, digestMatches: true, linesChecked: 1, mismatches: [] }, 'a district verifies the digest on its paper and its own line')
})

t.test('legacy debts (历史遗留债务): register, transfer (划转), repay, and the summary as of the year end', async (t) => {
  const district = apiClient(baseUrl, districtToken)
  const loan = await expectStatus(t, 'register a bank loan', 201, admin.POST('/v1/debts', {
    body: { zoneCode: 'QD-HT', reference: 'HT-2015-007', creditor: '示例银行青岛分行', kind: 'bank_loan', principal: '5000000.00', outstanding: '3200000.00', interestRate: '0.0435', incurredOn: '2015-09-01', maturityDate: '2025-09-01', registeredOn: '2020-12-31' },
  }))
  t.match(loan, { zoneCode: 'QD-HT', status: 'zone', responsibleDistrictCode: null, principal: '5000000.00', outstanding: '3200000.00' })
  await expectStatus(t, 'register a bond', 201, admin.POST('/v1/debts', {
    body: { zoneCode: 'QD-BL', reference: 'BL-2018-002', creditor: '示例证券', kind: 'bond', principal: '2000000.00', outstanding: '2000000.00', maturityDate: '2023-12-31', registeredOn: '2021-01-01' },
  }))

  // Before the transfer the district is not responsible: the loan is outside its scope.
  await expectProblem(t, 'a district repaying before the transfer', 404, district.POST('/v1/debts/{id}/repayments', { params: { path: { id: String(loan.id) } }, body: { paidOn: '2021-02-01', principal: '1.00', interest: '0.00' } }))
  await expectProblem(t, 'a district transferring', 403, district.POST('/v1/debts/{id}/transfer', { params: { path: { id: String(loan.id) } }, body: { districtCode: '370214', transferredOn: '2021-03-31', documentNo: 'x' } }))
  const transferred = await expectStatus(t, 'transfer to 城阳区', 200, admin.POST('/v1/debts/{id}/transfer', {
    params: { path: { id: String(loan.id) } },
    body: { districtCode: '370214', transferredOn: '2021-03-31', documentNo: '青政办字〔2021〕8号' },
  }))
  t.match(transferred, { status: 'transferred', responsibleDistrictCode: '370214', outstanding: '3200000.00' })
  await expectProblem(t, 'a second transfer', 409, admin.POST('/v1/debts/{id}/transfer', { params: { path: { id: String(loan.id) } }, body: { districtCode: '370203', transferredOn: '2021-04-01', documentNo: 'x' } }))

  const june = await expectStatus(t, 'June repayment by 城阳区', 201, district.POST('/v1/debts/{id}/repayments', { params: { path: { id: String(loan.id) } }, body: { paidOn: '2021-06-30', principal: '400000.00', interest: '69600.00' } }))
  t.match(june, { kind: 'repayment', principal: '400000.00', interest: '69600.00' })
  await expectStatus(t, 'December repayment', 201, district.POST('/v1/debts/{id}/repayments', { params: { path: { id: String(loan.id) } }, body: { paidOn: '2021-12-21', principal: '350000.00', interest: '61012.50' } }))
  // 3200000.00 − 400000.00 − 350000.00 = 2450000.00 outstanding: one cent more is refused (422).
  const over = await expectProblem(t, 'more principal than outstanding', 422, district.POST('/v1/debts/{id}/repayments', { params: { path: { id: String(loan.id) } }, body: { paidOn: '2021-12-30', principal: '2450000.01', interest: '0.00' } }))
  t.match(over.detail, /2450000\.00/)

  const yearEnd = await expectStatus(t, 'the loan as of 2021-12-31', 200, admin.GET('/v1/debts/{id}', { params: { path: { id: String(loan.id) }, query: { asOf: '2021-12-31' } } }))
  t.match(yearEnd, { status: 'transferred', outstanding: '2450000.00', principalRepaid: '750000.00', interestPaid: '130612.50' })
  t.same(yearEnd.events.map((e) => [e.kind, e.occurredOn]), [['transfer', '2021-03-31'], ['repayment', '2021-06-30'], ['repayment', '2021-12-21']])

  // The summary as of the year end, by responsible district (null: still with its zone).
  // outstanding 2000000.00 (bond) + 2450000.00 (loan) = 4450000.00; registered 2000000.00 + 3200000.00 = 5200000.00;
  // repaid 750000.00; interest 69600.00 + 61012.50 = 130612.50; transferred: the loan, 2450000.00 outstanding.
  const summary = await expectStatus(t, 'debt summary', 200, admin.GET('/v1/debts/summary', { params: { query: { asOf: '2021-12-31', groupBy: 'district' } } }))
  if (typeof summary === 'string') throw new Error('the summary came back as a file, not JSON')
  t.same(summary.rows.map((r) => [r.key, r.outstanding, r.principalRepaid]), [[null, '2000000.00', '0.00'], ['370214', '2450000.00', '750000.00']])
  t.match(summary.total, { debts: 2, outstanding: '4450000.00', registeredOutstanding: '5200000.00', principalRepaid: '750000.00', interestPaid: '130612.50', transferred: 1, transferredOutstanding: '2450000.00' })
  for (const field of ['outstanding', 'registeredOutstanding', 'principalRepaid', 'interestPaid', 'transferredOutstanding'] as const) {
    t.equal(summary.rows.reduce((acc, r) => acc + cents(r[field]), 0n), cents(summary.total[field]), `${field}: the rows add up to the total`)
  }
  t.equal(cents(summary.total.registeredOutstanding) - cents(summary.total.principalRepaid), cents(summary.total.outstanding), 'registered − repaid = outstanding')

  const scoped = await expectStatus(t, 'the district\'s summary', 200, district.GET('/v1/debts/summary', { params: { query: { asOf: '2021-12-31', groupBy: 'district' } } }))
  if (typeof scoped === 'string') throw new Error('the summary came back as a file, not JSON')
  t.same(scoped.rows.map((r) => [r.key, r.outstanding]), [['370214', '2450000.00']], 'a district sees the debts transferred to it')
})
