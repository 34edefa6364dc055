/*
 * Asks the server at argv[2] for /health every 50 ms, from a process of its own (bench:statement):
 * the benchmark's own process buffers the statement it downloads (100 MB of HTML), and its event
 * loop, busy with that, would delay the answers it times. The first answer, the poller's own cold
 * start, is asked before the parent is told it is ready and is not counted. On a message from the
 * parent it stops and sends back the slowest answer (ms) and how many there were.
 */
const base = process.argv[2]
const ask = async (): Promise<number> => {
  const asked = process.hrtime.bigint()
  await fetch(`${base}/health`).then((r) => r.arrayBuffer())
  return Number(process.hrtime.bigint() - asked) / 1e6
}
let stopping = false
process.on('message', () => { stopping = true })
await ask()
process.send?.('ready')
let slowest = 0
let answers = 0
while (!stopping) {
  slowest = Math.max(slowest, await ask())
  answers++
  await new Promise((resolve) => setTimeout(resolve, 50))
}
process.send?.({ slowest, answers }, () => process.exit(0))
