import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as debts from '../../services/debts.js'
import { ADMIN_ONLY, ADMIN_OR_DISTRICT, EVERY_ROLE } from '../access.js'
import { acceptCsvBodies } from '../csv-bodies.js'
import { answerWrite, asIs, contextOf, documentOperations, pageOf, type RouteDeps, sendTable } from '../routing.js'
import { idFromParam } from '../schemas/common.js'
import * as schemas from '../schemas/debts.js'
import { presentDebt, presentEvent, SUMMARY_COLUMNS, summaryTable } from '../schemas/debts.js'
import { tableCsv, tableXlsx } from '../statement.js'

/* The legacy debt register (历史遗留债务) — api-contract.md, Legacy debts. */

export const debtRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'debts')
  // A debt import holds the register's lock while it reads its file: the file is spooled first.
  const csv = acceptCsvBodies(app, { limit: deps.settings.importLimit })

  app.post('/debts', { config: { access: ADMIN_ONLY }, schema: schemas.registerDebtSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => debts.registerDebt(ctx, request.body), presentDebt))

  app.post('/debts/import', { config: { access: ADMIN_ONLY }, validatorCompiler: csv.validatorCompiler, preParsing: csv.preParsing, schema: schemas.importDebtsSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => debts.importDebts(ctx, request.body, request.query.partial === true), asIs))

  app.get('/debts', { config: { access: EVERY_ROLE }, schema: schemas.listDebtsSchema }, async (request) => {
    const { limit, cursor, status, asOf, ...filter } = request.query
    const page = await debts.debts(contextOf(request, deps), filter, pageOf({ limit, cursor }), asOf, status)
    return { items: page.items.map(presentDebt), nextCursor: page.nextCursor }
  })

  app.get('/debts/summary', { config: { access: EVERY_ROLE }, schema: schemas.debtSummarySchema }, async (request, reply) => {
    const { asOf, groupBy = 'district', format = 'json' } = request.query
    const summary = await debts.summary(contextOf(request, deps), asOf, groupBy)
    if (format === 'json') return summary
    const table = summaryTable(summary.rows, summary.total, groupBy)
    const title = `历史遗留债务汇总 legacy debts as of ${summary.asOf}, by ${groupBy}`
    return sendTable(reply, format, `debts-${summary.asOf}-by-${groupBy}`, {
      csv: () => tableCsv(title, SUMMARY_COLUMNS, table),
      xlsx: () => tableXlsx(title, '债务汇总', SUMMARY_COLUMNS, table),
    })
  })

  app.get('/debts/maturities', { config: { access: EVERY_ROLE }, schema: schemas.debtMaturitiesSchema },
    async (request) => {
      const { limit, cursor, from, to } = request.query
      const page = await debts.maturities(contextOf(request, deps), from, to, pageOf({ limit, cursor }))
      return { items: page.items.map(presentDebt), nextCursor: page.nextCursor }
    })

  app.get('/debts/:id', { config: { access: EVERY_ROLE }, schema: schemas.getDebtSchema },
    async (request) => presentDebt(await debts.debt(contextOf(request, deps), idFromParam(request.params.id), request.query.asOf)))

  app.post('/debts/:id/transfer', { config: { access: ADMIN_ONLY }, schema: schemas.transferDebtSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => debts.transferDebt(ctx, idFromParam(request.params.id), request.body), presentDebt))

  app.post('/debts/:id/repayments', { config: { access: ADMIN_OR_DISTRICT }, schema: schemas.recordRepaymentSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => debts.recordRepayment(ctx, idFromParam(request.params.id), request.body), presentEvent))

  app.post('/debts/:id/repayments/:eventId/reversal', { config: { access: ADMIN_OR_DISTRICT }, schema: schemas.reverseRepaymentSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => debts.reverseRepayment(ctx, idFromParam(request.params.id), idFromParam(request.params.eventId), request.body), presentEvent))
}
