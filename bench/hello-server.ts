import Fastify from 'fastify'

// The baseline of `npm run bench`: a bare Fastify "hello world" on the same machine.
const app = Fastify()
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ port: Number(process.env.PORT ?? 3101), host: '127.0.0.1' })
process.stdout.write('listening\n')
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
