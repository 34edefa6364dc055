import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { presentScenario, SCENARIO_COLUMNS, scenarioRows, scenarioTitle } from '../../domain/scenario.js'
import { scenario } from '../../services/scenarios.js'
import { EVERY_ROLE } from '../access.js'
import { explanationLanguage } from '../language.js'
import { renderScenarioChart } from '../charts.js'
import { contextOf, documentOperations, sendChart, sendTable, type StylesheetRouteDeps } from '../routing.js'
import { scenarioChartTitles, scenarioSchema } from '../schemas/scenarios.js'
import { tableCsv, tableXlsx } from '../statement.js'

/* POST /v1/scenarios — 测算 (api-contract.md, Scenarios; calculation-rules.md §4–§6): nothing stored. */

export const scenarioRoutes: FastifyPluginAsyncTypebox<StylesheetRouteDeps> = async (app, deps) => {
  documentOperations(app, 'scenarios')

  app.post('/scenarios', { config: { access: EVERY_ROLE }, schema: scenarioSchema }, async (request, reply) => {
    const format = request.query.format ?? 'json'
    // Only the JSON answer carries explanations; its tables and chart read the same in either language.
    const answer = presentScenario(await scenario(contextOf(request, deps), request.body), format === 'json' ? explanationLanguage(request, reply) : 'zh')
    if (format === 'json') return answer
    if (format === 'svg') {
      // Served at /v1/scenarios: the stylesheet (the statement's CJK font) is at /assets/….
      return sendChart(reply, renderScenarioChart(answer.years, { ...scenarioChartTitles(answer), stylesheet: `../assets/${deps.statementStylesheet}` }))
    }
    const rows = scenarioRows(answer)
    const title = scenarioTitle(answer)
    return sendTable(reply, format, `scenario-agreement-${answer.agreementId}-${answer.fromYear}-${answer.toYear}`, {
      csv: () => tableCsv(title, SCENARIO_COLUMNS, rows),
      xlsx: () => tableXlsx(title, '测算', SCENARIO_COLUMNS, rows),
    })
  })
}
