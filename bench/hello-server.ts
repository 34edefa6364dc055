import Fastify from 'fastify'

// The baselines of `npm run bench`: a bare Fastify "hello world" on the same machine, and a bare
// POST that parses the same JSON body and answers a small object (what HTTP + JSON alone cost).
const app = Fastify()
app.get('/', async () => ({ hello: 'world' }))
app.post('/echo', async (request) => ({ groups: (request.body as { groups: unknown[] }).groups.length }))
await app.listen({ port: Number(process.env.PORT ?? 3101), host: '127.0.0.1' })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
