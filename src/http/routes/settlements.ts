import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Kysely } from 'kysely'
import Type from 'typebox'
import type { DatabaseHandle } from '../../db/connect.js'
import type { Database } from '../../db/database.js'
import { findRun, listRuns, type StoredLine, type StoredRun } from '../../db/settlements.js'
import { deserializeGroupResult, explainGroup, type Language } from '../../domain/explanation.js'
import { formatRate, money, type Decimal } from '../../domain/money.js'
import { runTotals, statementRows } from '../../domain/settlement.js'
import { createSettlementRun, finalizeSettlementRun } from '../../services/settlement.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { languageOf } from '../language.js'
import { HttpProblem } from '../problem.js'
import {
  DistrictCode, FiscalYear, IdempotencyHeaders, idFromParam, IdParam, RecordId, MoneyOut, pageLimit, PageOf, PageQuery, problemResponses, RateOut, security, StringEnum, Timestamp, ZoneCode,
} from '../schemas/common.js'
import { CalculationGroup } from './calculations.js'
import { statementCsv, statementXlsx } from '../statement.js'
import { runWrite } from '../write.js'

/* Settlement runs (年度结算) — api-contract.md, Settlement runs; calculation-rules.md §4–§6. */

const RunId = IdParam('编号 run id', 1)
/** The demo data's draft run (2021) is the one its example finalizes. */
const DraftRunId = IdParam('编号 the id of a draft run', 2)

const LineOut = Type.Object({
  agreementId: RecordId('分成办法 agreement id'),
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  kind: StringEnum(['annual', 'supplementary'], '结算类型 annual (年度结算) or supplementary (补充结算: the year was already finalized)'),
  revenueTotal: MoneyOut('收入合计 Σ actual'),
  zoneShare: MoneyOut('功能区分成 Σ zone share'),
  districtShare: MoneyOut('属地政府留成 revenue total − zone share'),
  advancesPaid: MoneyOut('已预拨 advances paid for the year'),
  balanceDue: MoneyOut('应补(扣) zone share − advances'),
  previousZoneShare: Type.Optional(MoneyOut('原结算功能区分成 the zone share of the finalized settlement (supplementary only)')),
  adjustment: Type.Optional(MoneyOut('补充结算调整 zone share − previous zone share (supplementary only)')),
  groups: Type.Array(CalculationGroup, { maxItems: 50, description: '口径组 groups, shaped as in the calculation response' }),
}, { additionalProperties: false, description: '结算行 one agreement\'s line' })

const TotalsOut = Type.Object({
  revenueTotal: MoneyOut('收入合计 Σ line revenue'),
  zoneShare: MoneyOut('功能区分成合计 Σ line zone share'),
  districtShare: MoneyOut('属地政府留成合计 Σ line district share'),
  advancesPaid: MoneyOut('已预拨合计 Σ advances'),
  balanceDue: MoneyOut('应补(扣)合计 Σ balance due'),
  adjustment: MoneyOut('补充结算调整合计 Σ supplementary adjustments'),
}, { additionalProperties: false, description: '合计 totals of the lines shown' })

const RunProps = {
  id: RecordId('编号 run id', [1]),
  fiscalYear: FiscalYear('财政年度 fiscal year settled'),
  status: StringEnum(['draft', 'finalized'], '状态 draft, or finalized (immutable)'),
  minimumRate: RateOut('分成比例下限 the floor in force'),
  createdAt: Timestamp('计算时间 when it was computed'),
  createdBy: Type.String({ maxLength: 40, description: '经办 the key that ran it' }),
  finalizedAt: Type.Union([Timestamp('定稿时间 when it was finalized'), Type.Null()], { description: '定稿时间 when it was finalized, null for a draft' }),
  finalizedBy: Type.Union([Type.String({ maxLength: 40 }), Type.Null()], { description: '定稿人 the key that finalized it' }),
}
const RunSummary = Type.Object(RunProps, { additionalProperties: false, description: '结算批次 a settlement run',
  examples: [{ id: 1, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null }] })
const RunOut = Type.Object({
  ...RunProps,
  totals: TotalsOut,
  lines: Type.Array(LineOut, { maxItems: 100_000, description: '结算行 one line per agreement in the caller\'s scope' }),
}, {
  additionalProperties: false,
  description: '结算批次 a settlement run with its lines',
  examples: [{
    id: 2, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null,
    totals: { revenueTotal: '1330000.00', zoneShare: '228000.00', districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00', adjustment: '0.00' },
    lines: [{
      agreementId: 1, zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', revenueTotal: '1330000.00', zoneShare: '228000.00',
      districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00',
      groups: [
        { name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00', increment: '250000.00', carriedShortfallIn: '0.00', shareable: '250000.00',
          bands: [{ rate: '0.60', amount: '100000.00', zoneShare: '60000.00' }, { rate: '0.80', amount: '150000.00', zoneShare: '120000.00' }],
          zoneShare: '180000.00', districtShare: '1070000.00', carriedShortfallOut: '0.00', explanation: ['增量 = 实际 1250000.00 − 基数 1000000.00 = 250000.00'] },
        { name: 'fees', basis: 'total', actual: '80000.00', bands: [{ rate: '0.60', amount: '80000.00', zoneShare: '48000.00' }],
          zoneShare: '48000.00', districtShare: '32000.00', explanation: ['全额分成：实际 80000.00 × 0.60 = 48000.00'] },
      ],
    }],
  }],
})

function presentLine (l: StoredLine, lang: Language) {
  return {
    agreementId: l.agreementId, zoneCode: l.zoneCode, districtCode: l.districtCode, kind: l.kind,
    revenueTotal: l.revenueTotal, zoneShare: l.zoneShare, districtShare: l.districtShare, advancesPaid: l.advancesPaid, balanceDue: l.balanceDue,
    ...(l.previousZoneShare === null ? {} : { previousZoneShare: l.previousZoneShare }),
    ...(l.adjustment === null ? {} : { adjustment: l.adjustment }),
    groups: l.groups.map((g) => ({
      name: g.name, basis: g.basis,
      ...(g.base === null ? {} : { base: g.base }),
      actual: g.actual,
      ...(g.increment === null ? {} : { increment: g.increment }),
      ...(g.carriedShortfallIn === null ? {} : { carriedShortfallIn: g.carriedShortfallIn }),
      ...(g.shareable === null ? {} : { shareable: g.shareable }),
      bands: JSON.parse(g.bands) as Array<{ rate: string, amount: string, zoneShare: string }>,
      zoneShare: g.zoneShare, districtShare: g.districtShare,
      ...(g.carriedShortfallOut === null ? {} : { carriedShortfallOut: g.carriedShortfallOut }),
      explanation: explainGroup(deserializeGroupResult(g.result), lang),
    })),
  }
}

function presentRun (run: StoredRun, lines: StoredLine[], lang: Language) {
  return { ...run, minimumRate: formatRate(money(run.minimumRate)), totals: runTotals(lines), lines: lines.map((l) => presentLine(l, lang)) }
}

async function statementNames (db: Kysely<Database>, lines: StoredLine[]) {
  const [zones, districts, agreements] = await Promise.all([
    db.selectFrom('zones').select(['code', 'name']).execute(),
    db.selectFrom('districts').select(['code', 'name']).execute(),
    lines.length === 0 ? [] : db.selectFrom('agreements').select(['id', 'document_no']).where('id', 'in', lines.map((l) => l.agreementId)).execute(),
  ])
  return {
    zone: new Map(zones.map((z) => [z.code, z.name])),
    district: new Map(districts.map((d) => [d.code, d.name])),
    documentNo: new Map(agreements.map((a) => [a.id, a.document_no])),
  }
}


export interface SettlementRoutesOptions { database: DatabaseHandle, minZoneRate: Decimal }

export const settlementRoutes: FastifyPluginAsyncTypebox<SettlementRoutesOptions> = async (app, { database, minZoneRate }) => {
  const { db } = database

  app.post('/settlement-runs', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'createSettlementRun', summary: '年度结算 compute a draft settlement for a fiscal year (admin)', tags: ['settlements'], security,
      description: 'One line per agreement in force that year (or per agreementIds), computed by the engine of POST /v1/calculations from the latest ' +
        'revenue revisions, the advances and the shortfall carried out of last year\'s finalized settlement. A second run for a year while one runs is 409; ' +
        'a carry_forward agreement whose previous year is not finalized is 409. After a year is finalized, a new run is a supplementary settlement (补充结算).',
      headers: IdempotencyHeaders,
      body: Type.Object({
        fiscalYear: FiscalYear('财政年度 the fiscal year to settle'),
        agreementIds: Type.Optional(Type.Array(RecordId('分成办法 agreement id'), { minItems: 1, maxItems: 100_000, uniqueItems: true, description: '分成办法 only these agreements (all in force when absent)' })),
      }, { additionalProperties: false, examples: [{ fiscalYear: 2021 }] }),
      response: { 201: RunOut, ...problemResponses(400, 401, 403, 409, 422) },
    },
  }, async (request, reply) => {
    const lang = languageOf(request.headers['accept-language'])
    return runWrite(db, request, reply, async (tx) => {
      const id = await createSettlementRun(tx, { ...request.body, minimumRate: minZoneRate }, request.principal.keyId)
      const found = (await findRun(tx, request.scope, id))!
      return {
        status: 201, body: presentRun(found.run, found.lines, lang),
        audit: [{ action: 'create', entityType: 'settlement_run', entityId: String(id), details: { fiscalYear: request.body.fiscalYear, lines: found.lines.length } }],
      }
    })
  })

  app.get('/settlement-runs', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'listSettlementRuns', summary: '结算批次列表 settlement runs with lines in the caller\'s scope, newest first', tags: ['settlements'], security,
      querystring: Type.Object({ ...PageQuery, fiscalYear: Type.Optional(FiscalYear()) }, { additionalProperties: false }),
      response: { 200: PageOf(RunSummary, '结算批次 runs'), ...problemResponses(400, 401) },
    },
  }, async (request) => listRuns(db, request.scope, request.query.fiscalYear, { limit: pageLimit(request.query.limit), cursor: request.query.cursor }))

  app.get('/settlement-runs/:id', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'getSettlementRun', summary: '结算批次 a run with the lines in the caller\'s scope', tags: ['settlements'], security,
      params: Type.Object({ id: RunId }),
      response: { 200: RunOut, ...problemResponses(400, 401, 404) },
    },
  }, async (request) => {
    const found = await findRun(db, request.scope, idFromParam(request.params.id))
    if (found === undefined) throw new HttpProblem(404, 'not-found', `No settlement run ${request.params.id}.`)
    return presentRun(found.run, found.lines, languageOf(request.headers['accept-language']))
  })

  app.post('/settlement-runs/:id/finalize', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'finalizeSettlementRun', summary: '定稿 finalize a draft run (admin): it can no longer change', tags: ['settlements'], security,
      description: 'Refused (409) when the run is already finalized, when the year\'s revenue, advances, base adjustments or agreements changed after it ' +
        'was computed, or when another run already finalized the year for one of its annual lines.',
      params: Type.Object({ id: DraftRunId }), headers: IdempotencyHeaders,
      response: { 200: RunOut, ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    const lang = languageOf(request.headers['accept-language'])
    return runWrite(db, request, reply, async (tx) => {
      await finalizeSettlementRun(tx, idFromParam(request.params.id), request.principal.keyId)
      const found = (await findRun(tx, request.scope, idFromParam(request.params.id)))!
      return {
        status: 200, body: presentRun(found.run, found.lines, lang),
        audit: [{ action: 'finalize', entityType: 'settlement_run', entityId: String(request.params.id), details: { fiscalYear: found.run.fiscalYear, totals: runTotals(found.lines) } }],
      }
    })
  })

  app.get('/settlement-runs/:id/statement', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'settlementStatement', summary: '结算单 the settlement statement as CSV or xlsx', tags: ['settlements'], security,
      description: 'One row per agreement and group, a subtotal per agreement and a total, adding up to the cent. CSV is UTF-8 with a BOM; xlsx has Chinese column titles, yuan formatting and a frozen header.',
      params: Type.Object({ id: RunId }),
      querystring: Type.Object({ format: Type.Optional(StringEnum(['csv', 'xlsx'], '格式 csv (default) or xlsx')) }, { additionalProperties: false }),
      produces: ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
      response: {
        200: Type.String({ maxLength: 1024 * 1024 * 1024, description: '结算单 the statement file', examples: ['\uFEFF2021年度结算单…'] }),
        ...problemResponses(400, 401, 404),
      },
    },
  }, async (request, reply) => {
    const found = await findRun(db, request.scope, idFromParam(request.params.id))
    if (found === undefined) throw new HttpProblem(404, 'not-found', `No settlement run ${request.params.id}.`)
    const { run, lines } = found
    const names = await statementNames(db, lines)
    const rows = statementRows(lines.map((l) => ({
      ...l, zoneName: names.zone.get(l.zoneCode) ?? '', districtName: names.district.get(l.districtCode) ?? '', documentNo: names.documentNo.get(l.agreementId) ?? '',
    })))
    const title = `${run.fiscalYear}年度${lines.some((l) => l.kind === 'supplementary') ? '（含补充结算）' : ''}结算单 settlement statement — run ${run.id}, ${run.status === 'finalized' ? `定稿 finalized ${run.finalizedAt}` : '草稿 draft'}`
    const filename = `settlement-${run.fiscalYear}-run-${run.id}`
    if (request.query.format === 'xlsx') {
      return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', `attachment; filename="${filename}.xlsx"`).send(await statementXlsx(title, rows) as unknown as string)
    }
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}.csv"`).send(statementCsv(title, rows))
  })
}
