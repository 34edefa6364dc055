import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HISTORY_COLUMNS, historyRows } from '../../domain/history.js'
import * as agreements from '../../services/agreements.js'
import * as settlements from '../../services/settlements.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { renderHistoryChart } from '../charts.js'
import { answerWrite, contextOf, documentOperations, pageOf, type StylesheetRouteDeps, sendChart, sendTable } from '../routing.js'
import * as schemas from '../schemas/agreements.js'
import { historyChartTitles, historyTitle, presentAdjustment, presentAgreement, presentHistory } from '../schemas/agreements.js'
import { idFromParam } from '../schemas/common.js'
import { tableCsv, tableXlsx } from '../statement.js'

/* Agreements (分成办法) and base adjustments (基数调整) — api-contract.md, Registry; calculation-rules.md §2–§4. */

export const agreementRoutes: FastifyPluginAsyncTypebox<StylesheetRouteDeps> = async (app, deps) => {
  documentOperations(app, 'agreements')

  app.post('/agreements', { config: { access: ADMIN_ONLY }, schema: schemas.createAgreementSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => agreements.createAgreement(ctx, request.body), (a) => presentAgreement(a)))

  app.get('/agreements', { config: { access: EVERY_ROLE }, schema: schemas.listAgreementsSchema }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const page = await agreements.agreements(contextOf(request, deps), filter, pageOf({ limit, cursor }))
    return { items: page.items.map((a) => presentAgreement(a)), nextCursor: page.nextCursor }
  })

  app.get('/agreements/:id', { config: { access: EVERY_ROLE }, schema: schemas.getAgreementSchema }, async (request) => {
    const ctx = contextOf(request, deps)
    const id = idFromParam(request.params.id)
    const { year } = request.query
    if (year === undefined) return presentAgreement(await agreements.agreement(ctx, id))
    const inYear = await agreements.agreementInYear(ctx, id, year)
    return presentAgreement(inYear.agreement, inYear)
  })

  app.patch('/agreements/:id', { config: { access: ADMIN_ONLY }, schema: schemas.endAgreementSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => agreements.endAgreement(ctx, idFromParam(request.params.id), request.body.effectiveTo), (a) => presentAgreement(a)))

  app.post('/agreements/:id/base-adjustments', { config: { access: ADMIN_ONLY }, schema: schemas.createBaseAdjustmentSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => agreements.addBaseAdjustment(ctx, idFromParam(request.params.id), request.body), presentAdjustment))

  app.get('/agreements/:id/history', { config: { access: EVERY_ROLE }, schema: schemas.agreementHistorySchema }, async (request, reply) => {
    const history = await settlements.agreementHistory(contextOf(request, deps), idFromParam(request.params.id))
    const format = request.query.format ?? 'json'
    if (format === 'json') return presentHistory(history)
    if (format === 'svg') {
      // Served at /v1/agreements/{id}/history: the stylesheet is at /assets/….
      return sendChart(reply, renderHistoryChart(history.years, { ...historyChartTitles(history), stylesheet: `../../../assets/${deps.statementStylesheet}` }))
    }
    const title = historyTitle(history)
    const rows = historyRows(history.years)
    return sendTable(reply, format, `agreement-${history.agreement.id}-history`, {
      csv: () => tableCsv(title, HISTORY_COLUMNS, rows),
      xlsx: () => tableXlsx(title, '历年结算', HISTORY_COLUMNS, rows),
    })
  })
}
