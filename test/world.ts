import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { ADMIN_TOKEN } from './helpers.js'

/*
 * A small registry for endpoint tests: two districts, a zone hosted by each, one agreement per
 * zone, and an API key for every role and scope.
 *   城阳区 370214 hosts QD-HT (agreement ht), 市北区 370203 hosts QD-BL (agreement bl).
 */

export interface World {
  agreements: { ht: number, bl: number }
  tokens: { admin: string, district214: string, district203: string, zoneHT: string, zoneBL: string }
  keyIds: Record<'district214' | 'district203' | 'zoneHT' | 'zoneBL', string>
}

/** A principal of World.tokens. */
export type Principal = keyof World['tokens']
/** Who a request is sent as: a principal of the world, or the token of a key the test issued itself. */
export type Caller = Principal | { token: string }
export type InjectAs = (who: Caller, request: InjectOptions) => Promise<LightMyRequestResponse>

/**
 * Requests sent as someone, through app.inject (so testApp holds every answer to the committed
 * OpenAPI document): `const injectAs = injector(app, world)`, then
 * `injectAs('district214', { method: 'GET', url: '/v1/districts' })` or
 * `injectAs({ token: key.token }, { … })`. The request's own headers go along; the Authorization
 * header is the caller's. Without a world, 'admin' and explicit tokens only. Tests of missing or
 * bad credentials send their Authorization header themselves, with app.inject.
 */
export function injector (app: FastifyInstance, world?: Pick<World, 'tokens'>): InjectAs {
  const tokens: Partial<World['tokens']> = { admin: ADMIN_TOKEN, ...world?.tokens }
  return async (who, request) => {
    const token = typeof who === 'object' ? who.token : tokens[who]
    if (token === undefined) throw new Error(`no token for ${String(who)}: give injector() the world`)
    if (request.headers?.authorization !== undefined) throw new Error('injectAs sets Authorization itself: send other credentials with app.inject')
    return app.inject({ ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } })
  }
}

/** GET as the admin. */
export async function get (app: FastifyInstance, url: string) {
  return injector(app)('admin', { method: 'GET', url })
}

/** POST as the admin. */
export async function post (app: FastifyInstance, url: string, payload: unknown) {
  return injector(app)('admin', { method: 'POST', url, payload: payload as object })
}

/**
 * Every line of a settlement run the caller may see, page by page through
 * GET /v1/settlement-runs/{id}/lines (api-contract.md, Settlement runs).
 */
export async function linesOf (injectAs: InjectAs, runId: number, who: Caller = 'admin', headers: Record<string, string> = {}) {
  const lines: Array<Record<string, unknown> & { agreementId: number }> = []
  let cursor: string | null = null
  do {
    const response = await injectAs(who, { method: 'GET', url: `/v1/settlement-runs/${runId}/lines?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`, headers })
    if (response.statusCode !== 200) throw new Error(`GET …/lines answered ${response.statusCode}: ${response.body}`)
    const page = response.json() as { items: typeof lines, nextCursor: string | null }
    lines.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  return lines
}

/** POSTs and asserts the status, answering the parsed body. */
export async function created (t: Test, app: FastifyInstance, url: string, payload: unknown, status = 201) {
  const response = await post(app, url, payload)
  if (response.statusCode !== status) t.fail(`POST ${url} answered ${response.statusCode}`, { body: response.body })
  return response.json()
}

export function agreementBody (zoneCode: string, districtCode: string, overrides: Record<string, unknown> = {}) {
  return {
    zoneCode,
    districtCode,
    documentNo: '青政字〔2020〕12号',
    effectiveFrom: 2020,
    baseYear: 2019,
    groups: [
      { name: 'taxes', basis: 'increment', categories: ['10101', '10104'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' },
      { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
    ],
    ...overrides,
  }
}

export async function buildWorld (t: Test, app: FastifyInstance): Promise<World> {
  await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
  await created(t, app, '/v1/districts', { code: '370203', name: '市北区' })
  await created(t, app, '/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' })
  await created(t, app, '/v1/zones', { code: 'QD-BL', name: '示例保税区', hostDistrictCode: '370203' })
  const ht = (await created(t, app, '/v1/agreements', agreementBody('QD-HT', '370214'))).id as number
  const bl = (await created(t, app, '/v1/agreements', agreementBody('QD-BL', '370203'))).id as number
  const key = async (body: Record<string, string>) => created(t, app, '/v1/api-keys', { label: 'test', ...body }) as Promise<{ id: string, token: string }>
  const d214 = await key({ role: 'district', districtCode: '370214' })
  const d203 = await key({ role: 'district', districtCode: '370203' })
  const zHT = await key({ role: 'zone', zoneCode: 'QD-HT' })
  const zBL = await key({ role: 'zone', zoneCode: 'QD-BL' })
  return {
    agreements: { ht, bl },
    tokens: { admin: ADMIN_TOKEN, district214: d214.token, district203: d203.token, zoneHT: zHT.token, zoneBL: zBL.token },
    keyIds: { district214: d214.id, district203: d203.id, zoneHT: zHT.id, zoneBL: zBL.id },
  }
}
