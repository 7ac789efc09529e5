/**
 * A node host: a process that runs benchmark nodes of one system and takes
 * commands from the harness over stdin/stdout (the line protocol of
 * lib/worker-protocol.ts). By default one host runs all the nodes of a
 * network; with `--procs` every node gets a host of its own. Nothing but
 * protocol lines may be written to stdout; diagnostics go to stderr.
 */

import { createInterface } from 'node:readline'
import { hexToBytes } from './lib/hex.ts'
import { LocalNode } from './lib/node.ts'
import { systemSpec } from './lib/systems.ts'
import { collectGarbage, processUsage, startUsageMonitors } from './lib/usage.ts'
import { DELIVERY_FLUSH_MS } from './lib/worker-protocol.ts'
import type { DeliveryTuple, WorkerEvent, WorkerReply, WorkerRequest } from './lib/worker-protocol.ts'

startUsageMonitors()

const nodes = new Map<number, LocalNode>()
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

function node (index: number): LocalNode {
  const n = nodes.get(index)
  if (n == null) {
    throw new Error(`this host runs no node ${index}`)
  }
  return n
}

async function handle (req: WorkerRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'load':
      await systemSpec(req.system).load()
      return null
    case 'start': {
      if (nodes.has(req.init.index)) {
        throw new Error(`node ${req.init.index} already started`)
      }
      const spec = systemSpec(req.system)
      const peer = await spec.create({ ...req.init, keySeed: hexToBytes(req.init.keySeed) })
      const started = new LocalNode(req.init.index, spec.name, peer, (d) => {
        pending.push([d.node, d.tag, d.seq, d.sentAt, d.receivedAt])
      })
      nodes.set(req.init.index, started)
      return { peerId: started.peerId, addr: started.addr }
    }
    case 'connect':
      await node(req.node).connect(req.addr)
      return null
    case 'subscribe':
      await node(req.node).subscribe(req.topic)
      return null
    case 'publish':
      return node(req.node).publish(req.request)
    case 'peers':
      return node(req.node).peers()
    case 'mesh':
      return node(req.node).meshPeers(req.topic)
    case 'usage':
      if (req.collectGarbage) {
        await collectGarbage()
      }
      return processUsage({ resetEventLoopDelay: req.resetEventLoopDelay })
    case 'flush':
      flushDeliveries()
      return null
    case 'exit':
      await stopAll()
      return null
    default:
      throw new Error(`unknown command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`)
  }
}

async function stopAll (): Promise<void> {
  const list = [...nodes.values()]
  nodes.clear()
  await Promise.allSettled(list.map(async n => n.stop()))
}

async function shutdown (code: number): Promise<void> {
  clearInterval(flushTimer)
  await stopAll()
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
    process.stderr.write(`node host: not JSON: ${err.message}\n`)
    return
  }
  handle(req).then(
    (result) => {
      if (req.cmd === 'exit') {
        flushDeliveries()
        send({ id: req.id, ok: true, result }, () => { void shutdown(0) })
      } else {
        send({ id: req.id, ok: true, result })
      }
    },
    (err: any) => { send({ id: req.id, ok: false, error: `${err.name ?? 'Error'}: ${err.message}` }) }
  )
})
// the harness went away: stop the nodes and leave
lines.on('close', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

send({ event: 'ready', pid: process.pid })
