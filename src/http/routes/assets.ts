import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { Problems } from '../../domain/errors.js'
import type { StatementAssets } from '../statement-html.js'

/*
 * What the printable statement (GET /v1/settlement-runs/{id}/statement?format=html) loads: its
 * stylesheet and the slices of its CJK web font. Public (a browser fetches them without the
 * statement's bearer token; they hold no data), and cacheable for a year: each URL changes with
 * what it serves (the stylesheet's hash, the font package's version).
 */

const IMMUTABLE = 'public, max-age=31536000, immutable'

export const assetRoutes: FastifyPluginAsync<{ assets: StatementAssets }> = async (app, { assets }) => {
  app.get(`/assets/${assets.stylesheet}`, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', IMMUTABLE).send(assets.css))

  app.get<{ Params: { file: string } }>(`/assets/fonts/${assets.fontFolder}/:file`, { schema: { hide: true } }, async (request, reply) => {
    // Only the files the stylesheet names: a name is looked up, never joined into a path.
    const path = assets.fonts.get(request.params.file)
    if (path === undefined) throw Problems.routeNotFound(request.method, request.url.split('?')[0] ?? request.url)
    return reply.type('font/woff2').header('cache-control', IMMUTABLE).send(await readFile(path))
  })
}
