import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { DatabaseHandle } from '../../db/connect.js'
import {
  createStaging, listRevenue, loadRevenueReferences, mergeStaging, revenueHistory, type StagedRevenue, stageRows,
} from '../../db/revenue.js'
import { checkRevenueRow } from '../../domain/revenue-row.js'
import { ADMIN_OR_DISTRICT, EVERY_ROLE } from '../access.js'
import { acceptCsvBodies, MAX_LISTED_ERRORS, openCsvImport } from '../csv-import.js'
import { HttpProblem, type ProblemField } from '../problem.js'
import {
  CategoryCode, Count, DistrictCode, FiscalYear, IdempotencyHeaders, Money, MoneyOut, pageLimit, PageOf, PageQuery, problemResponses, security, Timestamp, ZoneCode,
} from '../schemas/common.js'
import { runWrite } from '../write.js'

/* Revenue records (实际收入): JSON batches, streamed CSV imports, lists and revision history (api-contract.md, Revenue). */

export const CSV_HEADER = ['zoneCode', 'districtCode', 'category', 'year', 'month', 'amount'] as const
const STAGE_BATCH = 5000

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

const BatchResult = Type.Object({
  records: Count('记录数 records in the request'),
  ...MergeResult,
}, { additionalProperties: false, description: '导入结果 what the batch changed' , examples: [{ records: 1, created: 1, revised: 0, unchanged: 0 }] })

const ImportError = Type.Object({
  line: Count('行号 line in the file; the header is line 1', 1),
  field: Type.String({ maxLength: 20, description: '字段 the column at fault' }),
  message: Type.String({ maxLength: 500, description: '说明 what is wrong' }),
}, { additionalProperties: false, description: '错误行 a bad line' })

const ImportResult = Type.Object({
  rows: Count('数据行 data lines read (the header not counted)'),
  loaded: Count('已导入 lines loaded'),
  rejected: Count('错误行数 bad lines (not loaded)'),
  ...MergeResult,
  errors: Type.Array(ImportError, { maxItems: MAX_LISTED_ERRORS, description: `错误行 the bad lines (the first ${MAX_LISTED_ERRORS})` }),
}, { additionalProperties: false, description: '导入结果 what the import changed' , examples: [{ rows: 3, loaded: 2, rejected: 1, created: 1, revised: 1, unchanged: 0, errors: [{ line: 4, field: 'month', message: 'must be a month from 1 to 12' }] }] })

const RevenueRecord = Type.Object({
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  category: CategoryCode(),
  year: FiscalYear(),
  month: Month,
  amount: MoneyOut('金额 the current amount (latest revision)'),
  revision: Count('修订号 revision number of the current amount', 1),
  updatedAt: Timestamp('更新时间 when the current amount was recorded'),
}, { additionalProperties: false, description: '月度收入 a month\'s current record' , examples: [{ zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 12, amount: '1250000.00', revision: 2, updatedAt: '2026-01-01T00:00:00.000Z' }] })

const Revision = Type.Object({
  revision: Count('修订号 revision number', 1),
  amount: MoneyOut('金额 the amount of this revision'),
  recordedAt: Timestamp('记录时间 when it was recorded'),
  keyId: Type.String({ maxLength: 40, description: '密钥 the key that recorded it' }),
  requestId: Type.String({ maxLength: 100, description: '请求编号 the request that recorded it' }),
}, { additionalProperties: false, description: '修订 one revision' })


export interface RevenueRoutesOptions {
  database: DatabaseHandle
  /** Largest CSV import in bytes (413 above). */
  importLimit: number
}

export const revenueRoutes: FastifyPluginAsyncTypebox<RevenueRoutesOptions> = async (app, { database, importLimit }) => {
  const { db } = database
  // CSV bodies reach the import handler as a stream: they are parsed while they arrive.
  const csvRoute = acceptCsvBodies(app)

  app.post('/revenues', {
    config: { access: ADMIN_OR_DISTRICT },
    schema: {
      operationId: 'recordRevenue', summary: '录入收入 record monthly revenue (JSON batch, ≤ 10,000 records)', tags: ['revenue'], security,
      description: 'All or nothing: one bad record rejects the batch, with a pointer to it. A new amount for a month already recorded is a new revision; ' +
        'the old one stays readable. A district key records revenue for its own district only.',
      headers: IdempotencyHeaders,
      body: Type.Object({
        records: Type.Array(RecordIn, { minItems: 1, maxItems: 10_000, description: '记录 the records' }),
      }, { additionalProperties: false, examples: [{ records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 12, amount: '1250000.00' }] }] }),
      response: { 200: BatchResult, ...problemResponses(400, 401, 403, 409, 413, 422) },
    },
  }, async (request, reply) => runWrite(db, request, reply, async (tx) => {
    const refs = await loadRevenueReferences(tx)
    const onlyDistrict = request.principal.role === 'district' ? request.principal.districtCode : undefined
    const problems: ProblemField[] = []
    const rows: StagedRevenue[] = []
    request.body.records.forEach((record, i) => {
      const checked = checkRevenueRow(record, refs, onlyDistrict)
      if (checked.ok) rows.push({ line: i, ...checked.row })
      else problems.push(...checked.problems.map((p) => ({ pointer: `/records/${i}/${p.field}`, message: p.message })))
    })
    if (problems.length > 0) throw new HttpProblem(422, 'invalid-records', `${problems.length} problem(s) in the records; nothing was recorded.`, problems)
    await createStaging(tx)
    for (let i = 0; i < rows.length; i += STAGE_BATCH) await stageRows(tx, rows.slice(i, i + STAGE_BATCH))
    const counts = await mergeStaging(tx, request.principal.keyId, String(request.id))
    return {
      status: 200, body: { records: rows.length, ...counts },
      audit: [{ action: 'record', entityType: 'revenue_batch', entityId: String(request.id), details: { records: rows.length, ...counts } }],
    }
  }))

  app.post('/revenues/import', {
    config: { access: ADMIN_OR_DISTRICT },
    validatorCompiler: csvRoute,
    schema: {
      operationId: 'importRevenue', summary: '导入收入 import monthly revenue from CSV (streamed)', tags: ['revenue'], security,
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
    },
  }, async (request, reply) => {
    const file = openCsvImport(request.body, CSV_HEADER, importLimit, 'JSON records go to POST /v1/revenues')
    const partial = request.query.partial === true
    return runWrite(db, request, reply, async (tx) => {
      const refs = await loadRevenueReferences(tx)
      const onlyDistrict = request.principal.role === 'district' ? request.principal.districtCode : undefined
      await createStaging(tx)
      let loaded = 0
      let batch: StagedRevenue[] = []
      for await (const { line, fields } of file.lines) {
        const [zoneCode, districtCode, category, year, month, amount] = fields as [string, string, string, string, string, string]
        const checked = checkRevenueRow({ zoneCode, districtCode, category, year, month, amount }, refs, onlyDistrict)
        if (!checked.ok) {
          for (const p of checked.problems) file.reject(line, p.field, p.message)
          continue
        }
        loaded++
        batch.push({ line, ...checked.row })
        if (batch.length >= STAGE_BATCH) {
          await stageRows(tx, batch)
          batch = []
        }
      }
      const { rows, rejected, errors } = file.finish(partial, loaded)
      await stageRows(tx, batch)
      const counts = await mergeStaging(tx, request.principal.keyId, String(request.id))
      return {
        status: 200, body: { rows, loaded, rejected, ...counts, errors },
        audit: [{ action: 'import', entityType: 'revenue_import', entityId: String(request.id), details: { rows, loaded, rejected, ...counts, partial } }],
      }
    }, { lateBodyHash: file.digest })
  })

  app.get('/revenues', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'listRevenue', summary: '收入列表 current monthly records in the caller\'s scope', tags: ['revenue'], security,
      querystring: Type.Object({
        ...PageQuery,
        zoneCode: Type.Optional(ZoneCode()),
        districtCode: Type.Optional(DistrictCode()),
        year: Type.Optional(FiscalYear()),
        category: Type.Optional(CategoryCode()),
      }, { additionalProperties: false }),
      response: { 200: PageOf(RevenueRecord, '月度收入 records by zone, district, category, year, month'), ...problemResponses(400, 401) },
    },
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    return listRevenue(db, request.scope, filter, { limit: pageLimit(limit), cursor })
  })

  app.get('/revenues/:zoneCode/:districtCode/:category/:year/:month/history', {
    config: { access: EVERY_ROLE },
    schema: {
      operationId: 'revenueHistory', summary: '修订历史 every revision of one month\'s record', tags: ['revenue'], security,
      params: Type.Object({ zoneCode: ZoneCode(), districtCode: DistrictCode(), category: CategoryCode(), year: FiscalYear(), month: Month }),
      response: {
        200: Type.Object({ items: Type.Array(Revision, { maxItems: 10_000, description: '修订 revisions, oldest first' }) }, {
          additionalProperties: false,
          examples: [{ items: [
            { revision: 1, amount: '1200000.00', recordedAt: '2026-01-10T00:00:00.000Z', keyId: 'key_0123456789abcdef', requestId: '6f1c…' },
            { revision: 2, amount: '1250000.00', recordedAt: '2026-02-10T00:00:00.000Z', keyId: 'bootstrap', requestId: '7a2d…' },
          ] }],
        }),
        ...problemResponses(400, 401, 404),
      },
    },
  }, async (request) => {
    const items = await revenueHistory(db, request.scope, request.params)
    if (items.length === 0) throw new HttpProblem(404, 'not-found', 'No revenue is recorded for that zone, district, category and month.')
    return { items }
  })
}
