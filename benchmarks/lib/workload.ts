/**
 * The building blocks every pub-sub scenario shares: build a network of one
 * system on a topology, subscribe, wait for the gossipsub mesh, publish on an
 * open-loop schedule, wait for deliveries, and read what the processes used
 * over a window.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { createCluster } from './cluster.ts'
import { now } from './payload.ts'
import { dialEdges, graphStats, liveGraph } from './topology.ts'
import type { Cluster, ClusterMode } from './cluster.ts'
import type { BenchNode, Delivery } from './node.ts'
import type { Prng } from './prng.ts'
import type { Progress } from './progress.ts'
import type { PeerInit, SystemName } from './systems.ts'
import type { Edge, GraphStats, Topology } from './topology.ts'
import type { ProcessUsage } from './usage.ts'

/** Everything the scenarios publish goes to this topic (group topics use the same prefix) */
export const BENCH_TOPIC = '/murmur/1/g/benchmark'

/** Payload tags: warm-up messages are never counted */
export const WARMUP_TAG = 1
export const MEASURE_TAG = 2

/** Records deliveries per tag, counting each (receiver, message) once */
export class DeliveryRecorder {
  private readonly byTag = new Map<number, { seen: Set<string>, list: Delivery[] }>()
  duplicates = 0

  readonly record = (d: Delivery): void => {
    let entry = this.byTag.get(d.tag)
    if (entry == null) {
      entry = { seen: new Set(), list: [] }
      this.byTag.set(d.tag, entry)
    }
    const key = `${d.node}:${d.seq}`
    if (entry.seen.has(key)) {
      this.duplicates++
      return
    }
    entry.seen.add(key)
    entry.list.push(d)
  }

  count (tag: number): number {
    return this.byTag.get(tag)?.list.length ?? 0
  }

  deliveries (tag: number): Delivery[] {
    return this.byTag.get(tag)?.list ?? []
  }

  /** Deliveries of `tag` whose seq is in `seqs` */
  countFor (tag: number, seqs: ReadonlySet<number>): number {
    let n = 0
    for (const d of this.deliveries(tag)) {
      if (seqs.has(d.seq)) {
        n++
      }
    }
    return n
  }
}

/** The keys of a network: node i gets the same peer id in every system of a run with the same seed */
export function keySeeds (prng: Prng, n: number): Uint8Array[] {
  const keys = prng.fork('peer-keys')
  return Array.from({ length: n }, () => keys.bytes(32))
}

export interface BuildInit {
  system: SystemName
  mode: ClusterMode
  nodes: number
  topology: Topology
  /** the edges to dial; for `bootstrap` topology with a system that discovers, leave undefined */
  edges?: readonly Edge[]
  keySeeds: readonly Uint8Array[]
  /** Murmur: dial discovered peers while below this many connections */
  minConnections?: number
  dhtClientMode?: boolean
  /** how long discovery may take to give every node `minConnections` peers */
  settleTimeoutMs: number
  recorder: DeliveryRecorder
  progress: Progress
}

export interface BuiltNetwork {
  cluster: Cluster
  /** the graph as it was when the network was ready */
  edges: Edge[]
  graph: GraphStats
  buildSeconds: number
  /** what the host used before any node existed (`inproc` runs only; else null) */
  before: ProcessUsage | null
  /** discovery did not reach its target before the timeout */
  settleTimedOut: boolean
}

/**
 * Creates, starts and wires `nodes` nodes of one system. With `bootstrap`
 * topology and a system that discovers, node 0 is the bootstrap and the rest
 * know only its address; otherwise `edges` are dialled.
 */
export async function buildNetwork (init: BuildInit): Promise<BuiltNetwork> {
  const cluster = createCluster({ system: init.system, mode: init.mode, onDelivery: init.recorder.record })
  const label = init.system
  let before: ProcessUsage | null = null
  if (init.mode === 'inproc') {
    // the host with the system's modules loaded and no node yet
    await cluster.prepare()
    before = (await cluster.usage({ collectGarbage: true }))[0]
  }
  const started = performance.now()
  let settleTimedOut = false
  try {
    const discovering = init.topology === 'bootstrap' && cluster.system.discovers && init.edges == null
    const inits: PeerInit[] = init.keySeeds.slice(0, init.nodes).map((keySeed, index) => ({
      index,
      keySeed,
      dhtClientMode: init.dhtClientMode,
      minConnections: discovering ? init.minConnections : 0,
      roles: index === 0 && discovering ? ['bootstrap'] : []
    }))
    const bar = init.progress.phase(`${label}: start nodes`, init.nodes)
    if (discovering) {
      const [boot] = await cluster.addNodes(inits.slice(0, 1), () => { bar.tick() })
      await cluster.addNodes(inits.slice(1).map(i => ({ ...i, bootstrap: [boot.addr] })), () => { bar.tick() })
      bar.done()
      const want = Math.min(init.nodes - 1, init.minConnections ?? 1)
      const settle = init.progress.phase(`${label}: discovery`, init.nodes)
      settleTimedOut = !(await waitUntil(async () => {
        const counts = await Promise.all(cluster.nodes.map(async n => (await n.peers()).length))
        const ok = counts.filter(c => c >= want).length
        settle.set(ok)
        return ok === init.nodes
      }, init.settleTimeoutMs, 250))
      settle.done()
    } else {
      await cluster.addNodes(inits, () => { bar.tick() })
      bar.done()
      const edges = init.edges ?? []
      const dials = init.progress.phase(`${label}: dial ${edges.length} edges`, edges.length)
      await dialEdges(cluster.nodes, edges, { onEdge: () => { dials.tick() } })
      dials.done()
    }
    const edges = await liveGraph(cluster.nodes)
    return {
      cluster,
      edges,
      graph: graphStats(init.nodes, edges),
      buildSeconds: (performance.now() - started) / 1000,
      before,
      settleTimedOut
    }
  } catch (err) {
    await cluster.stop()
    throw err
  }
}

/** Polls `check` every `intervalMs` until it holds (true) or `timeoutMs` passes (false) */
export async function waitUntil (check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (true) {
    if (await check()) {
      return true
    }
    if (performance.now() >= deadline) {
      return false
    }
    await sleep(intervalMs)
  }
}

export interface MeshState {
  ready: boolean
  waitedSeconds: number
  minMeshPeers: number
  meanMeshPeers: number
}

/** Subscribes `nodes` to the topic and waits until each has at least one mesh peer */
export async function subscribeAndWaitForMesh (nodes: readonly BenchNode[], all: readonly BenchNode[], timeoutMs: number): Promise<MeshState> {
  await Promise.all(nodes.map(async n => n.subscribe(BENCH_TOPIC)))
  const started = performance.now()
  let sizes: number[] = []
  const ready = await waitUntil(async () => {
    sizes = await Promise.all(all.map(async n => n.meshPeers(BENCH_TOPIC)))
    return all.length < 2 || sizes.every(s => s >= 1)
  }, timeoutMs, 250)
  return {
    ready,
    waitedSeconds: (performance.now() - started) / 1000,
    minMeshPeers: sizes.length > 0 ? Math.min(...sizes) : 0,
    meanMeshPeers: sizes.length > 0 ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0
  }
}

export interface PublishRecord {
  seq: number
  publisher: number
  /** when the schedule wanted it sent (harness clock, ms) */
  scheduledAt: number
  /** when the publisher stamped it */
  sentAt: number
  ok: boolean
  recipients: number
  error?: string
}

export interface ScheduleInit {
  nodes: readonly BenchNode[]
  /** indexes into `nodes` that may publish */
  publishers: readonly number[]
  tag: number
  /** first sequence number */
  firstSeq?: number
  count: number
  /** messages per second, over the whole network */
  rate: number
  size: number
  seed: number
  prng: Prng
  onPublished?(record: PublishRecord): void
}

/**
 * Publishes `count` messages at `rate` per second on an open-loop schedule:
 * message k is due k/rate seconds after the first, whether or not earlier
 * ones have been delivered, so a slow system falls behind instead of slowing
 * the offered load. Each message goes out from a publisher drawn from the seeded PRNG.
 */
export async function publishOnSchedule (init: ScheduleInit): Promise<PublishRecord[]> {
  const records: Array<Promise<PublishRecord>> = []
  const first = now()
  const firstSeq = init.firstSeq ?? 0
  for (let k = 0; k < init.count; k++) {
    const scheduledAt = first + (k * 1000) / init.rate
    const wait = scheduledAt - now()
    if (wait > 0) {
      await sleep(wait)
    }
    const publisher = init.prng.pick(init.publishers)
    const seq = firstSeq + k
    const node = init.nodes[publisher]
    records.push(node.publish({ topic: BENCH_TOPIC, tag: init.tag, seq, size: init.size, seed: init.seed }).then(
      (outcome) => {
        const record: PublishRecord = outcome.ok
          ? { seq, publisher, scheduledAt, sentAt: outcome.sentAt, ok: true, recipients: outcome.recipients }
          : { seq, publisher, scheduledAt, sentAt: outcome.sentAt, ok: false, recipients: 0, error: outcome.error }
        init.onPublished?.(record)
        return record
      },
      (err: Error) => {
        const record: PublishRecord = { seq, publisher, scheduledAt, sentAt: NaN, ok: false, recipients: 0, error: err.message }
        init.onPublished?.(record)
        return record
      }
    ))
  }
  return Promise.all(records)
}

/** What a set of processes used, summed (memory, CPU, bytes) or worst-of (event-loop delay) */
export interface AggregateUsage {
  processes: number
  rssBytes: number
  heapUsedBytes: number
  cpuMicros: number
  wireBytesWritten: number
  /** the worst process's event-loop delay, ms */
  eventLoopDelayP50: number
  eventLoopDelayP99: number
  eventLoopDelayMax: number
}

export function aggregate (list: readonly ProcessUsage[]): AggregateUsage {
  const sum = (f: (u: ProcessUsage) => number): number => list.reduce((s, u) => s + f(u), 0)
  const worst = (f: (u: ProcessUsage) => number): number => list.reduce((m, u) => Math.max(m, f(u)), 0)
  return {
    processes: list.length,
    rssBytes: sum(u => u.rssBytes),
    heapUsedBytes: sum(u => u.heapUsedBytes),
    cpuMicros: sum(u => u.cpuUserMicros + u.cpuSystemMicros),
    wireBytesWritten: sum(u => u.wireBytesWritten),
    eventLoopDelayP50: worst(u => u.eventLoopDelay.p50),
    eventLoopDelayP99: worst(u => u.eventLoopDelay.p99),
    eventLoopDelayMax: worst(u => u.eventLoopDelay.max)
  }
}

/**
 * Memory per node. In one process: growth of the process since before the
 * first node, divided by the node count. With --procs: the mean of the
 * workers' own figures (each a whole Node process, runtime included).
 */
export function memoryPerNode (net: BuiltNetwork, usage: readonly ProcessUsage[], nodes: number): { rssBytes: number, heapBytes: number } {
  const total = aggregate(usage)
  if (net.cluster.mode === 'inproc' && net.before != null) {
    return {
      rssBytes: (total.rssBytes - net.before.rssBytes) / nodes,
      heapBytes: (total.heapUsedBytes - net.before.heapUsedBytes) / nodes
    }
  }
  return { rssBytes: total.rssBytes / Math.max(1, usage.length), heapBytes: total.heapUsedBytes / Math.max(1, usage.length) }
}

export interface UsageSample {
  /** seconds since the sampler started */
  t: number
  usage: AggregateUsage
  delivered: number
}

/**
 * Reads the processes' usage every `intervalMs` (event-loop delay per
 * interval) until stopped
 */
export class Sampler {
  readonly samples: UsageSample[] = []
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private start = 0
  private readonly cluster: Cluster
  private readonly intervalMs: number
  private readonly delivered: () => number

  constructor (cluster: Cluster, intervalMs: number, delivered: () => number) {
    this.cluster = cluster
    this.intervalMs = intervalMs
    this.delivered = delivered
  }

  async begin (): Promise<void> {
    this.start = performance.now()
    await this.cluster.usage({ resetEventLoopDelay: true })
    this.timer = setInterval(() => { void this.take() }, this.intervalMs)
  }

  private async take (): Promise<void> {
    if (this.busy) {
      return
    }
    this.busy = true
    try {
      const usage = aggregate(await this.cluster.usage({ resetEventLoopDelay: true }))
      this.samples.push({ t: (performance.now() - this.start) / 1000, usage, delivered: this.delivered() })
    } catch {
      // a worker that died shows up in the scenario's own calls
    } finally {
      this.busy = false
    }
  }

  async end (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    while (this.busy) {
      await sleep(10)
    }
    await this.take()
  }
}
