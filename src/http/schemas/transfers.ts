import Type from 'typebox'
import type { StoredTransfer } from '../../db/transfers.js'
import { formatMoney, formatRate } from '../../domain/money.js'
import type { TransferFunding } from '../../domain/types.js'
import { FiscalYear, IdempotencyHeaders, IdParam, PageOf, PageQuery, problemResponses, RecordId, Timestamp, Words } from './common.js'
import { DirectionEnum, FundingOut, TransferFields } from './terms.js'

/* Responsibility transfers (事权划转, 财随事走) — api-contract.md, Responsibility transfers; calculation-rules.md §4. */

export const TransferOut = Type.Object({
  id: RecordId('编号 transfer id'),
  agreementId: RecordId('分成办法 the agreement'),
  group: Type.String({ maxLength: 100, description: '口径组名称 the group whose base it moves' }),
  function: Type.String({ maxLength: 200, description: '划转事项 the function moved' }),
  direction: DirectionEnum('划转方向 to_district (the base rises) or to_zone (the base falls)'),
  fromYear: FiscalYear('起始年度 first fiscal year it moves the base'),
  toYear: Type.Union([FiscalYear('终止年度 last fiscal year it moves the base'), Type.Null()], { description: '终止年度 last fiscal year it moves the base; null when open-ended' }),
  documentNo: Type.String({ maxLength: 100, description: '文号 the document that moved the function' }),
  funding: FundingOut,
  createdAt: Timestamp('登记时间 when it was recorded'),
}, {
  additionalProperties: false,
  description: '事权划转 a responsibility transfer',
  examples: [{
    id: 1, agreementId: 1, group: 'taxes', function: '卫生健康', direction: 'to_district', fromYear: 2021, toYear: null, documentNo: '青政字〔2021〕5号',
    funding: { method: 'headcount', headcount: 12, unitCost: '180000.00' }, createdAt: '2026-01-01T00:00:00.000Z',
  }],
})

function fundingJson (f: TransferFunding) {
  switch (f.method) {
    case 'fixed': return { method: f.method, amount: formatMoney(f.amount) }
    case 'headcount': return { method: f.method, headcount: f.headcount, unitCost: formatMoney(f.unitCost) }
    case 'indexed': return { method: f.method, amount: formatMoney(f.amount), growthRate: formatRate(f.growthRate) }
  }
}

export function presentTransfer (x: StoredTransfer) {
  return {
    id: x.id, agreementId: x.agreementId, group: x.group, function: x.function, direction: x.direction, fromYear: x.fromYear,
    toYear: x.toYear ?? null, documentNo: x.documentNo, funding: fundingJson(x.funding), createdAt: x.createdAt,
  }
}

export const createTransferSchema = {
  operationId: 'createResponsibilityTransfer', summary: '事权划转 record a responsibility transfer (财随事走, admin)',
  description: 'A function moved between zone and district, and the funding that follows it: for every year fromYear..toYear the group\'s base moves by ' +
    'F(Y) (calculation-rules.md §4): up when the function goes to the district, down when it goes to the zone, in every base mode. ' +
    'fromYear must be a year the agreement is in force and after its last finalized settlement (409 otherwise).',
  headers: IdempotencyHeaders,
  body: Type.Object({
    agreementId: RecordId('分成办法 the agreement'),
    group: Words(100, '口径组名称 the group whose base moves (basis increment)'),
    ...TransferFields,
  }, {
    additionalProperties: false,
    examples: [{
      agreementId: 1, group: 'taxes', function: '城市管理', direction: 'to_zone', fromYear: 2025, toYear: 2026, documentNo: '青政字〔2025〕8号',
      funding: { method: 'indexed', amount: '300000.00', growthRate: '0.05' },
    }],
  }),
  response: { 201: TransferOut, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listTransfersSchema = {
  operationId: 'listResponsibilityTransfers', summary: '事权划转列表 responsibility transfers of the agreements in the caller\'s scope',
  querystring: Type.Object({ ...PageQuery, agreementId: Type.Optional(IdParam('分成办法 only this agreement\'s transfers', 1)) }, { additionalProperties: false }),
  response: { 200: PageOf(TransferOut, '事权划转 transfers by id'), ...problemResponses(400, 401) },
}
