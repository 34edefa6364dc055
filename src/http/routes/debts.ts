import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { DatabaseHandle } from '../../db/connect.js'
import { allDebts, findDebt, insertDebt, insertDebtEvent, listDebts, referenceTaken, type StoredDebt, today } from '../../db/debts.js'
import { findDistrict, findZone } from '../../db/registry.js'
import { ALL } from '../../db/scope.js'
import { DEBT_KINDS, type DebtGroupBy, type DebtKind, maxRepayable, positionAsOf, reversalAmounts, summarizeDebts } from '../../domain/debt.js'
import { formatMoney, formatRate, money, MONEY_PATTERN, RATE_PATTERN } from '../../domain/money.js'
import { ADMIN_ONLY, ADMIN_OR_DISTRICT, EVERY_ROLE } from '../access.js'
import { acceptCsvBodies, openCsvImport } from '../csv-import.js'
import { HttpProblem } from '../problem.js'
import {
  Count, DateString, DistrictCode, IdempotencyHeaders, idFromParam, IdParam, RecordId, Money, MoneyOut, NonNegativeMoney, pageLimit, PageOf, PageQuery, problemResponses, Rate, security, StringEnum, Timestamp, ZoneCode,
} from '../schemas/common.js'
import { tableCsv, tableXlsx } from '../statement.js'
import { runWrite } from '../write.js'

/* The legacy debt register (历史遗留债务) — api-contract.md, Legacy debts. */

const DebtKindSchema = StringEnum([...DEBT_KINDS], '债务类型 bank_loan (银行贷款), bond (债券), project_payable (工程欠款), ppp, other')
const DebtId = IdParam('编号 debt id', 1)
/** The demo data's debt that is not transferred yet. */
const UntransferredDebtId = IdParam('编号 the id of a debt not transferred yet', 2)

const TransferIn = Type.Object({
  districtCode: DistrictCode('承接属地政府 the district that takes the debt over'),
  transferredOn: DateString('划转日期 the day of the transfer'),
  documentNo: Type.String({ minLength: 1, maxLength: 100, description: '文号 the transfer document' }),
}, { additionalProperties: false, description: '划转 transfer to the host district', examples: [{ districtCode: '370211', transferredOn: '2021-09-30', documentNo: '青政办字〔2021〕8号' }] })

const EventOut = Type.Object({
  id: RecordId('编号 event id'),
  kind: StringEnum(['transfer', 'repayment', 'reversal'], '事件 transfer (划转), repayment (偿还) or reversal (冲正)'),
  occurredOn: DateString('日期 the day it took effect'),
  districtCode: Type.Optional(DistrictCode('承接属地政府 the district (transfer)')),
  documentNo: Type.Optional(Type.String({ maxLength: 100, description: '文号 document number' })),
  principal: MoneyOut('本金 principal repaid (negative in a reversal)'),
  interest: MoneyOut('利息 interest paid (negative in a reversal)'),
  reversesEventId: Type.Optional(RecordId('冲正对象 the repayment this reversal corrects')),
  note: Type.Optional(Type.String({ maxLength: 500, description: '说明 note' })),
  keyId: Type.String({ maxLength: 40, description: '经办 the key that recorded it' }),
  createdAt: Timestamp('记录时间 when it was recorded'),
}, { additionalProperties: false, description: '债务事件 an event of the debt\'s history', examples: [{ id: 1, kind: 'repayment', occurredOn: '2021-06-30', principal: '500000.00', interest: '12000.00', keyId: 'bootstrap', createdAt: '2026-01-01T00:00:00.000Z' }] })

const DebtOut = Type.Object({
  id: RecordId('编号 debt id', [1]),
  zoneCode: ZoneCode(),
  reference: Type.String({ maxLength: 100, description: '债务编号 the zone\'s reference for the debt' }),
  creditor: Type.String({ maxLength: 200, description: '债权人 creditor' }),
  kind: DebtKindSchema,
  principal: MoneyOut('本金 original principal'),
  outstandingAtRegistration: MoneyOut('登记时余额 outstanding on the registration date'),
  interestRate: Type.Union([Type.String({ maxLength: 10 }), Type.Null()], { description: '利率 yearly interest rate, null when unknown' }),
  incurredOn: Type.Union([DateString('发生日期 when it was incurred'), Type.Null()], { description: '发生日期 when it was incurred' }),
  maturityDate: Type.Union([DateString('到期日 maturity'), Type.Null()], { description: '到期日 maturity date' }),
  registeredOn: DateString('登记日期 the day the outstanding figure is of'),
  notes: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()], { description: '备注 notes' }),
  asOf: DateString('截至日期 the balances below are as of the end of this day'),
  status: StringEnum(['zone', 'transferred', 'repaid', 'not_registered'], '状态 zone (功能区承担), transferred (已划转), repaid (已还清), not_registered (not yet registered on asOf)'),
  responsibleDistrictCode: Type.Union([DistrictCode('承接属地政府 the district responsible'), Type.Null()], { description: '承接属地政府 the district responsible on asOf, null while the zone is' }),
  outstanding: MoneyOut('余额 outstanding principal on asOf'),
  principalRepaid: MoneyOut('已还本金 principal repaid up to asOf'),
  interestPaid: MoneyOut('已付利息 interest paid up to asOf'),
  events: Type.Array(EventOut, { maxItems: 10_000, description: '事件 the whole history, oldest first' }),
}, { additionalProperties: false, description: '历史遗留债务 a legacy debt', examples: [{
  id: 1, zoneCode: 'QD-HT', reference: 'HT-2016-001', creditor: '示例银行', kind: 'bank_loan', principal: '30000000.00', outstandingAtRegistration: '20000000.00',
  interestRate: '0.049', incurredOn: '2016-05-01', maturityDate: '2026-05-01', registeredOn: '2020-12-31', notes: null, asOf: '2021-12-31', status: 'transferred',
  responsibleDistrictCode: '370214', outstanding: '19500000.00', principalRepaid: '500000.00', interestPaid: '12000.00', events: [],
}] })

function presentDebt (d: StoredDebt, asOf: string) {
  const position = positionAsOf(d, asOf)
  return {
    id: d.id, zoneCode: d.zoneCode, reference: d.reference, creditor: d.creditor, kind: d.kind, principal: d.principal,
    outstandingAtRegistration: formatMoney(d.outstandingAtRegistration), interestRate: d.interestRate === null ? null : formatRate(money(d.interestRate)),
    incurredOn: d.incurredOn, maturityDate: d.maturityDate, registeredOn: d.registeredOn, notes: d.notes, asOf,
    status: !position.registered ? 'not_registered' as const : position.outstanding.isZero() ? 'repaid' as const : position.transfer === undefined ? 'zone' as const : 'transferred' as const,
    responsibleDistrictCode: position.transfer?.districtCode ?? null,
    outstanding: formatMoney(position.outstanding), principalRepaid: formatMoney(position.principalRepaid), interestPaid: formatMoney(position.interestPaid),
    events: d.events.map((e) => ({
      id: e.id, kind: e.kind, occurredOn: e.occurredOn,
      ...(e.districtCode === undefined ? {} : { districtCode: e.districtCode }),
      ...(e.documentNo === undefined ? {} : { documentNo: e.documentNo }),
      principal: formatMoney(e.principal), interest: formatMoney(e.interest),
      ...(e.reversesEventId === undefined ? {} : { reversesEventId: e.reversesEventId }),
      ...(e.note === undefined ? {} : { note: e.note }),
      keyId: e.keyId, createdAt: e.createdAt,
    })),
  }
}

const SUMMARY_COLUMNS = [
  { key: 'key', title: '分组 group', money: false },
  { key: 'debts', title: '笔数 debts', money: false },
  { key: 'registeredOutstanding', title: '登记余额 outstanding at registration', money: true },
  { key: 'principalRepaid', title: '已还本金 principal repaid', money: true },
  { key: 'interestPaid', title: '已付利息 interest paid', money: true },
  { key: 'outstanding', title: '余额 outstanding', money: true },
  { key: 'transferred', title: '已划转笔数 transferred', money: false },
  { key: 'transferredOutstanding', title: '已划转余额 outstanding transferred', money: true },
] as const

const SummaryRow = Type.Object({
  key: Type.Union([Type.String({ maxLength: 50 }), Type.Null()], { description: '分组 the district (null: not transferred, the zone carries it), zone or kind' }),
  debts: Count('笔数 debts registered by asOf'),
  registeredOutstanding: MoneyOut('登记余额 Σ outstanding at registration'),
  principalRepaid: MoneyOut('已还本金 Σ principal repaid up to asOf'),
  interestPaid: MoneyOut('已付利息 Σ interest paid up to asOf'),
  outstanding: MoneyOut('余额 Σ outstanding on asOf'),
  transferred: Count('已划转笔数 debts transferred by asOf'),
  transferredOutstanding: MoneyOut('已划转余额 Σ outstanding of the transferred debts'),
}, { additionalProperties: false, description: '汇总行 one group' })

export const DEBT_CSV_HEADER = ['zoneCode', 'reference', 'creditor', 'kind', 'principal', 'outstanding', 'interestRate', 'incurredOn', 'maturityDate', 'registeredOn', 'notes'] as const

const MONEY = new RegExp(MONEY_PATTERN)
const RATE = new RegExp(RATE_PATTERN)

/** A real calendar day written YYYY-MM-DD. */
function isDay (text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false
  const date = new Date(`${text}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text
}

/** The problems of one CSV line of debts (none when it can be registered). */
function checkDebtLine (l: Record<(typeof DEBT_CSV_HEADER)[number], string>, zones: ReadonlySet<string>, taken: ReadonlySet<string>) {
  const problems: Array<{ field: string, message: string }> = []
  if (!zones.has(l.zoneCode)) problems.push({ field: 'zoneCode', message: `no zone ${l.zoneCode} is registered` })
  if (l.reference === '' || l.reference.length > 100) problems.push({ field: 'reference', message: 'is required, at most 100 characters' })
  else if (taken.has(`${l.zoneCode}|${l.reference}`)) problems.push({ field: 'reference', message: `zone ${l.zoneCode} already has a debt ${l.reference}` })
  if (l.creditor === '' || l.creditor.length > 200) problems.push({ field: 'creditor', message: 'is required, at most 200 characters' })
  if (!(DEBT_KINDS as readonly string[]).includes(l.kind)) problems.push({ field: 'kind', message: `must be one of ${DEBT_KINDS.join(', ')}` })
  const principalOk = MONEY.test(l.principal) && money(l.principal).greaterThan(0)
  if (!principalOk) problems.push({ field: 'principal', message: 'must be an amount above 0.00 with at most two decimals' })
  if (!MONEY.test(l.outstanding) || money(l.outstanding).isNegative()) problems.push({ field: 'outstanding', message: 'must be an amount of at least 0.00 with at most two decimals' })
  else if (principalOk && money(l.outstanding).greaterThan(money(l.principal))) problems.push({ field: 'outstanding', message: 'is more than the principal' })
  if (l.interestRate !== '' && !RATE.test(l.interestRate)) problems.push({ field: 'interestRate', message: 'must be a rate between 0 and 1 with at most six decimals' })
  for (const field of ['incurredOn', 'maturityDate', 'registeredOn'] as const) {
    if (l[field] !== '' && !isDay(l[field])) problems.push({ field, message: 'must be a date written YYYY-MM-DD' })
  }
  if (l.notes.length > 2000) problems.push({ field: 'notes', message: 'at most 2000 characters' })
  return problems
}

export const debtRoutes: FastifyPluginAsyncTypebox<{ database: DatabaseHandle, importLimit: number }> = async (app, { database, importLimit }) => {
  const { db } = database
  const csvRoute = acceptCsvBodies(app)

  app.post('/debts', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'registerDebt', summary: '登记债务 register a legacy debt of a zone (admin)', tags: ['debts'], security,
      description: 'With `transfer`, a debt already transferred to its district (a historical entry).',
      headers: IdempotencyHeaders,
      body: Type.Object({
        zoneCode: ZoneCode(),
        reference: Type.String({ minLength: 1, maxLength: 100, description: '债务编号 the zone\'s reference, unique in the zone' }),
        creditor: Type.String({ minLength: 1, maxLength: 200, description: '债权人 creditor' }),
        kind: DebtKindSchema,
        principal: Money('本金 original principal, > 0'),
        outstanding: NonNegativeMoney('登记时余额 outstanding on registeredOn, at most the principal'),
        interestRate: Type.Optional(Rate('利率 yearly interest rate')),
        incurredOn: Type.Optional(DateString('发生日期 when it was incurred')),
        maturityDate: Type.Optional(DateString('到期日 maturity date')),
        registeredOn: Type.Optional(DateString('登记日期 the day the outstanding figure is of; today by default')),
        notes: Type.Optional(Type.String({ maxLength: 2000, description: '备注 notes' })),
        transfer: Type.Optional(TransferIn),
      }, { additionalProperties: false, examples: [{ zoneCode: 'QD-HT', reference: 'HT-2016-009', creditor: '示例银行', kind: 'bank_loan', principal: '5000000.00', outstanding: '3000000.00', interestRate: '0.045', incurredOn: '2016-05-01', maturityDate: '2026-05-01', registeredOn: '2020-12-31' }] }),
      response: { 201: DebtOut, ...problemResponses(400, 401, 403, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const b = request.body
    if (money(b.principal).lessThanOrEqualTo(0)) throw new HttpProblem(422, 'rule-violated', 'The principal must be more than zero.', [{ pointer: '/principal', message: 'must be more than 0.00' }])
    if (money(b.outstanding).greaterThan(money(b.principal))) {
      throw new HttpProblem(422, 'rule-violated', `The outstanding ${b.outstanding} is more than the principal ${b.principal}.`, [{ pointer: '/outstanding', message: 'at most the principal' }])
    }
    if (await findZone(tx, ALL, b.zoneCode) === undefined) throw new HttpProblem(422, 'unknown-reference', `No zone ${b.zoneCode} is registered.`, [{ pointer: '/zoneCode', message: 'no such zone' }])
    if (b.transfer !== undefined && await findDistrict(tx, ALL, b.transfer.districtCode) === undefined) {
      throw new HttpProblem(422, 'unknown-reference', `No district ${b.transfer.districtCode} is registered.`, [{ pointer: '/transfer/districtCode', message: 'no such district' }])
    }
    if (await referenceTaken(tx, b.zoneCode, b.reference)) {
      throw new HttpProblem(409, 'already-exists', `Zone ${b.zoneCode} already has a debt ${b.reference}.`, [{ pointer: '/reference', message: 'already registered for this zone' }])
    }
    const registeredOn = b.registeredOn ?? await today(tx)
    const id = await insertDebt(tx, { ...b, registeredOn })
    if (b.transfer !== undefined) {
      await insertDebtEvent(tx, { debtId: id, kind: 'transfer', occurredOn: b.transfer.transferredOn, districtCode: b.transfer.districtCode, documentNo: b.transfer.documentNo, keyId: request.principal.keyId })
    }
    const debt = (await findDebt(tx, ALL, id))!
    return { status: 201, body: presentDebt(debt, await today(tx)), audit: [{ action: 'register', entityType: 'debt', entityId: String(id), details: b }] }
  }))

  app.post('/debts/import', {
    config: { access: ADMIN_ONLY },
    validatorCompiler: csvRoute,
    schema: {
      operationId: 'importDebts', summary: '批量登记 register debts from CSV (admin)', tags: ['debts'], security,
      description: `Content-Type: text/csv, header \`${DEBT_CSV_HEADER.join(',')}\` (optional columns may be empty), the conventions of the revenue import: ` +
        'every bad line with its line number (the header is line 1), nothing registered unless the whole file is good or ?partial=true.',
      consumes: ['text/csv'],
      headers: IdempotencyHeaders,
      querystring: Type.Object({ partial: Type.Optional(Type.Boolean({ description: '部分导入 register the good lines even when some are bad' })) }, { additionalProperties: false }),
      body: Type.String({ maxLength: 1024 * 1024 * 1024, description: 'CSV 文件 the file', examples: [`${DEBT_CSV_HEADER.join(',')}\nQD-HT,HT-2017-004,示例银行,bank_loan,8000000.00,6000000.00,0.045,2017-03-01,2027-03-01,2020-12-31,\n`] }),
      response: {
        200: Type.Object({
          rows: Count('数据行 data lines read'),
          registered: Count('已登记 debts registered'),
          rejected: Count('错误行数 bad lines'),
          errors: Type.Array(Type.Object({
            line: Count('行号 line in the file', 1),
            field: Type.String({ maxLength: 20, description: '字段 the column at fault' }),
            message: Type.String({ maxLength: 500, description: '说明 what is wrong' }),
          }, { additionalProperties: false }), { maxItems: 10_000, description: '错误行 the bad lines' }),
        }, { additionalProperties: false, examples: [{ rows: 1, registered: 1, rejected: 0, errors: [] }] }),
        ...problemResponses(400, 401, 403, 409, 413, 415, 422),
      },
    },
  }, async (request, reply) => {
    const file = openCsvImport(request.body, DEBT_CSV_HEADER, importLimit, 'one debt as JSON goes to POST /v1/debts')
    return runWrite(db, request, reply, async (tx) => {
      const zones = new Set((await tx.selectFrom('zones').select('code').execute()).map((z) => z.code))
      const taken = new Set((await tx.selectFrom('debts').select(['zone_code', 'reference']).execute()).map((d) => `${d.zone_code}|${d.reference}`))
      const day = await today(tx)
      const good: Array<Parameters<typeof insertDebt>[1]> = []
      for await (const { line, fields } of file.lines) {
        const [zoneCode, reference, creditor, kind, principal, outstanding, interestRate, incurredOn, maturityDate, registeredOn, notes] = fields as string[] as [string, string, string, string, string, string, string, string, string, string, string]
        const problems = checkDebtLine({ zoneCode, reference, creditor, kind, principal, outstanding, interestRate, incurredOn, maturityDate, registeredOn, notes }, zones, taken)
        if (problems.length > 0) {
          for (const p of problems) file.reject(line, p.field, p.message)
          continue
        }
        taken.add(`${zoneCode}|${reference}`)
        good.push({
          zoneCode, reference, creditor, kind: kind as DebtKind, principal, outstanding, registeredOn: registeredOn === '' ? day : registeredOn,
          ...(interestRate === '' ? {} : { interestRate }), ...(incurredOn === '' ? {} : { incurredOn }),
          ...(maturityDate === '' ? {} : { maturityDate }), ...(notes === '' ? {} : { notes }),
        })
      }
      const { rows, rejected, errors } = file.finish(request.query.partial === true, good.length)
      for (const debt of good) await insertDebt(tx, debt)
      return {
        status: 200, body: { rows, registered: good.length, rejected, errors },
        audit: [{ action: 'import', entityType: 'debt_import', entityId: String(request.id), details: { rows, registered: good.length, rejected } }],
      }
    }, { lateBodyHash: file.digest })
  })

  app.get('/debts', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'listDebts', summary: '债务列表 legacy debts in the caller\'s scope', tags: ['debts'], security,
      querystring: Type.Object({
        ...PageQuery,
        zoneCode: Type.Optional(ZoneCode()),
        districtCode: Type.Optional(DistrictCode('承接属地政府 only debts transferred to this district')),
        status: Type.Optional(StringEnum(['zone', 'transferred', 'repaid'], '状态 only debts in this state today')),
        asOf: Type.Optional(DateString('截至日期 balances as of this day; today by default')),
      }, { additionalProperties: false }),
      response: { 200: PageOf(DebtOut, '债务 debts by id'), ...problemResponses(400, 401) },
    },
  }, async (request) => {
    const { limit, cursor, status, asOf, ...filter } = request.query
    const page = await listDebts(db, request.scope, filter, { limit: pageLimit(limit), cursor })
    const day = asOf ?? await today(db)
    const items = page.items.map((d) => presentDebt(d, day)).filter((d) => status === undefined || d.status === status)
    return { items, nextCursor: page.nextCursor }
  })

  app.get('/debts/summary', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'debtSummary', summary: '债务汇总 outstanding, repaid and transferred as of a date, grouped', tags: ['debts'], security,
      description: 'Computed from the event history; every total is the sum of the rows above it. `format=csv` or `xlsx` gives the same table as a file for the budget office.',
      querystring: Type.Object({
        asOf: Type.Optional(DateString('截至日期 as of the end of this day; today by default')),
        groupBy: Type.Optional(StringEnum(['district', 'zone', 'kind'], '分组 district (default), zone or kind')),
        format: Type.Optional(StringEnum(['json', 'csv', 'xlsx'], '格式 json (default), csv or xlsx')),
      }, { additionalProperties: false }),
      produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
      response: {
        200: Type.Object({
          asOf: DateString('截至日期 as of'),
          groupBy: StringEnum(['district', 'zone', 'kind'], '分组 grouping'),
          rows: Type.Array(SummaryRow, { maxItems: 100_000, description: '分组行 one row per group' }),
          total: SummaryRow,
        }, { additionalProperties: false, examples: [{ asOf: '2021-12-31', groupBy: 'district', rows: [{ key: '370214', debts: 1, registeredOutstanding: '20000000.00', principalRepaid: '500000.00', interestPaid: '12000.00', outstanding: '19500000.00', transferred: 1, transferredOutstanding: '19500000.00' }], total: { key: null, debts: 1, registeredOutstanding: '20000000.00', principalRepaid: '500000.00', interestPaid: '12000.00', outstanding: '19500000.00', transferred: 1, transferredOutstanding: '19500000.00' } }] }),
        ...problemResponses(400, 401),
      },
    },
  }, async (request, reply) => {
    const asOf = request.query.asOf ?? await today(db)
    const groupBy: DebtGroupBy = request.query.groupBy ?? 'district'
    const { rows, total } = summarizeDebts(await allDebts(db, request.scope), asOf, groupBy)
    if (request.query.format === 'csv' || request.query.format === 'xlsx') {
      const label = (key: string | null) => key ?? (groupBy === 'district' ? '未划转 not transferred' : '')
      const table = [...rows.map((r) => ({ ...r, key: label(r.key) })), { ...total, key: '合计 total' }]
        .map((r) => ({ ...r, debts: String(r.debts), transferred: String(r.transferred) }))
      const title = `历史遗留债务汇总 legacy debts as of ${asOf}, by ${groupBy}`
      const filename = `debts-${asOf}-by-${groupBy}`
      if (request.query.format === 'xlsx') {
        return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').header('content-disposition', `attachment; filename="${filename}.xlsx"`)
          .send(await tableXlsx(title, '债务汇总', SUMMARY_COLUMNS, table) as never)
      }
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}.csv"`).send(tableCsv(title, SUMMARY_COLUMNS, table) as never)
    }
    return { asOf, groupBy, rows, total }
  })

  app.get('/debts/maturities', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'debtMaturities', summary: '到期计划 debts falling due between two dates, with what is still outstanding', tags: ['debts'], security,
      querystring: Type.Object({
        from: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', format: 'date', maxLength: 10, description: '起 from (inclusive)', examples: ['2021-01-01'] }),
        to: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', format: 'date', maxLength: 10, description: '止 to (inclusive)', examples: ['2026-12-31'] }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(DebtOut, { maxItems: 100_000, description: '债务 by maturity date' }) }, { additionalProperties: false, examples: [{ items: [] }] }), ...problemResponses(400, 401) },
    },
  }, async (request) => {
    const { from, to } = request.query
    if (from > to) throw new HttpProblem(400, 'invalid-input', 'from is after to.', [{ pointer: '/querystring/from', message: 'must not be after to' }])
    const day = await today(db)
    const debts = await allDebts(db, request.scope, { maturingFrom: from, maturingTo: to })
    const items = debts.map((d) => presentDebt(d, day)).filter((d) => d.outstanding !== '0.00')
      .sort((a, b) => (a.maturityDate ?? '').localeCompare(b.maturityDate ?? '') || a.id - b.id)
    return { items }
  })

  app.get('/debts/:id', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'getDebt', summary: '债务 a debt with its events and its balances as of a date', tags: ['debts'], security,
      params: Type.Object({ id: DebtId }),
      querystring: Type.Object({ asOf: Type.Optional(DateString('截至日期 balances as of this day; today by default')) }, { additionalProperties: false }),
      response: { 200: DebtOut, ...problemResponses(400, 401, 404) },
    },
  }, async (request) => {
    const debt = await findDebt(db, request.scope, idFromParam(request.params.id))
    if (debt === undefined) throw new HttpProblem(404, 'not-found', `No debt ${request.params.id}.`)
    return presentDebt(debt, request.query.asOf ?? await today(db))
  })

  app.post('/debts/:id/transfer', {
    config: { access: ADMIN_ONLY },
    schema: {
      operationId: 'transferDebt', summary: '划转 transfer a debt to the host district (admin, once)', tags: ['debts'], security,
      params: Type.Object({ id: UntransferredDebtId }), headers: IdempotencyHeaders, body: TransferIn,
      response: { 200: DebtOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const debt = await findDebt(tx, ALL, idFromParam(request.params.id), true)
    if (debt === undefined) throw new HttpProblem(404, 'not-found', `No debt ${request.params.id}.`)
    const done = debt.events.find((e) => e.kind === 'transfer')
    if (done !== undefined) throw new HttpProblem(409, 'already-transferred', `Debt ${debt.id} was transferred to ${done.districtCode} on ${done.occurredOn}; a debt is transferred once.`)
    const b = request.body
    if (await findDistrict(tx, ALL, b.districtCode) === undefined) throw new HttpProblem(422, 'unknown-reference', `No district ${b.districtCode} is registered.`, [{ pointer: '/districtCode', message: 'no such district' }])
    const lastPayment = debt.events.filter((e) => e.kind !== 'transfer').map((e) => e.occurredOn).sort().at(-1)
    if (lastPayment !== undefined && b.transferredOn < lastPayment) {
      throw new HttpProblem(422, 'rule-violated', `Repayments were recorded up to ${lastPayment}; the transfer cannot be dated before them.`, [{ pointer: '/transferredOn', message: `on or after ${lastPayment}` }])
    }
    await insertDebtEvent(tx, { debtId: debt.id, kind: 'transfer', occurredOn: b.transferredOn, districtCode: b.districtCode, documentNo: b.documentNo, keyId: request.principal.keyId })
    return { status: 200, body: presentDebt((await findDebt(tx, ALL, debt.id))!, await today(tx)), audit: [{ action: 'transfer', entityType: 'debt', entityId: String(debt.id), details: b }] }
  }))

  app.post('/debts/:id/repayments', {
    config: { access: ADMIN_OR_DISTRICT },
    schema: {
      operationId: 'recordRepayment', summary: '偿还 record a repayment (the responsible district, or an admin)', tags: ['debts'], security,
      description: 'Principal can never exceed what is outstanding on that day or after (422). A district records repayments of debts transferred to it, dated on or after the transfer.',
      params: Type.Object({ id: DebtId }), headers: IdempotencyHeaders,
      body: Type.Object({
        paidOn: DateString('偿还日期 the day it was paid'),
        principal: NonNegativeMoney('本金 principal repaid'),
        interest: NonNegativeMoney('利息 interest paid'),
        documentNo: Type.Optional(Type.String({ maxLength: 100, description: '文号 payment document' })),
      }, { additionalProperties: false, examples: [{ paidOn: '2021-12-20', principal: '500000.00', interest: '12000.00' }] }),
      response: { 201: EventOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const debt = await findDebt(tx, request.scope, idFromParam(request.params.id), true)
    if (debt === undefined) throw new HttpProblem(404, 'not-found', `No debt ${request.params.id}.`)
    const b = request.body
    if (money(b.principal).isZero() && money(b.interest).isZero()) throw new HttpProblem(422, 'rule-violated', 'A repayment pays some principal or interest.', [{ pointer: '/principal', message: 'principal and interest are both zero' }])
    if (b.paidOn < debt.registeredOn) throw new HttpProblem(422, 'rule-violated', `The debt was registered on ${debt.registeredOn}; a repayment cannot be dated before.`, [{ pointer: '/paidOn', message: `on or after ${debt.registeredOn}` }])
    const transfer = debt.events.find((e) => e.kind === 'transfer')
    if (transfer !== undefined && b.paidOn < transfer.occurredOn) {
      throw new HttpProblem(422, 'rule-violated', `Debt ${debt.id} was transferred to ${transfer.districtCode} on ${transfer.occurredOn}; a repayment by the district cannot be dated before the transfer.`, [{ pointer: '/paidOn', message: `on or after ${transfer.occurredOn}` }])
    }
    const limit = maxRepayable(debt, b.paidOn)
    if (money(b.principal).greaterThan(limit)) {
      throw new HttpProblem(422, 'repayment-exceeds-outstanding', `Principal ${b.principal} is more than the ${formatMoney(limit)} outstanding on ${b.paidOn} (or after).`, [{ pointer: '/principal', message: `at most ${formatMoney(limit)}` }])
    }
    const id = await insertDebtEvent(tx, { debtId: debt.id, kind: 'repayment', occurredOn: b.paidOn, documentNo: b.documentNo, principal: b.principal, interest: b.interest, keyId: request.principal.keyId })
    const event = (await findDebt(tx, ALL, debt.id))!.events.find((e) => e.id === id)!
    return {
      status: 201, body: { ...event, principal: formatMoney(event.principal), interest: formatMoney(event.interest), districtCode: undefined, reversesEventId: undefined, note: undefined },
      audit: [{ action: 'repay', entityType: 'debt', entityId: String(debt.id), details: b }],
    }
  }))

  app.post('/debts/:id/repayments/:eventId/reversal', {
    config: { access: ADMIN_OR_DISTRICT },
    schema: {
      operationId: 'reverseRepayment', summary: '冲正 correct a repayment with a reversing entry (never an edit)', tags: ['debts'], security,
      params: Type.Object({ id: DebtId, eventId: IdParam('事件编号 the repayment to correct', 2) }),
      headers: IdempotencyHeaders,
      body: Type.Object({
        reversedOn: DateString('冲正日期 the day the correction takes effect'),
        reason: Type.String({ minLength: 1, maxLength: 500, description: '原因 why' }),
      }, { additionalProperties: false, examples: [{ reversedOn: '2021-07-15', reason: '重复录入 entered twice' }] }),
      response: { 201: EventOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const debt = await findDebt(tx, request.scope, idFromParam(request.params.id), true)
    if (debt === undefined) throw new HttpProblem(404, 'not-found', `No debt ${request.params.id}.`)
    const target = debt.events.find((e) => e.id === idFromParam(request.params.eventId))
    if (target === undefined) throw new HttpProblem(404, 'not-found', `Debt ${debt.id} has no event ${request.params.eventId}.`)
    if (target.kind !== 'repayment') throw new HttpProblem(422, 'rule-violated', `Event ${target.id} is a ${target.kind}; only repayments are reversed.`)
    if (debt.events.some((e) => e.reversesEventId === target.id)) throw new HttpProblem(409, 'already-reversed', `Repayment ${target.id} was already reversed.`)
    if (request.body.reversedOn < target.occurredOn) {
      throw new HttpProblem(422, 'rule-violated', `The repayment is dated ${target.occurredOn}; its reversal cannot be earlier.`, [{ pointer: '/reversedOn', message: `on or after ${target.occurredOn}` }])
    }
    const id = await insertDebtEvent(tx, {
      debtId: debt.id, kind: 'reversal', occurredOn: request.body.reversedOn, ...reversalAmounts(target),
      reversesEventId: target.id, note: request.body.reason, keyId: request.principal.keyId,
    })
    const event = (await findDebt(tx, ALL, debt.id))!.events.find((e) => e.id === id)!
    return {
      status: 201, body: { ...event, principal: formatMoney(event.principal), interest: formatMoney(event.interest), districtCode: undefined, documentNo: undefined },
      audit: [{ action: 'reverse', entityType: 'debt', entityId: String(debt.id), details: { eventId: target.id, ...request.body } }],
    }
  }))
}
