import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { statementTitle } from '../../domain/settlement.js'
import * as settlements from '../../services/settlements.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { explanationLanguage } from '../language.js'
import { answerWrite, contextOf, documentOperations, emptyBodyIsObject, pageOf, type StylesheetRouteDeps, sendTable } from '../routing.js'
import { idFromParam } from '../schemas/common.js'
import * as schemas from '../schemas/settlements.js'
import { presentLines, presentRecordedReview, presentRun, presentVerification } from '../schemas/settlements.js'
import { statementCsv, statementRows, statementXlsx } from '../statement.js'
import { STATEMENT_CSP, statementHtml } from '../statement-html.js'

/* Settlement runs (年度结算) — api-contract.md, Settlement runs; calculation-rules.md §4–§6 and §9. */

export const settlementRoutes: FastifyPluginAsyncTypebox<StylesheetRouteDeps> = async (app, deps) => {
  documentOperations(app, 'settlements')

  app.post('/settlement-runs', { config: { access: ADMIN_ONLY }, schema: schemas.createSettlementRunSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => settlements.createRun(ctx, request.body), presentRun))

  app.get('/settlement-runs', { config: { access: EVERY_ROLE }, schema: schemas.listSettlementRunsSchema },
    async (request) => {
      const page = await settlements.runs(contextOf(request, deps), request.query.fiscalYear, pageOf(request.query))
      return { items: page.items.map(presentRun), nextCursor: page.nextCursor }
    })

  app.get('/settlement-runs/:id', { config: { access: EVERY_ROLE }, schema: schemas.getSettlementRunSchema },
    async (request) => presentRun(await settlements.run(contextOf(request, deps), idFromParam(request.params.id))))

  app.get('/settlement-runs/:id/lines', { config: { access: EVERY_ROLE }, schema: schemas.listSettlementRunLinesSchema }, async (request, reply) => {
    const { limit, cursor, ...filter } = request.query
    const lines = await settlements.runLines(contextOf(request, deps), idFromParam(request.params.id), filter, pageOf({ limit, cursor }))
    return presentLines(lines, explanationLanguage(request, reply))
  })

  app.post('/settlement-runs/:id/finalize', { config: { access: ADMIN_ONLY }, schema: schemas.finalizeSettlementRunSchema, preValidation: emptyBodyIsObject },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => settlements.finalizeRun(ctx, idFromParam(request.params.id), request.body ?? {}), presentRun))

  app.post('/settlement-runs/:id/lines/:agreementId/review', { config: { access: EVERY_ROLE }, schema: schemas.reviewSettlementLineSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201,
      (ctx) => settlements.reviewLine(ctx, idFromParam(request.params.id), idFromParam(request.params.agreementId), request.body), presentRecordedReview))

  app.get('/settlement-runs/:id/verification', { config: { access: EVERY_ROLE }, schema: schemas.verifySettlementRunSchema },
    async (request) => presentVerification(await settlements.verifyRun(contextOf(request, deps), idFromParam(request.params.id))))

  app.get('/settlement-runs/:id/statement', { config: { access: EVERY_ROLE }, schema: schemas.settlementStatementSchema }, async (request, reply) => {
    const { run, lineCount, printsSupplementary, pages, scope } = await settlements.statement(contextOf(request, deps), idFromParam(request.params.id))
    const format = request.query.format ?? 'csv'
    if (format === 'html') {
      return reply.type('text/html; charset=utf-8').header('content-security-policy', STATEMENT_CSP)
        .send(Readable.from(statementHtml(run, { lineCount, lines: pages, printsSupplementary, scope }, `../../../assets/${deps.statementStylesheet}`)) as unknown as string)
    }
    const rows = statementRows(pages, printsSupplementary)
    const title = statementTitle(run, printsSupplementary, scope)
    return sendTable(reply, format, `settlement-${run.fiscalYear}-run-${run.id}`, {
      csv: () => statementCsv(title, rows),
      xlsx: () => statementXlsx(title, rows),
    })
  })
}
