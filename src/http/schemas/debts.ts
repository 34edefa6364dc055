import Type from 'typebox'
import { DEBT_EVENT_KINDS, DEBT_GROUPINGS, DEBT_KIND_TITLES, DEBT_KINDS, DEBT_STATUSES, type DebtSummaryRow, debtStatus, positionAsOf } from '../../domain/debt.js'
import { formatMoney, formatRate, money } from '../../domain/money.js'
import { DEBT_CSV_HEADER, type DebtAsOf, type RecordedEvent } from '../../services/debts.js'
import {
  Count, DateString, DistrictCode, IdempotencyHeaders, IdParam, Money, MoneyOut, NonNegativeMoney, PageOf, PageQuery, problemResponses, Rate, RecordId,
  StringEnum, Timestamp, UnlistedErrors, ZoneCode, Words,
} from './common.js'

/* The legacy debt register (历史遗留债务) — api-contract.md, Legacy debts. */

const DebtKindSchema = StringEnum([...DEBT_KINDS], '债务类型 bank_loan (银行贷款), bond (债券), project_payable (工程欠款), ppp, other')
const DebtId = IdParam('编号 debt id', 1)
/** The demo data's debt that is not transferred yet. */
const UntransferredDebtId = IdParam('编号 the id of a debt not transferred yet', 2)

const TransferIn = Type.Object({
  districtCode: DistrictCode('承接属地政府 the district that takes the debt over: the zone\'s host district, or another with a reason'),
  transferredOn: DateString('划转日期 the day of the transfer, not before the registration or a repayment'),
  documentNo: Words(100, '文号 the transfer document'),
  reason: Type.Optional(Words(500, '划转原因 why the debt goes to a district other than the zone\'s host (required then, 422 without it); shown as the transfer event\'s note')),
}, { additionalProperties: false, description: '划转 transfer to the host district (another district only with a reason)', examples: [{ districtCode: '370211', transferredOn: '2021-09-30', documentNo: '青政办字〔2021〕8号' }] })

const EventOut = Type.Object({
  id: RecordId('编号 event id'),
  kind: StringEnum([...DEBT_EVENT_KINDS], '事件 transfer (划转), repayment (偿还) or reversal (冲正)'),
  occurredOn: DateString('日期 the day it took effect'),
  districtCode: Type.Optional(DistrictCode('承接属地政府 the district (transfer)')),
  documentNo: Type.Optional(Type.String({ maxLength: 100, description: '文号 document number' })),
  principal: MoneyOut('本金 principal repaid (negative in a reversal)'),
  interest: MoneyOut('利息 interest paid (negative in a reversal)'),
  reversesEventId: Type.Optional(RecordId('冲正对象 the repayment this reversal corrects')),
  note: Type.Optional(Type.String({ maxLength: 500, description: '说明 the reason of a reversal, or of a transfer to a district other than the zone\'s host' })),
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
  status: StringEnum([...DEBT_STATUSES], '状态 zone (功能区承担), transferred (已划转), repaid (已还清), not_registered (not yet registered on asOf)'),
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

export const SUMMARY_COLUMNS = [
  { key: 'key', title: '分组 group', money: false },
  { key: 'debts', title: '笔数 debts', money: false, count: true },
  { key: 'registeredOutstanding', title: '登记余额 outstanding at registration', money: true },
  { key: 'principalRepaid', title: '已还本金 principal repaid', money: true },
  { key: 'interestPaid', title: '已付利息 interest paid', money: true },
  { key: 'outstanding', title: '余额 outstanding', money: true },
  { key: 'transferred', title: '已划转笔数 transferred', money: false, count: true },
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

export function presentEvent (e: RecordedEvent) {
  return {
    id: e.id, kind: e.kind, occurredOn: e.occurredOn,
    ...(e.districtCode === undefined ? {} : { districtCode: e.districtCode }),
    ...(e.documentNo === undefined ? {} : { documentNo: e.documentNo }),
    principal: formatMoney(e.principal), interest: formatMoney(e.interest),
    ...(e.reversesEventId === undefined ? {} : { reversesEventId: e.reversesEventId }),
    ...(e.note === undefined ? {} : { note: e.note }),
    keyId: e.keyId, createdAt: e.createdAt,
  }
}

export function presentDebt ({ debt: d, asOf }: DebtAsOf) {
  const position = positionAsOf(d, asOf)
  return {
    id: d.id, zoneCode: d.zoneCode, reference: d.reference, creditor: d.creditor, kind: d.kind, principal: d.principal,
    outstandingAtRegistration: formatMoney(d.outstandingAtRegistration), interestRate: d.interestRate === null ? null : formatRate(money(d.interestRate)),
    incurredOn: d.incurredOn, maturityDate: d.maturityDate, registeredOn: d.registeredOn, notes: d.notes, asOf,
    status: debtStatus(position),
    responsibleDistrictCode: position.transfer?.districtCode ?? null,
    outstanding: formatMoney(position.outstanding), principalRepaid: formatMoney(position.principalRepaid), interestPaid: formatMoney(position.interestPaid),
    events: d.events.map(presentEvent),
  }
}

/** The summary as a table for a spreadsheet: a row per group (a kind by its Chinese name and its code), then the total (合计). */
export function summaryTable (rows: readonly DebtSummaryRow[], total: DebtSummaryRow, groupBy: string) {
  const label = (key: string | null) => {
    if (key === null) return groupBy === 'district' ? '未划转 not transferred' : ''
    const kind = groupBy === 'kind' ? (DEBT_KIND_TITLES as Readonly<Record<string, string | undefined>>)[key] : undefined
    return kind === undefined ? key : `${kind} ${key}`
  }
  return [...rows.map((r) => ({ ...r, key: label(r.key) })), { ...total, key: '合计 total' }]
    .map((r) => ({ ...r, debts: String(r.debts), transferred: String(r.transferred) }))
}

export const registerDebtSchema = {
  operationId: 'registerDebt', summary: '登记债务 register a legacy debt of a zone (admin)',
  description: 'With `transfer`, a debt already transferred to its district (a historical entry).',
  headers: IdempotencyHeaders,
  body: Type.Object({
    zoneCode: ZoneCode(),
    reference: Words(100, '债务编号 the zone\'s reference, unique in the zone'),
    creditor: Words(200, '债权人 creditor'),
    kind: DebtKindSchema,
    principal: Money('本金 original principal, > 0'),
    outstanding: NonNegativeMoney('登记时余额 outstanding on registeredOn, at most the principal'),
    interestRate: Type.Optional(Rate('利率 yearly interest rate')),
    incurredOn: Type.Optional(DateString('发生日期 when it was incurred')),
    maturityDate: Type.Optional(DateString('到期日 maturity date')),
    registeredOn: Type.Optional(DateString('登记日期 the day the outstanding figure is of; today by default')),
    notes: Type.Optional(Words(2000, '备注 notes')),
    transfer: Type.Optional(TransferIn),
  }, { additionalProperties: false, examples: [{ zoneCode: 'QD-HT', reference: 'HT-2016-009', creditor: '示例银行', kind: 'bank_loan', principal: '5000000.00', outstanding: '3000000.00', interestRate: '0.045', incurredOn: '2016-05-01', maturityDate: '2026-05-01', registeredOn: '2020-12-31' }] }),
  response: { 201: DebtOut, ...problemResponses(400, 401, 403, 409, 422) },
}

export const importDebtsSchema = {
  operationId: 'importDebts', summary: '批量登记 register debts from CSV (admin)',
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
        field: Type.String({ maxLength: 20, description: '字段 the column at fault, or "line" for the line as a whole (its number of fields, a NUL character)' }),
        message: Type.String({ maxLength: 500, description: '说明 what is wrong' }),
      }, { additionalProperties: false }), { maxItems: 10_000, description: '错误行 the bad lines' }),
      unlistedErrors: UnlistedErrors(),
    }, { additionalProperties: false, examples: [{ rows: 1, registered: 1, rejected: 0, errors: [] }] }),
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
}

export const listDebtsSchema = {
  operationId: 'listDebts', summary: '债务列表 legacy debts in the caller\'s scope',
  querystring: Type.Object({
    ...PageQuery,
    zoneCode: Type.Optional(ZoneCode()),
    districtCode: Type.Optional(DistrictCode('承接属地政府 only debts transferred to this district by asOf (today by default), as the summary of that day counts them')),
    status: Type.Optional(StringEnum(DEBT_STATUSES.filter((s): s is Exclude<typeof s, 'not_registered'> => s !== 'not_registered'), '状态 only debts in this state on asOf (today by default); filtered before paging, so every page but the last is full')),
    asOf: Type.Optional(DateString('截至日期 the register as it stood at the end of this day: the debts registered by then, with their balances, as the summary of that day counts them; today by default')),
  }, { additionalProperties: false }),
  response: { 200: PageOf(DebtOut, '债务 debts by id'), ...problemResponses(400, 401) },
}

export const debtSummarySchema = {
  operationId: 'debtSummary', summary: '债务汇总 outstanding, repaid and transferred as of a date, grouped',
  description: 'Computed from the event history; every total is the sum of the rows above it. `format=csv` or `xlsx` gives the same table as a file for the budget office.',
  querystring: Type.Object({
    asOf: Type.Optional(DateString('截至日期 as of the end of this day; today by default')),
    groupBy: Type.Optional(StringEnum([...DEBT_GROUPINGS], '分组 district (default), zone or kind')),
    format: Type.Optional(StringEnum(['json', 'csv', 'xlsx'], '格式 json (default), csv or xlsx')),
  }, { additionalProperties: false }),
  produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  response: {
    200: Type.Object({
      asOf: DateString('截至日期 as of'),
      groupBy: StringEnum([...DEBT_GROUPINGS], '分组 grouping'),
      rows: Type.Array(SummaryRow, { maxItems: 100_000, description: '分组行 one row per group' }),
      total: SummaryRow,
    }, { additionalProperties: false, examples: [{ asOf: '2021-12-31', groupBy: 'district', rows: [{ key: '370214', debts: 1, registeredOutstanding: '20000000.00', principalRepaid: '500000.00', interestPaid: '12000.00', outstanding: '19500000.00', transferred: 1, transferredOutstanding: '19500000.00' }], total: { key: null, debts: 1, registeredOutstanding: '20000000.00', principalRepaid: '500000.00', interestPaid: '12000.00', outstanding: '19500000.00', transferred: 1, transferredOutstanding: '19500000.00' } }] }),
    ...problemResponses(400, 401),
  },
}

export const debtMaturitiesSchema = {
  operationId: 'debtMaturities', summary: '到期计划 debts falling due between two dates, with what is still outstanding',
  querystring: Type.Object({
    ...PageQuery,
    from: { ...DateString('起 from (inclusive)'), examples: ['2021-01-01'] },
    to: { ...DateString('止 to (inclusive)'), examples: ['2026-12-31'] },
  }, { additionalProperties: false }),
  response: { 200: PageOf(DebtOut, '债务 debts with principal outstanding today, by maturity date (then id)'), ...problemResponses(400, 401) },
}

export const getDebtSchema = {
  operationId: 'getDebt', summary: '债务 a debt with its events and its balances as of a date',
  params: Type.Object({ id: DebtId }),
  querystring: Type.Object({ asOf: Type.Optional(DateString('截至日期 balances as of this day; today by default')) }, { additionalProperties: false }),
  response: { 200: DebtOut, ...problemResponses(400, 401, 404) },
}

export const transferDebtSchema = {
  operationId: 'transferDebt', summary: '划转 transfer a debt to the host district (admin, once)',
  params: Type.Object({ id: UntransferredDebtId }), headers: IdempotencyHeaders, body: TransferIn,
  response: { 200: DebtOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

export const recordRepaymentSchema = {
  operationId: 'recordRepayment', summary: '偿还 record a repayment (the responsible district, or an admin)',
  description: 'Principal can never exceed what is outstanding on that day or after (422). A district records repayments of debts transferred to it, dated on or after the transfer.',
  params: Type.Object({ id: DebtId }), headers: IdempotencyHeaders,
  body: Type.Object({
    paidOn: DateString('偿还日期 the day it was paid'),
    principal: NonNegativeMoney('本金 principal repaid'),
    interest: NonNegativeMoney('利息 interest paid'),
    documentNo: Type.Optional(Words(100, '文号 payment document')),
  }, { additionalProperties: false, examples: [{ paidOn: '2021-12-20', principal: '500000.00', interest: '12000.00' }] }),
  response: { 201: EventOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

export const reverseRepaymentSchema = {
  operationId: 'reverseRepayment', summary: '冲正 correct a repayment with a reversing entry (never an edit)',
  params: Type.Object({ id: DebtId, eventId: IdParam('事件编号 the repayment to correct', 2) }),
  headers: IdempotencyHeaders,
  body: Type.Object({
    reversedOn: DateString('冲正日期 the day the correction takes effect'),
    reason: Words(500, '原因 why'),
  }, { additionalProperties: false, examples: [{ reversedOn: '2021-07-15', reason: '重复录入 entered twice' }] }),
  response: { 201: EventOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

