import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import {
  findAgreement, insertAgreement, insertBaseAdjustment, lastFinalizedYear, listAgreements, lockAgreementPair, overlappingAgreements, revenueTotal,
  setEffectiveTo, type StoredAgreement, type StoredGroup, unknownCategories,
} from '../../db/agreements.js'
import type { DatabaseHandle } from '../../db/connect.js'
import { findDistrict, findZone } from '../../db/registry.js'
import { ALL } from '../../db/scope.js'
import { groupBaseForYear, inForce, parseAgreement } from '../../domain/agreement.js'
import { type Decimal, formatMoney, formatRate, money } from '../../domain/money.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { HttpProblem, type ProblemField } from '../problem.js'
import {
  CategoryCode, DistrictCode, FiscalYear, Growth, IdempotencyHeaders, idFromParam, IdParam, MAX_BASE_ADJUSTMENTS, RecordId, Money, MoneyOut, pageLimit, PageOf, PageQuery, problemResponses, Rate, RateOut, security, StringEnum, Timestamp, ZoneCode,
} from '../schemas/common.js'
import { runWrite } from '../write.js'

/* Agreements (分成办法) and base adjustments (基数调整) — api-contract.md, Registry; calculation-rules.md §2–§4. */

const BasisSchema = StringEnum(['increment', 'total'], '分成口径 increment: share what exceeds the base; total: share the whole amount')
const ModeSchema = StringEnum(['fixed', 'escalating', 'prior_year'], '基数口径 fixed, escalating by growthRate, or last year\'s actual')
const ShortfallSchema = StringEnum(['none', 'deduct', 'carry_forward'], '短收处理 none (the district bears it), deduct (the zone bears its share) or carry_forward')

const BandIn = Type.Object({
  upToGrowth: Type.Optional(Growth('档次上限 growth up to this share of the base; absent on the last band')),
  rate: Rate('分成比例 the zone\'s marginal share in this band, at least the floor'),
}, { additionalProperties: false, description: '分档 a marginal band' })

const GroupIn = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, description: '口径组名称 group name, unique in the agreement' }),
  basis: BasisSchema,
  categories: Type.Array(CategoryCode(), { minItems: 1, maxItems: 200, description: '收入科目 the revenue categories of the group; a category belongs to at most one group' }),
  base: Type.Optional(Type.Object({
    amount: Type.Optional(Money('核定基数 verified base for the base year (fixed and escalating)')),
    mode: ModeSchema,
    growthRate: Type.Optional(Growth('基数递增率 yearly growth (escalating only)')),
  }, { additionalProperties: false, description: '基数 the base rule (basis increment only)' })),
  rates: Type.Array(BandIn, { minItems: 1, maxItems: 10, description: '分档比例 one to ten marginal bands; basis total takes one' }),
  shortfall: Type.Optional(ShortfallSchema),
}, { additionalProperties: false, description: '分成口径组 a netting group' })

const agreementExample = {
  zoneCode: 'QD-HT',
  districtCode: '370214',
  documentNo: '青政字〔2020〕12号',
  effectiveFrom: 2030,
  baseYear: 2029,
  groups: [
    { name: 'taxes', basis: 'increment', categories: ['10101', '10104', '10106'], base: { amount: '1000000.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' },
    { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
  ],
}

const AgreementIn = Type.Object({
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  documentNo: Type.String({ minLength: 1, maxLength: 100, description: '文号 the document that set the agreement, e.g. 青政字〔2020〕12号' }),
  effectiveFrom: FiscalYear('起始年度 first fiscal year in force'),
  effectiveTo: Type.Optional(FiscalYear('终止年度 last fiscal year in force; open-ended when absent')),
  baseYear: FiscalYear('基期年度 the year of the verified base, before effectiveFrom'),
  groups: Type.Array(GroupIn, { minItems: 1, maxItems: 50, description: '分成口径组 one to fifty netting groups' }),
}, { additionalProperties: false, description: '新增分成办法 a new agreement', examples: [agreementExample] })

const AdjustmentOut = Type.Object({
  id: RecordId('编号 adjustment id'),
  fromYear: FiscalYear('起始年度 first fiscal year it applies to'),
  amount: MoneyOut('调整金额 signed amount'),
  reason: Type.String({ maxLength: 500, description: '调整原因 why the base moved' }),
  documentNo: Type.String({ maxLength: 100, description: '文号 the document that decided it' }),
  createdAt: Timestamp('登记时间 when it was recorded'),
}, { additionalProperties: false, description: '基数调整 a base adjustment', examples: [{ id: 1, fromYear: 2021, amount: '-50000.00', reason: '教育事权划转功能区', documentNo: '青财预〔2021〕3号', createdAt: '2026-01-01T00:00:00.000Z' }] })

const GroupOut = Type.Object({
  name: Type.String({ maxLength: 100, description: '口径组名称 group name' }),
  basis: BasisSchema,
  categories: Type.Array(CategoryCode(), { maxItems: 200, description: '收入科目 categories' }),
  base: Type.Union([Type.Object({
    amount: Type.Union([MoneyOut('核定基数 verified base for the base year'), Type.Null()], { description: '核定基数 verified base for the base year (null for prior_year)' }),
    mode: ModeSchema,
    growthRate: Type.Union([RateOut('基数递增率 yearly growth'), Type.Null()], { description: '基数递增率 yearly growth (escalating only)' }),
  }, { additionalProperties: false }), Type.Null()], { description: '基数 the base rule, null for basis total' }),
  rates: Type.Array(Type.Object({
    upToGrowth: Type.Optional(RateOut('档次上限 band limit as a share of the base')),
    rate: RateOut('分成比例 the band\'s rate'),
  }, { additionalProperties: false }), { maxItems: 10, description: '分档比例 bands' }),
  shortfall: ShortfallSchema,
  adjustments: Type.Array(AdjustmentOut, { maxItems: MAX_BASE_ADJUSTMENTS, description: '基数调整 base adjustments by fromYear' }),
  baseForYear: Type.Optional(Type.Union([MoneyOut('当年基数 the base for the requested year after adjustments'), Type.Null()],
    { description: '当年基数 B(Y) for ?year= (increment groups); null when it cannot be computed (see baseNote)' })),
  baseNote: Type.Optional(Type.String({ maxLength: 500, description: '说明 why baseForYear is null' })),
}, { additionalProperties: false, description: '分成口径组 a group' })

const AgreementOut = Type.Object({
  id: RecordId('编号 agreement id'),
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  documentNo: Type.String({ maxLength: 100, description: '文号 document number' }),
  baseYear: FiscalYear('基期年度 base year'),
  effectiveFrom: FiscalYear('起始年度 first fiscal year in force'),
  effectiveTo: Type.Union([FiscalYear('终止年度 last fiscal year in force'), Type.Null()], { description: '终止年度 last fiscal year in force, null when open-ended' }),
  createdAt: Timestamp('登记时间 when it was recorded'),
  year: Type.Optional(FiscalYear('查询年度 the year of ?year=')),
  inForce: Type.Optional(Type.Boolean({ description: '当年有效 whether the agreement is in force in ?year=' })),
  groups: Type.Array(GroupOut, { maxItems: 50, description: '分成口径组 groups in order' }),
}, { additionalProperties: false, description: '分成办法 an agreement' , examples: [{
    id: 1, zoneCode: 'QD-HT', districtCode: '370214', documentNo: '青政字〔2020〕12号', baseYear: 2019, effectiveFrom: 2020, effectiveTo: null, createdAt: '2026-01-01T00:00:00.000Z',
    groups: [
      { name: 'taxes', basis: 'increment', categories: ['10101', '10104'], base: { amount: '1000000.00', mode: 'fixed', growthRate: null }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', adjustments: [] },
      { name: 'fees', basis: 'total', categories: ['10304'], base: null, rates: [{ rate: '0.60' }], shortfall: 'none', adjustments: [] },
    ],
  }] })


function presentGroup (g: StoredGroup, year?: { value: number, base: Decimal | null, note?: string }) {
  return {
    name: g.name,
    basis: g.basis,
    categories: g.categories,
    base: g.base === undefined
      ? null
      : { amount: g.base.amount === undefined ? null : formatMoney(g.base.amount), mode: g.base.mode, growthRate: g.base.growthRate === undefined ? null : formatRate(g.base.growthRate) },
    rates: g.rates.map((b) => b.upToGrowth === undefined ? { rate: formatRate(b.rate) } : { upToGrowth: formatRate(b.upToGrowth), rate: formatRate(b.rate) }),
    shortfall: g.shortfall,
    adjustments: g.adjustments.map((a) => ({ ...a, amount: formatMoney(a.amount) })),
    ...(year === undefined || g.basis === 'total' ? {} : { baseForYear: year.base === null ? null : formatMoney(year.base) }),
    ...(year?.note === undefined ? {} : { baseNote: year.note }),
  }
}

function presentAgreement (a: StoredAgreement) {
  return {
    id: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, documentNo: a.documentNo, baseYear: a.baseYear,
    effectiveFrom: a.effectiveFrom, effectiveTo: a.effectiveTo, createdAt: a.createdAt, groups: a.groups.map((g) => presentGroup(g)),
  }
}

export interface AgreementRoutesOptions {
  database: DatabaseHandle
  minZoneRate: Decimal
}

export const agreementRoutes: FastifyPluginAsyncTypebox<AgreementRoutesOptions> = async (app, { database, minZoneRate }) => {
  const { db } = database

  app.post('/agreements', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'createAgreement', summary: '新增分成办法 record an agreement (admin)', tags: ['agreements'], security,
      description: 'Checked on the way in (calculation-rules.md §2–§3): rates at or above the floor, bands in order, a category in at most one group, ' +
        'baseYear before effectiveFrom, and no two agreements of one zone–district pair covering the same year (422).',
      headers: IdempotencyHeaders, body: AgreementIn,
      response: { 201: AgreementOut, ...problemResponses(400, 401, 403, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const terms = parseAgreement(request.body, minZoneRate)
    const problems: ProblemField[] = []
    if (await findZone(tx, ALL, terms.zoneCode) === undefined) problems.push({ pointer: '/zoneCode', message: `no zone ${terms.zoneCode} is registered` })
    if (await findDistrict(tx, ALL, terms.districtCode) === undefined) problems.push({ pointer: '/districtCode', message: `no district ${terms.districtCode} is registered` })
    const unknown = await unknownCategories(tx, terms.groups.flatMap((g) => g.categories))
    terms.groups.forEach((g, i) => g.categories.forEach((c, j) => {
      if (unknown.has(c)) problems.push({ pointer: `/groups/${i}/categories/${j}`, message: `no revenue category ${c}` })
    }))
    if (problems.length > 0) throw new HttpProblem(422, 'unknown-reference', 'The agreement refers to codes that are not registered.', problems)
    await lockAgreementPair(tx, terms.zoneCode, terms.districtCode)
    const overlapping = await overlappingAgreements(tx, terms.zoneCode, terms.districtCode, terms.effectiveFrom, terms.effectiveTo)
    if (overlapping.length > 0) {
      const other = overlapping[0]!
      throw new HttpProblem(422, 'overlapping-agreement',
        `Agreement ${other.id} (${other.document_no}, ${other.effective_from}–${other.effective_to ?? 'open'}) already covers some of ` +
        `${terms.effectiveFrom}–${terms.effectiveTo ?? 'open'} for ${terms.zoneCode} and ${terms.districtCode}; end it first (PATCH effectiveTo) or start this one later.`,
        [{ pointer: '/effectiveFrom', message: `overlaps agreement ${other.id}` }])
    }
    const id = await insertAgreement(tx, terms)
    const stored = (await findAgreement(tx, ALL, id))!
    return { status: 201, body: presentAgreement(stored), audit: [{ action: 'create', entityType: 'agreement', entityId: String(id), details: request.body }] }
  }))

  app.get('/agreements', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'listAgreements', summary: '分成办法列表 list agreements in the caller\'s scope', tags: ['agreements'], security,
      querystring: Type.Object({
        ...PageQuery,
        zoneCode: Type.Optional(ZoneCode()),
        districtCode: Type.Optional(DistrictCode()),
        year: Type.Optional(FiscalYear('财政年度 only agreements in force this year')),
      }, { additionalProperties: false }),
      response: { 200: PageOf(AgreementOut, '分成办法 agreements by id'), ...problemResponses(400, 401) },
    },
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const page = await listAgreements(db, request.scope, filter, { limit: pageLimit(limit), cursor })
    return { items: page.items.map(presentAgreement), nextCursor: page.nextCursor }
  })

  app.get('/agreements/:id', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'getAgreement', summary: '分成办法 one agreement; with ?year= the base each group has that year', tags: ['agreements'], security,
      params: Type.Object({ id: IdParam('编号 agreement id', 1) }),
      querystring: Type.Object({ year: Type.Optional(FiscalYear('财政年度 show B(Y) of each increment group for this year')) }, { additionalProperties: false }),
      response: { 200: AgreementOut, ...problemResponses(400, 401, 404) },
    },
  }, async (request) => {
    const agreement = await findAgreement(db, request.scope, idFromParam(request.params.id))
    if (agreement === undefined) throw new HttpProblem(404, 'not-found', `No agreement ${request.params.id}.`)
    const year = request.query.year
    if (year === undefined) return presentAgreement(agreement)
    const groups = await Promise.all(agreement.groups.map(async (g) => {
      if (g.base === undefined) return presentGroup(g, { value: year, base: null })
      let prior: Decimal | undefined
      if (g.base.mode === 'prior_year') {
        const revenue = await revenueTotal(db, agreement.zoneCode, agreement.districtCode, g.categories, year - 1)
        if (revenue.records === 0) return presentGroup(g, { value: year, base: null, note: `mode prior_year needs the group's revenue of ${year - 1}, and none is recorded` })
        prior = money(revenue.total)
      }
      const derivation = groupBaseForYear(g, agreement.baseYear, g.adjustments, year, prior)
      return presentGroup(g, { value: year, base: derivation?.base ?? null })
    }))
    return { ...presentAgreement(agreement), year, inForce: inForce(agreement, year), groups }
  })

  app.patch('/agreements/:id', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'endAgreement', summary: '调整有效期 set the last year an agreement is in force (admin)', tags: ['agreements'], security,
      description: 'Agreements are not edited in place: a change is a new agreement from a later year. This ends (or reopens) the old one so that the new one does not overlap it.',
      params: Type.Object({ id: IdParam('编号 agreement id', 1) }), headers: IdempotencyHeaders,
      body: Type.Object({
        effectiveTo: Type.Union([FiscalYear('终止年度 last fiscal year in force'), Type.Null()], { description: '终止年度 last fiscal year in force; null for open-ended' }),
      }, { additionalProperties: false, examples: [{ effectiveTo: 2024 }] }),
      response: { 200: AgreementOut, ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const agreement = await findAgreement(tx, ALL, idFromParam(request.params.id))
    if (agreement === undefined) throw new HttpProblem(404, 'not-found', `No agreement ${request.params.id}.`)
    const { effectiveTo } = request.body
    if (effectiveTo !== null && effectiveTo < agreement.effectiveFrom) {
      throw new HttpProblem(422, 'rule-violated', `effectiveTo ${effectiveTo} is before effectiveFrom ${agreement.effectiveFrom}.`, [{ pointer: '/effectiveTo', message: 'before effectiveFrom' }])
    }
    const settled = await lastFinalizedYear(tx, agreement.id)
    if (settled !== undefined && effectiveTo !== null && effectiveTo < settled) {
      throw new HttpProblem(409, 'agreement-settled', `Agreement ${agreement.id} is in a finalized settlement of ${settled}; it cannot end before that year.`,
        [{ pointer: '/effectiveTo', message: `must be ${settled} or later` }])
    }
    await lockAgreementPair(tx, agreement.zoneCode, agreement.districtCode)
    const overlapping = await overlappingAgreements(tx, agreement.zoneCode, agreement.districtCode, agreement.effectiveFrom, effectiveTo, agreement.id)
    if (overlapping.length > 0) {
      throw new HttpProblem(422, 'overlapping-agreement', `Agreement ${overlapping[0]!.id} already covers some of those years.`, [{ pointer: '/effectiveTo', message: `overlaps agreement ${overlapping[0]!.id}` }])
    }
    await setEffectiveTo(tx, agreement.id, effectiveTo)
    return {
      status: 200, body: presentAgreement({ ...agreement, effectiveTo }),
      audit: [{ action: 'set_effective_to', entityType: 'agreement', entityId: String(agreement.id), details: { from: agreement.effectiveTo, to: effectiveTo } }],
    }
  }))

  app.post('/agreements/:id/base-adjustments', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'createBaseAdjustment', summary: '基数调整 record a base adjustment (财随事走, admin)', tags: ['agreements'], security,
      params: Type.Object({ id: IdParam('编号 agreement id', 1) }),
      headers: IdempotencyHeaders,
      body: Type.Object({
        group: Type.String({ minLength: 1, maxLength: 100, description: '口径组名称 the group whose base moves (basis increment)' }),
        fromYear: FiscalYear('起始年度 first fiscal year the adjustment applies to'),
        amount: Money('调整金额 + a function handed to the district, − a power or cost handed to the zone'),
        reason: Type.String({ minLength: 1, maxLength: 500, description: '调整原因 why the base moves' }),
        documentNo: Type.String({ minLength: 1, maxLength: 100, description: '文号 the document that decided it' }),
      }, { additionalProperties: false, examples: [{ group: 'taxes', fromYear: 2022, amount: '-50000.00', reason: '教育事权划转功能区', documentNo: '青财预〔2022〕3号' }] }),
      response: { 201: AdjustmentOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const agreement = await findAgreement(tx, ALL, idFromParam(request.params.id))
    if (agreement === undefined) throw new HttpProblem(404, 'not-found', `No agreement ${request.params.id}.`)
    const group = agreement.groups.find((g) => g.name === request.body.group)
    if (group === undefined) {
      throw new HttpProblem(422, 'unknown-reference', `Agreement ${agreement.id} has no group "${request.body.group}".`, [{ pointer: '/group', message: `one of: ${agreement.groups.map((g) => g.name).join(', ')}` }])
    }
    if (group.basis !== 'increment') {
      throw new HttpProblem(422, 'rule-violated', `Group "${group.name}" shares the whole amount (basis total): it has no base to adjust.`, [{ pointer: '/group', message: 'basis total has no base' }])
    }
    if (group.adjustments.length >= MAX_BASE_ADJUSTMENTS) {
      throw new HttpProblem(422, 'rule-violated', `Group "${group.name}" already holds ${group.adjustments.length} base adjustments, the most a group may hold; ` +
        'record a new agreement with the base as it now stands.', [{ pointer: '/group', message: `at most ${MAX_BASE_ADJUSTMENTS} adjustments per group` }])
    }
    const settled = await lastFinalizedYear(tx, agreement.id)
    if (settled !== undefined && request.body.fromYear <= settled) {
      throw new HttpProblem(409, 'agreement-settled', `Agreement ${agreement.id} is in a finalized settlement of ${settled}: ` +
        `an adjustment from ${request.body.fromYear} would change a settled year. Adjust from ${settled + 1} on, or record a new agreement.`,
        [{ pointer: '/fromYear', message: `must be after ${settled}` }])
    }
    if (request.body.fromYear <= agreement.baseYear) {
      throw new HttpProblem(422, 'rule-violated', `fromYear must be after the base year ${agreement.baseYear}.`, [{ pointer: '/fromYear', message: `must be after ${agreement.baseYear}` }])
    }
    const adjustment = await insertBaseAdjustment(tx, agreement.id, group.position, request.body)
    return {
      status: 201, body: { ...adjustment, amount: formatMoney(adjustment.amount) },
      audit: [{ action: 'create', entityType: 'base_adjustment', entityId: String(adjustment.id), details: { agreementId: agreement.id, ...request.body } }],
    }
  }))
}
