import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'

/** The OpenAPI 3.1 document's frame; the paths come from the route schemas. */
export const openapiOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: '功能区财政分成结算服务 Revenue-sharing settlement service',
      version: '1.0.0',
      description: [
        'Computes how a functional zone (功能区) and its host district (属地政府) split revenue under',
        '"核定基数、增量分成" (a verified base stays with the district; the zone\'s increment and its administrative',
        'fees come back to the zone at no less than 60%). Amounts are strings in yuan with at most two decimals.',
        'Every error is RFC 9457 problem+json. Everything under /v1 needs `Authorization: Bearer <token>`.',
      ].join(' '),
    },
    tags: [
      { name: 'calculations', description: '试算 stateless calculations' },
      { name: 'registry', description: '登记 revenue categories, districts and zones' },
      { name: 'agreements', description: '分成办法 agreements and base adjustments' },
      { name: 'revenue', description: '实际收入 monthly revenue records, their revisions and CSV imports' },
      { name: 'advances', description: '预拨 advances paid to zones' },
      { name: 'settlements', description: '年度结算 annual settlement runs and statements' },
      { name: 'debts', description: '历史遗留债务 the legacy debt register: transfers, repayments, balances as of any date' },
      { name: 'access', description: '权限 API keys and the audit log' },
      { name: 'operations', description: '运行 health and readiness' },
    ],
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: '令牌 ADMIN_TOKEN or an API key' },
      },
    },
  },
}
