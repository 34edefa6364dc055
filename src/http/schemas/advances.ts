import Type from 'typebox'
import {
  DateString, FiscalYear, IdempotencyHeaders, IdParam, Money, MoneyOut, PageOf, PageQuery, problemResponses, RecordId, Timestamp, Words,
} from './common.js'

/* Advances (预拨) — api-contract.md, Advances. */

const AgreementId = RecordId('分成办法 the agreement\'s id')

export const Advance = Type.Object({
  id: RecordId('编号 advance id'),
  agreementId: AgreementId,
  fiscalYear: FiscalYear('财政年度 the fiscal year it is an advance on'),
  paidOn: DateString('拨付日期 the day it was paid'),
  amount: MoneyOut('金额 the amount paid to the zone'),
  documentNo: Type.String({ maxLength: 100, description: '文号 the payment document' }),
  createdAt: Timestamp('登记时间 when it was recorded'),
}, { additionalProperties: false, description: '预拨 an advance' , examples: [{ id: 1, agreementId: 1, fiscalYear: 2021, paidOn: '2021-06-30', amount: '100000.00', documentNo: '青财预〔2021〕45号', createdAt: '2026-01-01T00:00:00.000Z' }] })

export const recordAdvanceSchema = {
  operationId: 'recordAdvance', summary: '录入预拨 record an advance paid to a zone',
  description: 'A district key records advances under its own district\'s agreements only. The fiscal year must be one the agreement is in force.',
  headers: IdempotencyHeaders,
  body: Type.Object({
    agreementId: AgreementId,
    fiscalYear: FiscalYear('财政年度 the fiscal year it is an advance on'),
    paidOn: DateString('拨付日期 the day it was paid (YYYY-MM-DD), from the year before the fiscal year to the year after it (422 otherwise)'),
    amount: Money('金额 the amount paid to the zone; a recovered advance is negative, and takes back at most what was paid for the year (422 when the year\'s advances would add up to less than 0.00)'),
    documentNo: Words(100, '文号 the payment document'),
  }, { additionalProperties: false, examples: [{ agreementId: 1, fiscalYear: 2025, paidOn: '2025-06-30', amount: '100000.00', documentNo: '青财预〔2025〕45号' }] }),
  response: { 201: Advance, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listAdvancesSchema = {
  operationId: 'listAdvances', summary: '预拨列表 advances in the caller\'s scope',
  querystring: Type.Object({ ...PageQuery, agreementId: Type.Optional(IdParam('分成办法 only this agreement\'s advances', 1)), fiscalYear: Type.Optional(FiscalYear()) }, { additionalProperties: false }),
  response: { 200: PageOf(Advance, '预拨 advances by id'), ...problemResponses(400, 401) },
}
