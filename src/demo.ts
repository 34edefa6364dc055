import type { Db } from './db/database.js'
import { formatMoney, money } from './domain/money.js'
import { ALL, type Principal, scopeOf } from './domain/principal.js'
import { recordAdvance } from './services/advances.js'
import { addBaseAdjustment, createAgreement } from './services/agreements.js'
import type { Context } from './services/context.js'
import { recordRepayment, registerDebt, transferDebt } from './services/debts.js'
import { createDistrict, createZone, districts } from './services/registry.js'
import { recordRevenue } from './services/revenue.js'
import { issueKey, revokeKey } from './services/keys.js'
import { createRun, finalizeRun, reviewLine } from './services/settlements.js'
import { recordTransfer } from './services/transfers.js'

/*
 * DEMO_DATA=1: an illustrative data set on an empty database, so that every example in
 * Swagger UI runs as it is. Every figure here is made up (示例数据, illustrative only): the
 * names are real places, the amounts and document numbers are not.
 *   城阳区 370214 hosts 青岛高新区 QD-HT; 黄岛区 370211 hosts QD-BS and QD-DJK.
 *   One agreement per zone for 2020–2025 (base year 2019) under the 60% rule; five years
 *   (2020–2024) of monthly revenue in four categories, growing; QD-HT's base moved by an adjustment and by a
 *   responsibility transfer (卫生健康 to 城阳区 from 2021, 12 staff); quarterly advances for 2021–2024; the 2020
 *   settlement reviewed and finalized (run 1: QD-HT's line confirmed by 城阳区 and the zone;
 *   QD-BS's disputed by the zone, then confirmed, and 黄岛区's confirmation recorded by the city
 *   on its behalf); 2021, 2022 and 2023 finalized (runs 2, 3, 4); a late correction of QD-HT's
 *   December 2021 revenue settled by a supplementary settlement (补充结算, run 5, finalized), so
 *   that the history of QD-HT's agreement shows four settled years, one of them adjusted; and
 *   2024 computed as a draft (run 6, QD-HT's line confirmed by 城阳区); three legacy debts. The
 *   district and zone keys that recorded the reviews are revoked.
 */

const NOTE = '（示例数据）'
const DEMO_KEY = 'demo-data'

interface DemoZone { code: string, name: string, district: string, scale: bigint }

const HT_ZONE: DemoZone = { code: 'QD-HT', name: `青岛高新区${NOTE}`, district: '370214', scale: 100n }
const ZONES: DemoZone[] = [
  HT_ZONE,
  { code: 'QD-BS', name: `青岛前湾保税港区${NOTE}`, district: '370211', scale: 70n },
  { code: 'QD-DJK', name: `董家口经济区${NOTE}`, district: '370211', scale: 40n },
]

/** The demo's years of revenue, and how each compares with 2020 (percent). */
const YEARS = [2020, 2021, 2022, 2023, 2024]
const GROWTH: Record<number, bigint> = { 2020: 100n, 2021: 108n, 2022: 115n, 2023: 121n, 2024: 129n }
/** The years settled and finalized; the last is computed as a draft. */
const FINALIZED_YEARS = [2020, 2021, 2022, 2023]
const DRAFT_YEAR = 2024

/** Monthly local-level revenue in yuan, as a string: a made-up, deterministic figure. */
function monthly (zone: DemoZone, category: string, year: number, month: number): string {
  const base = { 10101: 52_000n, 10104: 31_000n, 10106: 9_000n, 10304: 4_000n }[category as '10101'] ?? 1_000n
  const growth = GROWTH[year] ?? 100n
  const seasonal = 90n + BigInt((month * 7) % 21)
  const cents = base * zone.scale * growth * seasonal / 100n + BigInt(month * 37 + category.length)
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`
}

/**
 * The id of the demo's key of 城阳区财政局, revoked once its reviews are recorded: the document's
 * example of DELETE /v1/api-keys/{id} (src/http/schemas/access.ts) revokes it again, which changes nothing.
 */
export const DEMO_DISTRICT_KEY_ID = 'key_00000000000000d1'

/** A key of a district bureau or a zone's committee to record its reviews with (its token is never shown). */
async function reviewer (ctx: Context, key: { role: 'district', districtCode: string, label: string } | { role: 'zone', zoneCode: string, label: string }, id?: string): Promise<Principal> {
  const issued = await issueKey(ctx, key, id)
  return key.role === 'district' ? { role: 'district', keyId: issued.id, districtCode: key.districtCode } : { role: 'zone', keyId: issued.id, zoneCode: key.zoneCode }
}

/** Loads the demo data when the database holds no district yet; answers whether it did. Every record goes through the services. */
export async function loadDemoData (db: Db, floor = money('0.60')): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    // Every service call below joins this one transaction: all of the data set, or none of it.
    const ctx: Context = {
      db: tx, settings: { minZoneRate: floor, importLimit: 0, requireTwoAdmins: false },
      actor: { principal: { role: 'admin', keyId: DEMO_KEY }, scope: ALL, requestId: DEMO_KEY },
    }
    if ((await districts(ctx, { limit: 1 })).items.length > 0) return false
    await createDistrict(ctx, { code: '370214', name: `城阳区${NOTE}` })
    await createDistrict(ctx, { code: '370211', name: `黄岛区${NOTE}` })
    for (const z of ZONES) await createZone(ctx, { code: z.code, name: z.name, hostDistrictCode: z.district })

    const fees = { name: 'fees', basis: 'total' as const, categories: ['10304'], rates: [{ rate: '0.60' }] }
    const taxes = ['10101', '10104', '10106']
    const agreements = [
      { zoneCode: 'QD-HT', districtCode: '370214', documentNo: `示例〔2020〕1号${NOTE}`, groups: [
        { name: 'taxes', basis: 'increment' as const, categories: taxes, base: { amount: '100000000.00', mode: 'fixed' as const }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' as const },
        fees,
      ] },
      { zoneCode: 'QD-BS', districtCode: '370211', documentNo: `示例〔2020〕2号${NOTE}`, groups: [
        { name: 'taxes', basis: 'increment' as const, categories: taxes, base: { amount: '65000000.00', mode: 'escalating' as const, growthRate: '0.03' }, rates: [{ rate: '0.60' }], shortfall: 'deduct' as const },
        { ...fees, rates: [{ rate: '0.65' }] },
      ] },
      { zoneCode: 'QD-DJK', districtCode: '370211', documentNo: `示例〔2020〕3号${NOTE}`, groups: [
        { name: 'taxes', basis: 'increment' as const, categories: taxes, base: { mode: 'prior_year' as const }, rates: [{ rate: '0.60' }], shortfall: 'none' as const },
        fees,
      ] },
    ]
    const ids: number[] = []
    for (const a of agreements) {
      // prior_year bases need last year's revenue: QD-DJK's agreement starts in 2021, on 2020's.
      const years = a.zoneCode === 'QD-DJK' ? { effectiveFrom: 2021, baseYear: 2020 } : { effectiveFrom: 2020, baseYear: 2019 }
      ids.push((await createAgreement(ctx, { ...a, ...years, effectiveTo: 2025 })).id)
    }
    const [htAgreement = 0] = ids
    await addBaseAdjustment(ctx, htAgreement, { group: 'taxes', fromYear: 2021, amount: '-5000000.00', reason: `教育事权划转功能区${NOTE}`, documentNo: `示例〔2021〕3号${NOTE}` })
    // 财随事走: 卫生健康 handed to 城阳区 with its 12 staff; the district pays for it, so QD-HT's base rises by 12 × 180000.00 a year.
    await recordTransfer(ctx, {
      agreementId: htAgreement, group: 'taxes', function: `卫生健康${NOTE}`, direction: 'to_district', fromYear: 2021, documentNo: `示例〔2021〕5号${NOTE}`,
      funding: { method: 'headcount', headcount: 12, unitCost: '180000.00' },
    })

    const records = ZONES.flatMap((zone) => YEARS.flatMap((year) => [...taxes, '10304'].flatMap((category) =>
      Array.from({ length: 12 }, (_, m) => ({ zoneCode: zone.code, districtCode: zone.district, category, year, month: m + 1, amount: monthly(zone, category, year, m + 1) })))))
    await recordRevenue(ctx, records)

    for (const year of YEARS.filter((y) => y >= 2021)) {
      for (const [i, id] of ids.entries()) {
        for (const [quarter, day] of ['03-31', '06-30', '09-30', '12-20'].entries()) {
          const amount = (BigInt(3 - i) * 1_000_000n + BigInt(quarter) * 100_000n) * (GROWTH[year] ?? 108n) / 108n
          await recordAdvance(ctx, { agreementId: id, fiscalYear: year, paidOn: `${year}-${day}`, amount: `${amount}.00`, documentNo: `示例预拨〔${year}〕${i * 4 + quarter + 1}号${NOTE}` })
        }
      }
    }
    // Legacy debts: QD-HT's bank loan transferred to 城阳区 and partly repaid; QD-BS's bond still
    // with the zone; QD-DJK's project payable transferred to 黄岛区.
    const loan = await registerDebt(ctx, { zoneCode: 'QD-HT', reference: 'HT-2016-001', creditor: `示例银行${NOTE}`, kind: 'bank_loan', principal: '30000000.00', outstanding: '20000000.00', interestRate: '0.049', incurredOn: '2016-05-01', maturityDate: '2026-05-01', registeredOn: '2020-12-31' })
    await transferDebt(ctx, loan.debt.id, { districtCode: '370214', transferredOn: '2021-03-31', documentNo: `示例划转〔2021〕1号${NOTE}` })
    await recordRepayment(ctx, loan.debt.id, { paidOn: '2021-06-30', principal: '500000.00', interest: '12000.00' })
    await registerDebt(ctx, { zoneCode: 'QD-BS', reference: 'BS-2018-003', creditor: `示例证券${NOTE}`, kind: 'bond', principal: '10000000.00', outstanding: '10000000.00', interestRate: '0.038', maturityDate: '2023-12-31', registeredOn: '2020-12-31' })
    const payable = await registerDebt(ctx, { zoneCode: 'QD-DJK', reference: 'DJK-2019-002', creditor: `示例建设公司${NOTE}`, kind: 'project_payable', principal: '2000000.00', outstanding: '1500000.00', registeredOn: '2020-12-31' })
    await transferDebt(ctx, payable.debt.id, { districtCode: '370211', transferredOn: '2021-06-30', documentNo: `示例划转〔2021〕2号${NOTE}` })

    // 2020 settled, reviewed and finalized (run 1); 2021–2023 finalized (runs 2–4); QD-HT's 2021
    // corrected by a supplementary settlement (run 5); 2024 computed as a draft (run 6).
    const [, bsAgreement = 0] = ids
    const reviewers = {
      district370214: await reviewer(ctx, { role: 'district', districtCode: '370214', label: `城阳区财政局${NOTE}` }, DEMO_DISTRICT_KEY_ID),
      zoneHT: await reviewer(ctx, { role: 'zone', zoneCode: 'QD-HT', label: `青岛高新区管委会${NOTE}` }),
      zoneBS: await reviewer(ctx, { role: 'zone', zoneCode: 'QD-BS', label: `前湾保税港区管委会${NOTE}` }),
    }
    const as = (principal: Principal): Context => ({ ...ctx, actor: { principal, scope: scopeOf(principal), requestId: DEMO_KEY } })
    const run2020 = (await createRun(ctx, { fiscalYear: 2020 })).run.id
    await reviewLine(as(reviewers.district370214), run2020, htAgreement, { decision: 'confirm' })
    await reviewLine(as(reviewers.zoneHT), run2020, htAgreement, { decision: 'confirm', note: `经管委会财政金融局核对无误${NOTE}` })
    await reviewLine(as(reviewers.zoneBS), run2020, bsAgreement, { decision: 'dispute', note: `12月入库数与国库对账单不符，待核对${NOTE}` })
    await reviewLine(as(reviewers.zoneBS), run2020, bsAgreement, { decision: 'confirm', note: `已与国库对账，差异为在途款，确认${NOTE}` })
    await reviewLine(ctx, run2020, bsAgreement, { decision: 'confirm', party: 'district', note: `黄岛区财政局书面确认函${NOTE}` })
    await finalizeRun(ctx, run2020)
    for (const year of FINALIZED_YEARS.slice(1)) await finalizeRun(ctx, (await createRun(ctx, { fiscalYear: year })).run.id)
    // 跨年度更正: 1,200,000.00 of QD-HT's 2021 企业所得税 booked late; the year is settled again for QD-HT alone.
    const december2021 = monthly(HT_ZONE, '10104', 2021, 12)
    await recordRevenue(ctx, [{ zoneCode: 'QD-HT', districtCode: '370214', category: '10104', year: 2021, month: 12, amount: formatMoney(money(december2021).plus(1_200_000)) }])
    await finalizeRun(ctx, (await createRun(ctx, { fiscalYear: 2021, agreementIds: [htAgreement] })).run.id)
    const draft = (await createRun(ctx, { fiscalYear: DRAFT_YEAR })).run.id
    await reviewLine(as(reviewers.district370214), draft, htAgreement, { decision: 'confirm' })
    for (const principal of Object.values(reviewers)) await revokeKey(ctx, principal.keyId)
    return true
  })
}
