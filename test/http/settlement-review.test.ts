import { parse } from 'csv-parse/sync'
import { sql } from 'kysely'
import ExcelJS from 'exceljs'
import t from 'tap'
import { ConfigError, parseConfig } from '../../src/config.js'
import { lockRunHeader } from '../../src/db/settlements.js'
import { expectProblem, onPostgres, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get, injector, type Caller } from '../world.js'

/*
 * Review, sign-off and verification of a settlement run (api-contract.md, Settlement runs: review,
 * finalize, verification, statement; calculation-rules.md §9): the district's finance bureau and
 * the zone's management committee confirm or dispute their lines, a disputed line stops finalizing
 * unless an admin overrides it with a reason, REQUIRE_TWO_ADMINS, the digest stored with the
 * finalization, the verification that recomputes it and every line (and sees a figure changed
 * behind the service's back), and the statement in its three formats.
 *
 * The world: 城阳区 370214 hosts QD-HT (agreement ht), 市北区 370203 hosts QD-BL (agreement bl);
 * taxes = 10101 + 10104, base 1000.00 fixed, bands [≤ 10% at 0.60, rest at 0.80], carry_forward;
 * fees = 10304, total at 0.60. In 2020 (§5, §6):
 *   QD-HT taxes A = 1150.00, I = S = 150.00: 0.60 × 100.00 + 0.80 × 50.00 = 60.00 + 40.00 = 100.00;
 *         fees A = 200.00: 0.60 × 200.00 = 120.00; Z = 220.00, D = 1350.00 − 220.00 = 1130.00;
 *         advances 50.00, balance due 170.00.
 *   QD-BL taxes A = 900.00, I = S = −100.00, carried forward: Z = 0.00; fees A = 0.00; D = 900.00.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const { ht, bl } = world.agreements
await created(t, app, '/v1/revenues', { records: [
  { zoneCode: 'QD-HT', category: '10101', year: 2020, month: 3, amount: '1150.00' },
  { zoneCode: 'QD-HT', category: '10304', year: 2020, month: 3, amount: '200.00' },
  { zoneCode: 'QD-BL', category: '10101', year: 2020, month: 3, amount: '900.00' },
  { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 3, amount: '1234567.89' },
  { zoneCode: 'QD-BL', category: '10101', year: 2021, month: 3, amount: '1300.00' },
] }, 200)
await created(t, app, '/v1/advances', { agreementId: ht, fiscalYear: 2020, paidOn: '2020-06-30', amount: '50.00', documentNo: '预拨〔2020〕1号' })

const review = (who: Caller, runId: number, agreementId: number, body: Record<string, unknown>) =>
  injectAs(who, { method: 'POST', url: `/v1/settlement-runs/${runId}/lines/${agreementId}/review`, payload: body })
const finalize = (runId: number, body?: Record<string, unknown>, who: Caller = 'admin') =>
  injectAs(who, { method: 'POST', url: `/v1/settlement-runs/${runId}/finalize`, ...(body === undefined ? {} : { payload: body }) })
const verification = async (runId: number, who: Caller = 'admin') => (await injectAs(who, { method: 'GET', url: `/v1/settlement-runs/${runId}/verification` })).json()
type Reviews = Record<'district' | 'zone', { decision: string, note: string | null, by: string, byRole: string, byLabel: string | null, at: string } | null>
const reviewsOf = async (runId: number) => Object.fromEntries(((await get(app, `/v1/settlement-runs/${runId}/lines`)).json().items as Array<{ agreementId: number, reviews: Reviews }>)
  .map((l) => [l.agreementId, l.reviews])) as Record<number, Reviews>
const reviewCount = () => rowCount(database, 'settlement_reviews')

const run2020 = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 })).id as number

t.test('review: each party confirms or disputes its own line; every decision kept, the latest on the line and in the audit log', async (t) => {
  const confirmed = await review('district214', run2020, ht, { decision: 'confirm' })
  t.equal(confirmed.statusCode, 201)
  t.match(confirmed.json(), {
    runId: run2020, agreementId: ht, party: 'district', decision: 'confirm', note: null, by: world.keyIds.district214, byRole: 'district', byLabel: 'test',
    reviews: { district: { decision: 'confirm', by: world.keyIds.district214 }, zone: null },
  })

  const before = await reviewCount()
  const noNote = expectProblem(t, await review('zoneHT', run2020, ht, { decision: 'dispute' }), 400)
  t.same(noNote.errors, [{ pointer: '/note', message: 'a dispute says what is disputed' }], 'a dispute needs a note')
  expectProblem(t, await review('zoneHT', run2020, ht, { decision: 'dispute', note: '   ' }), 400)
  t.equal(await reviewCount(), before, 'and nothing is recorded')

  t.equal((await review('zoneHT', run2020, ht, { decision: 'dispute', note: '3月税收入库数待核 <b>' })).statusCode, 201, 'the zone disputes, saying why')
  t.equal((await review('zoneHT', run2020, ht, { decision: 'dispute', note: '3月税收入库数与国库对账单不符' })).statusCode, 201, 'and says it again')
  const reviews = await reviewsOf(run2020)
  t.match(reviews[ht], { district: { decision: 'confirm', byRole: 'district' }, zone: { decision: 'dispute', note: '3月税收入库数与国库对账单不符', by: world.keyIds.zoneHT, byRole: 'zone' } },
    'the line shows the latest decision of each party')
  t.same(reviews[bl], { district: null, zone: null }, 'a line nobody reviewed is unreviewed')
  t.equal(await reviewCount(), 3, 'every decision is kept')

  // Another party's line is absent (404), the other party's decision forbidden (403).
  for (const who of ['district203', 'zoneBL'] as const) {
    const absent = expectProblem(t, await review(who, run2020, ht, { decision: 'confirm' }), 404)
    t.same(absent, { ...absent, detail: `No line of agreement ${ht} in settlement run ${run2020}.` }, `${who}: QD-HT's line as if absent`)
  }
  expectProblem(t, await review('district214', run2020, 999_999, { decision: 'confirm' }), 404)
  expectProblem(t, await review('district214', 999_999, ht, { decision: 'confirm' }), 404)
  const zoneForDistrict = expectProblem(t, await review('zoneHT', run2020, ht, { decision: 'confirm', party: 'district' }), 403)
  t.match(zoneForDistrict.detail, /zone key records the zone's own decision/)
  expectProblem(t, await review('district214', run2020, ht, { decision: 'dispute', note: 'x', party: 'zone' }), 403)
  t.equal(await reviewCount(), 3, 'none of these recorded anything')

  // An admin records a party's decision on its behalf, naming the party and a note.
  const noParty = expectProblem(t, await review('admin', run2020, bl, { decision: 'confirm', note: '书面确认' }), 400)
  t.same(noParty.errors?.map((e) => e.pointer), ['/party'])
  const adminNoNote = expectProblem(t, await review('admin', run2020, bl, { decision: 'confirm', party: 'district' }), 400)
  t.same(adminNoNote.errors?.map((e) => e.pointer), ['/note'])
  const onBehalf = await review('admin', run2020, bl, { decision: 'confirm', party: 'district', note: '市北区财政局书面确认函' })
  t.equal(onBehalf.statusCode, 201)
  t.match(onBehalf.json(), { party: 'district', decision: 'confirm', by: 'bootstrap', byRole: 'admin', byLabel: null, reviews: { district: { byRole: 'admin' }, zone: null } })

  const audit = (await get(app, '/v1/audit-events?entityType=settlement_line')).json().items as Array<{ action: string, entityId: string, keyId: string, details: Record<string, unknown> }>
  t.same(audit.map((e) => [e.action, e.entityId, e.keyId, e.details.party, e.details.decision, e.details.onBehalf]), [
    ['review', `${run2020}/${bl}`, 'bootstrap', 'district', 'confirm', true],
    ['review', `${run2020}/${ht}`, world.keyIds.zoneHT, 'zone', 'dispute', false],
    ['review', `${run2020}/${ht}`, world.keyIds.zoneHT, 'zone', 'dispute', false],
    ['review', `${run2020}/${ht}`, world.keyIds.district214, 'district', 'confirm', false],
  ], 'each decision in the audit log, newest first, with who recorded it')
  t.equal(audit[1]?.details.note, '3月税收入库数与国库对账单不符')
})

let digest2020 = ''

t.test('finalize: refused while a line is disputed (409 settlement-disputed, naming it); unreviewed lines are finalized as such', async (t) => {
  const disputed = expectProblem(t, await finalize(run2020), 409)
  t.match(disputed.type, /:settlement-disputed$/)
  t.match(disputed.detail, new RegExp(`agreement ${ht} \\(QD-HT–370214\\) disputed by the zone: 3月税收入库数与国库对账单不符`))
  t.same(disputed.errors?.map((e) => e.pointer), [`/agreements/${ht}`], 'naming the disputed line only')
  t.match((await get(app, `/v1/settlement-runs/${run2020}`)).json(), { status: 'draft', digest: null }, 'the run stays a draft')

  t.equal((await review('zoneHT', run2020, ht, { decision: 'confirm', note: '已核对，差异为在途款' })).statusCode, 201, 'the zone confirms after checking')
  const needless = expectProblem(t, await finalize(run2020, { override: { reason: '年度决算时限' } }), 422)
  t.same(needless.errors, [{ pointer: '/override', message: 'no disputed line to override' }], 'an override with nothing to override is refused')
  expectProblem(t, await finalize(run2020, { override: {} }), 400)
  expectProblem(t, await finalize(run2020, { override: { reason: 'x' }, extra: true }), 400)
  for (const payload of ['null', '[]']) {
    const refused = expectProblem(t, await injectAs('admin', { method: 'POST', url: `/v1/settlement-runs/${run2020}/finalize`, headers: { 'content-type': 'application/json' }, payload }), 400)
    t.same(refused.errors?.map((e) => e.pointer), [''], `a body of ${payload} is not the object the operation takes (api-contract.md, Errors: 400 malformed input)`)
  }
  t.match((await get(app, `/v1/settlement-runs/${run2020}`)).json(), { status: 'draft', digest: null }, 'and the run is not finalized by it')

  const finalized = await finalize(run2020)
  t.equal(finalized.statusCode, 200, 'finalized without a body, as before')
  const body = finalized.json()
  t.match(body, { status: 'finalized', finalizedBy: 'bootstrap', overrideReason: null, digest: /^[0-9a-f]{64}$/, totals: { zoneShare: '220.00', balanceDue: '170.00' } })
  digest2020 = body.digest
  t.match((await get(app, `/v1/settlement-runs/${run2020}`)).json(), { digest: digest2020 }, 'the digest is stored with the run')
  t.match((await get(app, '/v1/audit-events?entityType=settlement_run&limit=1')).json().items[0], { action: 'finalize', details: { digest: digest2020 } })
  t.same((await reviewsOf(run2020))[bl]?.zone, null, 'QD-BL\'s zone never reviewed: finalized as unreviewed (未确认)')
})

t.test('a finalized run takes no reviews, by any path (409; the database refuses too)', async (t) => {
  const before = await reviewCount()
  const refused = expectProblem(t, await review('zoneBL', run2020, bl, { decision: 'confirm' }), 409)
  t.match(refused.detail, /finalized .*: its lines take no more reviews/)
  t.equal(await reviewCount(), before)
  await t.rejects(sql`INSERT INTO settlement_reviews (run_id, agreement_id, party, decision, recorded_by, recorded_by_role) VALUES (${run2020}, ${bl}, 'zone', 'confirm', 'x', 'zone')`.execute(database.db),
    /finalized: it takes no more reviews/)
  await t.rejects(sql`UPDATE settlement_reviews SET note = 'changed'`.execute(database.db), /kept as recorded/)
  await t.rejects(sql`DELETE FROM settlement_reviews`.execute(database.db), /kept as recorded/)
  await t.rejects(sql`TRUNCATE settlement_reviews`.execute(database.db), /cannot be truncated/)
  await t.rejects(sql`UPDATE settlement_runs SET digest = NULL, override_reason = 'x' WHERE id = ${run2020}`.execute(database.db), /finalized/, 'nor its digest')
  t.equal(await reviewCount(), before)
})

let run2021 = 0

t.test('finalize with an override: the reason is stored and printed on every statement format', async (t) => {
  run2021 = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2021 })).id as number
  t.equal((await review('zoneBL', run2021, bl, { decision: 'dispute', note: '结转短收100.00元有异议 <script>alert(1)</script>' })).statusCode, 201)
  t.equal((await review('district203', run2021, bl, { decision: 'confirm' })).statusCode, 201)
  expectProblem(t, await finalize(run2021, { override: { reason: '   ' } }), 400)
  expectProblem(t, await finalize(run2021), 409)
  const reason = '经市政府专题会议研究，先行结算，异议事项在2022年补充结算中处理'
  const finalized = await finalize(run2021, { override: { reason } })
  t.equal(finalized.statusCode, 200)
  t.match(finalized.json(), { status: 'finalized', overrideReason: reason, digest: /^[0-9a-f]{64}$/ })
  const audit = (await get(app, '/v1/audit-events?entityType=settlement_run&limit=1')).json().items[0]
  t.match(audit.details, { override: { reason, disputed: [{ agreementId: bl, parties: ['zone'] }] } }, 'the override and what it set aside, in the audit log')

  const csv = await get(app, `/v1/settlement-runs/${run2021}/statement?format=csv`)
  const [[title = ''] = [], columns = [], ...rows] = parse(csv.body, { bom: true, relaxColumnCount: true }) as string[][]
  t.match(title, `校验码 SHA-256 digest ${finalized.json().digest as string}`, 'the CSV title carries the digest')
  t.match(title, `强制定稿理由 override: ${reason}`, 'and the override reason')
  // Beijing time (UTC+8), as the HTML page and the review cells print it: a run finalized before
  // 08:00 in Beijing would otherwise carry the day before, and on 1 January the year before.
  const beijing = new Date(Date.parse(finalized.json().finalizedAt as string) + 8 * 3600_000).toISOString()
  t.match(title, `定稿 finalized ${beijing.slice(0, 10)} ${beijing.slice(11, 16)} 北京时间 — `, 'the CSV title gives the finalization in Beijing time')
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load((await get(app, `/v1/settlement-runs/${run2021}/statement?format=xlsx`)).rawPayload as unknown as ArrayBuffer)
  t.equal(workbook.getWorksheet('结算单')?.getRow(1).getCell(1).value, title, 'the xlsx title is the CSV\'s')
  const subtotal = rows.find((r) => r[0]!.startsWith('小计') && r.includes('QD-BL'))!
  t.match(subtotal[columns.indexOf('区财政局审核 district review')], /^确认 confirm · test · \d{4}-\d{2}-\d{2} \d{2}:\d{2} 北京时间$/, 'each party\'s decision on the agreement\'s subtotal row')
  t.match(subtotal[columns.indexOf('功能区管委会审核 zone review')], /^有异议 dispute · test · .* 北京时间 · 结转短收100\.00元有异议/)
  const htSubtotal = rows.find((r) => r[0]!.startsWith('小计') && r.includes('QD-HT'))!
  t.same([htSubtotal[columns.indexOf('区财政局审核 district review')], htSubtotal[columns.indexOf('功能区管委会审核 zone review')]], ['未确认 unreviewed', '未确认 unreviewed'])

  const html = await get(app, `/v1/settlement-runs/${run2021}/statement?format=html`)
  t.equal(html.statusCode, 200)
  t.match(html.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(html.headers['content-security-policy'], "default-src 'none'; style-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'a CSP that allows only the statement\'s stylesheet and font')
  t.match(html.body, `强制定稿理由（存在异议时定稿）：${reason}`)
  t.match(html.body, finalized.json().digest as string)
  t.notMatch(html.body, /<script/i, 'no script, not even a note\'s')
  t.match(html.body, '结转短收100.00元有异议 &lt;script&gt;alert(1)&lt;/script&gt;', 'notes are escaped')
  t.match(html.body, '1,234,567.89', 'amounts in 元 with thousands separators')
  t.equal(html.body.match(/<section class="agreement"/g)?.length, 2, 'a page per agreement')
})

t.test('verification: the digest and every line recomputed from the stored rows; a figure changed behind the service\'s back is reported', async (t) => {
  t.same(await verification(run2020), { runId: run2020, digest: digest2020, recomputedDigest: digest2020, digestMatches: true, linesChecked: 2, mismatchCount: 0, mismatches: [] })
  t.match(await verification(run2020, 'district214'), { digestMatches: true, linesChecked: 1 }, 'a district checks its own lines, and the run\'s digest')
  const draft = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 })).id as number
  t.match(expectProblem(t, await injectAs('admin', { method: 'GET', url: `/v1/settlement-runs/${draft}/verification` }), 409).type, /:not-finalized$/, 'a draft has no digest yet')
  expectProblem(t, await injectAs('zoneBL', { method: 'GET', url: `/v1/settlement-runs/${run2020 + 1000}/verification` }), 404)

  // A superuser changes QD-HT's zone share of 2020 (220.00) in the database, past the trigger.
  await sql`ALTER TABLE settlement_lines DISABLE TRIGGER settlement_lines_immutable`.execute(database.db)
  await sql`UPDATE settlement_lines SET zone_share = zone_share + 1 WHERE run_id = ${run2020} AND agreement_id = ${ht}`.execute(database.db)
  await sql`ALTER TABLE settlement_lines ENABLE TRIGGER settlement_lines_immutable`.execute(database.db)
  const tampered = await verification(run2020)
  t.match(tampered, { digest: digest2020, digestMatches: false, linesChecked: 2, mismatchCount: 2 })
  t.not(tampered.recomputedDigest, digest2020)
  t.same(tampered.mismatches, [
    { field: 'digest', stored: digest2020, recomputed: tampered.recomputedDigest },
    { agreementId: ht, field: 'zoneShare', stored: '221.00', recomputed: '220.00' },
  ], 'the digest, and the line\'s zone share against the engine (§5: 100.00 + 120.00)')
  t.match(await verification(run2020, 'district203'), { digestMatches: false, linesChecked: 1, mismatchCount: 1 }, 'another district sees the digest broken, not QD-HT\'s line')

  // A group's printed share and, separately, a figure inside a group's stored engine result (2021).
  // QD-HT taxes (§5): A = 1234567.89, I = S = 1233567.89: 0.60 × 100.00 + round(0.80 × 1233467.89) = 60.00 + 986774.31 = 986834.31.
  // QD-BL taxes (§5, §6): carried in 100.00 from 2020, A = 1300.00, I = 300.00, S = 200.00: 0.60 × 100.00 + 0.80 × 100.00 = 140.00;
  //   with the carried shortfall in its stored result changed to 0, S = 300.00: 60.00 + 0.80 × 200.00 = 220.00, D = 1080.00.
  await sql`ALTER TABLE settlement_groups DISABLE TRIGGER settlement_groups_immutable`.execute(database.db)
  await sql`UPDATE settlement_groups SET zone_share = 0 WHERE run_id = ${run2021} AND agreement_id = ${ht} AND name = 'taxes'`.execute(database.db)
  const changed = await sql`UPDATE settlement_groups SET result = replace(result, '"carriedShortfallIn":"100"', '"carriedShortfallIn":"0"')
    WHERE run_id = ${run2021} AND agreement_id = ${bl} AND name = 'taxes'`.execute(database.db)
  await sql`ALTER TABLE settlement_groups ENABLE TRIGGER settlement_groups_immutable`.execute(database.db)
  t.equal(changed.numAffectedRows, 1n)
  const groups = await verification(run2021)
  t.equal(groups.digestMatches, false)
  const bands = (second: string, share: string) => `[{"rate":"0.60","amount":"100.00","zoneShare":"60.00"},{"rate":"0.80","amount":"${second}","zoneShare":"${share}"}]`
  t.same(groups.mismatches.slice(1).map((m: Record<string, unknown>) => [m.agreementId, m.group ?? null, m.field, m.stored, m.recomputed]), [
    [ht, 'taxes', 'zoneShare', '0.00', '986834.31'],
    [bl, 'taxes', 'carriedShortfallIn', '100.00', '0.00'],
    [bl, 'taxes', 'shareable', '200.00', '300.00'],
    [bl, 'taxes', 'result/shareable', '200.00', '300.00'],
    [bl, 'taxes', 'zoneShare', '140.00', '220.00'],
    [bl, 'taxes', 'result/zoneShare', '140.00', '220.00'],
    [bl, 'taxes', 'districtShare', '1160.00', '1080.00'],
    [bl, 'taxes', 'result/districtShare', '1160.00', '1080.00'],
    [bl, 'taxes', 'bands', bands('100.00', '80.00'), bands('200.00', '160.00')],
    [bl, 'taxes', 'result/bands', bands('100.00', '80.00'), bands('200.00', '160.00')],
    [bl, null, 'zoneShare', '140.00', '220.00'],
    [bl, null, 'districtShare', '1160.00', '1080.00'],
    [bl, null, 'balanceDue', '140.00', '220.00'],
  ], 'each stored figure the engine makes otherwise of the stored inputs')
  t.equal(groups.mismatchCount, 14, 'and the digest')

  // A review's note changed: no figure differs, the digest does.
  await sql`ALTER TABLE settlement_reviews DISABLE TRIGGER settlement_reviews_append_only`.execute(database.db)
  await sql`UPDATE settlement_reviews SET note = '无异议' WHERE run_id = ${run2020} AND party = 'zone' AND decision = 'dispute'`.execute(database.db)
  await sql`ALTER TABLE settlement_reviews ENABLE TRIGGER settlement_reviews_append_only`.execute(database.db)
  await sql`ALTER TABLE settlement_lines DISABLE TRIGGER settlement_lines_immutable`.execute(database.db)
  await sql`UPDATE settlement_lines SET zone_share = zone_share - 1 WHERE run_id = ${run2020} AND agreement_id = ${ht}`.execute(database.db)
  await sql`ALTER TABLE settlement_lines ENABLE TRIGGER settlement_lines_immutable`.execute(database.db)
  const reviewed = await verification(run2020)
  t.match(reviewed, { digestMatches: false, mismatchCount: 1, mismatches: [{ field: 'digest' }] }, 'the zone share restored, the changed review still breaks the digest')
})

t.test('REQUIRE_TWO_ADMINS=1: the key that computed a run may not finalize it (403), nor a key that shares an issuer with it other than ADMIN_TOKEN; another admin key may', async (t) => {
  const fourEyes = injector(await testApp(t, database, { requireTwoAdmins: true }), world)
  const second = await created(t, app, '/v1/api-keys', { role: 'admin', label: '市财政局复核' }) as { id: string, token: string }
  const computed = await fourEyes('admin', { method: 'POST', url: '/v1/settlement-runs', payload: { fiscalYear: 2022 } })
  t.equal(computed.statusCode, 201)
  const runId = computed.json().id as number
  const same = expectProblem(t, await fourEyes('admin', { method: 'POST', url: `/v1/settlement-runs/${runId}/finalize` }), 403)
  t.match(same.type, /:second-admin-required$/)
  t.match(same.detail, /computed with key bootstrap.*another admin key/)
  t.match((await get(app, `/v1/settlement-runs/${runId}`)).json(), { status: 'draft' })
  // One admin may not be two signers by issuing themself more keys (found by a probe of the keys): a key issued through the
  // computing key, the key that issued it, a key issued through the same key: each 403, naming the key they share.
  const issue = async (by: { token: string }, label: string) => (await fourEyes(by, { method: 'POST', url: '/v1/api-keys', payload: { role: 'admin', label } })).json() as { id: string, token: string }
  const clerk = await created(t, app, '/v1/api-keys', { role: 'admin', label: '市财政局结算科' }) as { id: string, token: string }
  const clerksOwn = await issue(clerk, '结算科第二把钥匙')
  const clerksThird = await issue(clerksOwn, '结算科第三把钥匙')
  const sibling = await issue(clerk, '结算科第四把钥匙')
  const draftBy = async (key: { token: string }) => (await fourEyes(key, { method: 'POST', url: '/v1/settlement-runs', payload: { fiscalYear: 2022 } })).json().id as number
  const byClerk = await draftBy(clerk)
  const byClerksOwn = await draftBy(clerksOwn)
  const refusals: Array<[number, { id: string, token: string }, string]> = [
    [byClerk, clerksOwn, `Settlement run ${byClerk} was computed with key ${clerk.id}, and key ${clerksOwn.id} was issued through it`],
    [byClerk, clerksThird, `Settlement run ${byClerk} was computed with key ${clerk.id}, and key ${clerksThird.id} was issued through it`],
    [byClerksOwn, clerk, `Settlement run ${byClerksOwn} was computed with key ${clerksOwn.id}, and that key was issued through key ${clerk.id}`],
    [byClerksOwn, sibling, `Settlement run ${byClerksOwn} was computed with key ${clerksOwn.id}, and both it and key ${sibling.id} were issued through key ${clerk.id}`],
  ]
  for (const [run, key, detail] of refusals) {
    const refused = expectProblem(t, await fourEyes(key, { method: 'POST', url: `/v1/settlement-runs/${run}/finalize` }), 403)
    t.match(refused, { type: /:second-admin-required$/, detail: `${detail}: under REQUIRE_TWO_ADMINS=1 they count as one signer. Finalize it with an admin key issued by someone else (ADMIN_TOKEN issues each signer theirs).` })
    t.match((await get(app, `/v1/settlement-runs/${run}`)).json(), { status: 'draft' })
  }
  // A key revoked stays in the chain of the keys it issued.
  t.equal((await fourEyes('admin', { method: 'DELETE', url: `/v1/api-keys/${clerk.id}` })).statusCode, 200)
  expectProblem(t, await fourEyes(clerksOwn, { method: 'POST', url: `/v1/settlement-runs/${byClerk}/finalize` }), 403)
  const other = await fourEyes({ token: second.token }, { method: 'POST', url: `/v1/settlement-runs/${runId}/finalize` })
  t.equal(other.statusCode, 200)
  t.match(other.json(), { status: 'finalized', createdBy: 'bootstrap', finalizedBy: second.id })
})

t.test('REQUIRE_TWO_ADMINS is read from the environment: 1 turns it on, the default is single-admin', async (t) => {
  t.equal(parseConfig({}).requireTwoAdmins, false)
  t.equal(parseConfig({ REQUIRE_TWO_ADMINS: '0' }).requireTwoAdmins, false)
  t.equal(parseConfig({ REQUIRE_TWO_ADMINS: '1' }).requireTwoAdmins, true)
  t.throws(() => parseConfig({ REQUIRE_TWO_ADMINS: 'yes' }), ConfigError)
})

t.test('the statement page\'s stylesheet and font: public, cacheable, only what the page names', async (t) => {
  const html = (await get(app, `/v1/settlement-runs/${run2020}/statement?format=html`)).body
  t.match(html, `<p class="meta">结算批次 ${run2020} · 2020年度</p>`, 'a run of annual lines alone: its totals page says no more')
  const href = /<link rel="stylesheet" href="([^"]+)">/.exec(html)?.[1]
  t.match(href, /^\.\.\/\.\.\/\.\.\/assets\/statement-[0-9a-f]{16}\.css$/, 'a relative URL, so a proxy may mount the service under a prefix')
  const cssUrl = new URL(href!, `http://x/v1/settlement-runs/${run2020}/statement`).pathname
  const css = await app.inject({ method: 'GET', url: cssUrl })
  t.equal(css.statusCode, 200, 'without a token')
  t.match(css.headers['content-type'], /^text\/css/)
  t.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.match(css.body, /@page \{ size: A4 landscape;/)
  t.match(css.body, /break-after: page/)
  const fonts = [...css.body.matchAll(/url\((fonts\/[^)]+\.woff2)\)/g)].map((m) => new URL(m[1]!, `http://x${cssUrl}`).pathname)
  t.ok(fonts.length > 50, `${fonts.length} slices of the font`)
  const font = await app.inject({ method: 'GET', url: fonts[0]! })
  t.equal(font.statusCode, 200)
  t.equal(font.headers['content-type'], 'font/woff2')
  t.equal(font.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(font.rawPayload.subarray(0, 4).toString('latin1'), 'wOF2')
  const folder = fonts[0]!.slice(0, fonts[0]!.lastIndexOf('/'))
  expectProblem(t, await app.inject({ method: 'GET', url: `${folder}/..%2F..%2Fpackage.json` }), 404)
  expectProblem(t, await app.inject({ method: 'GET', url: `${folder}/index.css` }), 404)
  const draft = (await get(app, `/v1/settlement-runs/${(await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 })).id as number}/statement?format=html`)).body
  t.match(draft, '草稿 DRAFT', 'a draft says so')
  t.match(draft, '校验码 SHA-256：定稿时生成')
  const scoped = (await injectAs('district203', { method: 'GET', url: `/v1/settlement-runs/${run2020}/statement?format=html` })).body
  t.equal(scoped.match(/<section class="agreement"/g)?.length, 1, 'a district prints its own agreements')
  t.match(scoped, 'QD-BL')
  t.notMatch(scoped, 'QD-HT')
  // Its totals page adds up its own line, as the CSV's 合计 row does for the same key.
  const scopedCsv = (await injectAs('district203', { method: 'GET', url: `/v1/settlement-runs/${run2020}/statement?format=csv` })).body
  const csvTotal = scopedCsv.split('\r\n').find((row) => row.startsWith('合计'))?.split(',').filter((cell) => /^-?\d+\.\d\d$/.test(cell)) ?? []
  const htmlTotal = [...(/<section class="totals">([\s\S]*?)<\/section>/.exec(scoped)?.[1] ?? '').matchAll(/<td class="num">([^<]+)<\/td>/g)].map((m) => (m[1] ?? '').replaceAll(',', ''))
  t.ok(csvTotal.length > 0, 'the CSV has its 合计 row')
  t.same(htmlTotal.slice().sort(), csvTotal.slice().sort(), 'the HTML totals page prints the figures of the CSV\'s 合计 row')
  // And the CSV and the xlsx say so in their title, as the totals page does (found by review: their 合计 looked like the run's).
  const note = ' — 仅含属地政府 370203 的分成办法，合计不是本结算批次的全部 the lines of district 370203 only, not the whole run'
  const titleOf = (csv: string) => String((parse(csv, { bom: true, relax_column_count: true, to_line: 1 }) as string[][])[0]?.[0])
  t.ok(titleOf(scopedCsv).endsWith(note), 'the CSV\'s title')
  const scopedXlsx = await injectAs('district203', { method: 'GET', url: `/v1/settlement-runs/${run2020}/statement?format=xlsx` })
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(scopedXlsx.rawPayload as unknown as ArrayBuffer)
  t.ok(String(workbook.getWorksheet('结算单')?.getRow(1).getCell(1).value).endsWith(note), 'the xlsx\'s title')
  const zoneCsv = (await injectAs('zoneHT', { method: 'GET', url: `/v1/settlement-runs/${run2020}/statement?format=csv` })).body
  t.match(titleOf(zoneCsv), / — 仅含功能区 QD-HT 的分成办法，合计不是本结算批次的全部 the lines of zone QD-HT only, not the whole run$/)
  t.notMatch(titleOf((await get(app, `/v1/settlement-runs/${run2020}/statement?format=csv`)).body), '仅含', 'an admin\'s statement is the whole run')
})

if (onPostgres) {
  t.test('a finalization waits for a review under way and takes it into account (calculation-rules.md §9, api-contract.md: review)', async (t) => {
    const runId = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2023 })).id as number
    let finalizing: Promise<Awaited<ReturnType<typeof finalize>>> | undefined
    await database.db.transaction().execute(async (tx) => {
      // A review in flight: the run locked as reviewLine locks it, the dispute inserted, not yet committed.
      await lockRunHeader(tx, runId, 'share')
      await sql`INSERT INTO settlement_reviews (run_id, agreement_id, party, decision, note, recorded_by, recorded_by_role)
        VALUES (${runId}, ${ht}, 'zone', 'dispute', '在途异议', ${world.keyIds.zoneHT}, 'zone')`.execute(tx)
      finalizing = finalize(runId)
      const early = await Promise.race([finalizing.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 500))])
      t.equal(early, 'waiting', 'the finalization waits for the review')
    })
    const answer = await finalizing!
    const problem = expectProblem(t, answer, 409)
    t.match(problem.detail, /在途异议/, 'and then sees the dispute')
  })
}
