/**
 * One benchmark node in its own OS process, for `--procs` runs. The harness
 * starts one of these per node and drives it over stdin/stdout with the line
 * protocol of lib/worker-protocol.ts. Nothing but protocol lines may be written
 * to stdout; diagnostics go to stderr.
 */

import { createInterface } from 'node:readline'
import { hexToBytes } from './lib/hex.ts'
import { LocalNode } from './lib/node.ts'
import { systemSpec } from './lib/systems.ts'
import { processUsage, startUsageMonitors } from './lib/usage.ts'
import { DELIVERY_FLUSH_MS } from './lib/worker-protocol.ts'
import type { DeliveryTuple, WorkerEvent, WorkerReply, WorkerRequest } from './lib/worker-protocol.ts'

startUsageMonitors()

let node: LocalNode | undefined
let pending: DeliveryTuple[] = []

function send (line: WorkerEvent | WorkerReply, then?: () => void): void {
  process.stdout.write(JSON.stringify(line) + '\n', then)
}

function flushDeliveries (): void {
  if (pending.length > 0) {
    send({ event: 'deliveries', items: pending })
    pending = []
  }
}

const flushTimer = setInterval(flushDeliveries, DELIVERY_FLUSH_MS)

function requireNode (): LocalNode {
  if (node == null) {
    throw new Error('no node: send "start" first')
  }
  return node
}

async function handle (req: WorkerRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'start': {
      if (node != null) {
        throw new Error('node already started')
      }
      const spec = systemSpec(req.system)
      const peer = await spec.create({ ...req.init, keySeed: hexToBytes(req.init.keySeed) })
      node = new LocalNode(req.init.index, spec.name, peer, (d) => {
        pending.push([d.tag, d.seq, d.sentAt, d.receivedAt])
      })
      return { peerId: node.peerId, addr: node.addr }
    }
    case 'connect':
      await requireNode().connect(req.addr)
      return null
    case 'subscribe':
      await requireNode().subscribe(req.topic)
      return null
    case 'publish':
      return requireNode().publish(req.request)
    case 'peers':
      return requireNode().peers()
    case 'mesh':
      return requireNode().meshPeers(req.topic)
    case 'usage':
      return processUsage({ resetEventLoopDelay: req.resetEventLoopDelay })
    case 'flush':
      flushDeliveries()
      return null
    case 'stop':
      await node?.stop()
      node = undefined
      return null
    default:
      throw new Error(`unknown command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`)
  }
}

async function shutdown (code: number): Promise<void> {
  clearInterval(flushTimer)
  try {
    await node?.stop()
  } catch {}
  process.exit(code)
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (line.trim() === '') {
    return
  }
  let req: WorkerRequest
  try {
    req = JSON.parse(line)
  } catch (err: any) {
    process.stderr.write(`worker: not JSON: ${err.message}\n`)
    return
  }
  handle(req).then(
    (result) => {
      if (req.cmd === 'stop') {
        send({ id: req.id, ok: true, result }, () => { void shutdown(0) })
      } else {
        send({ id: req.id, ok: true, result })
      }
    },
    (err: any) => { send({ id: req.id, ok: false, error: `${err.name ?? 'Error'}: ${err.message}` }) }
  )
})
// the harness went away: stop the node and leave
lines.on('close', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

send({ event: 'ready', pid: process.pid })
