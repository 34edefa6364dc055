import Type from 'typebox'
import { MAX_LISTED_ERRORS } from '../../services/csv-file.js'
import { REVENUE_CSV_HEADER as CSV_HEADER } from '../../services/revenue.js'
import {
  CategoryCode, Count, DistrictCode, FiscalYear, IdempotencyHeaders, Money, MoneyOut, PageOf, PageQuery, problemResponses, Timestamp, UnlistedErrors, ZoneCode,
} from './common.js'

/* Revenue records (实际收入): JSON batches, streamed CSV imports, lists and revision history (api-contract.md, Revenue). */

const Month = Type.Integer({ minimum: 1, maximum: 12, format: 'int32', description: '月份 month, 1–12', examples: [12] })

const RecordIn = Type.Object({
  zoneCode: ZoneCode(),
  districtCode: Type.Optional(DistrictCode('属地政府 the district; defaults to the zone\'s host district')),
  category: CategoryCode(),
  year: FiscalYear('财政年度 fiscal year'),
  month: Month,
  amount: Money('金额 local-level (地方级) revenue of the month; refunds are negative'),
}, { additionalProperties: false, description: '月度收入 one month of one category' })

const MergeResult = {
  created: Count('新增 months recorded for the first time'),
  revised: Count('修订 months whose amount changed (a new revision; the old one stays readable)'),
  unchanged: Count('未变 months whose amount was already the one sent'),
}

export const BatchResult = Type.Object({
  records: Count('记录数 records in the request'),
  ...MergeResult,
}, { additionalProperties: false, description: '导入结果 what the batch changed' , examples: [{ records: 1, created: 1, revised: 0, unchanged: 0 }] })

const ImportError = Type.Object({
  line: Count('行号 line in the file; the header is line 1', 1),
  field: Type.String({ maxLength: 20, description: '字段 the column at fault, or "line" for the line as a whole (its number of fields, a repeated month)' }),
  message: Type.String({ maxLength: 500, description: '说明 what is wrong' }),
}, { additionalProperties: false, description: '错误行 a bad line' })

export const ImportResult = Type.Object({
  rows: Count('数据行 data lines read (the header not counted)'),
  loaded: Count('已导入 lines loaded'),
  rejected: Count('错误行数 bad lines (not loaded)'),
  ...MergeResult,
  errors: Type.Array(ImportError, { maxItems: MAX_LISTED_ERRORS, description: `错误行 the bad lines (the first ${MAX_LISTED_ERRORS})` }),
  unlistedErrors: UnlistedErrors(),
}, { additionalProperties: false, description: '导入结果 what the import changed' , examples: [{ rows: 3, loaded: 2, rejected: 1, created: 1, revised: 1, unchanged: 0, errors: [{ line: 4, field: 'month', message: 'must be a month from 1 to 12' }] }] })

export const RevenueRecord = Type.Object({
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  category: CategoryCode(),
  year: FiscalYear(),
  month: Month,
  amount: MoneyOut('金额 the current amount (latest revision)'),
  revision: Count('修订号 revision number of the current amount', 1),
  updatedAt: Timestamp('更新时间 when the current amount was recorded'),
}, { additionalProperties: false, description: '月度收入 a month\'s current record' , examples: [{ zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 12, amount: '1250000.00', revision: 2, updatedAt: '2026-01-01T00:00:00.000Z' }] })

export const Revision = Type.Object({
  revision: Count('修订号 revision number', 1),
  amount: MoneyOut('金额 the amount of this revision'),
  recordedAt: Timestamp('记录时间 when it was recorded'),
  keyId: Type.String({ maxLength: 40, description: '密钥 the key that recorded it' }),
  requestId: Type.String({ maxLength: 100, description: '请求编号 the request that recorded it' }),
}, { additionalProperties: false, description: '修订 one revision', examples: [{ revision: 1, amount: '1200000.00', recordedAt: '2026-01-10T00:00:00.000Z', keyId: 'key_0123456789abcdef', requestId: '6f1c…' }] })

export const recordRevenueSchema = {
  operationId: 'recordRevenue', summary: '录入收入 record monthly revenue (JSON batch, ≤ 10,000 records)',
  description: 'All or nothing: one bad record rejects the batch, with a pointer to it. A new amount for a month already recorded is a new revision; ' +
    'the old one stays readable. A district key records revenue for its own district only.',
  headers: IdempotencyHeaders,
  body: Type.Object({
    records: Type.Array(RecordIn, { minItems: 1, maxItems: 10_000, description: '记录 the records' }),
  }, { additionalProperties: false, examples: [{ records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 12, amount: '1250000.00' }] }] }),
  response: { 200: BatchResult, ...problemResponses(400, 401, 403, 409, 413, 422) },
}

export const importRevenueSchema = {
  operationId: 'importRevenue', summary: '导入收入 import monthly revenue from CSV (streamed)',
  description: `Content-Type: text/csv, UTF-8, header line \`${CSV_HEADER.join(',')}\` (districtCode may be empty: the zone's host). ` +
    'Every bad line is reported with its line number (the header is line 1). The good lines are loaded only when the whole file is valid, ' +
    'unless ?partial=true. Same revision rules as the JSON batch.',
  consumes: ['text/csv'],
  headers: IdempotencyHeaders,
  querystring: Type.Object({
    partial: Type.Optional(Type.Boolean({ description: '部分导入 load the good lines even when some are bad' })),
  }, { additionalProperties: false }),
  body: Type.String({ maxLength: 1024 * 1024 * 1024, description: 'CSV 文件 the file', examples: [`${CSV_HEADER.join(',')}\nQD-HT,370214,10101,2021,12,1250000.00\n`] }),
  response: { 200: ImportResult, ...problemResponses(400, 401, 403, 409, 413, 415, 422) },
}

export const listRevenueSchema = {
  operationId: 'listRevenue', summary: '收入列表 current monthly records in the caller\'s scope',
  querystring: Type.Object({
    ...PageQuery,
    zoneCode: Type.Optional(ZoneCode()),
    districtCode: Type.Optional(DistrictCode()),
    year: Type.Optional(FiscalYear()),
    category: Type.Optional(CategoryCode()),
  }, { additionalProperties: false }),
  response: { 200: PageOf(RevenueRecord, '月度收入 records by zone, district, category, year, month'), ...problemResponses(400, 401) },
}

export const revenueHistorySchema = {
  operationId: 'revenueHistory', summary: '修订历史 every revision of one month\'s record',
  params: Type.Object({ zoneCode: ZoneCode(), districtCode: DistrictCode(), category: CategoryCode(), year: FiscalYear(), month: Month }),
  querystring: Type.Object(PageQuery, { additionalProperties: false }),
  response: {
    200: PageOf(Revision, '修订 revisions, oldest first'),
    ...problemResponses(400, 401, 404),
  },
}
