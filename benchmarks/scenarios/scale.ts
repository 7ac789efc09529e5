/**
 * `scale`: how many nodes fit on this machine. The network grows by `--step`
 * nodes up to `--nodes`; each new node dials ⌈degree/2⌉ nodes that joined
 * before it (so the graph stays connected at every size). After each step
 * it measures the idle network (CPU, event-loop delay and bytes written over
 * `--idle` seconds with nothing published: heartbeats, DHT upkeep, pings),
 * memory (RSS and V8 heap per node after a full garbage collection) and
 * delivery (`--probe-messages` messages at `--rate` per second, each of which
 * every other node should receive).
 *
 * Growth stops at the first step where a limit is crossed (total RSS, idle
 * event-loop delay p99, delivery ratio); the figure "nodes that fit" is the
 * last size within every limit. Murmur nodes run their DHT in client mode by
 * default (`--dht client`), the mode of the per-node memory target. The
 * baseline (plain libp2p + gossipsub) grows the same way in the same run.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { compare, metricName } from '../lib/figures.ts'
import { PAYLOAD_HEADER_BYTES } from '../lib/payload.ts'
import { latencyCdfPlot, linePlot, memoryPerNodePlot } from '../lib/plots.ts'
import { cdfPoints, distribution } from '../lib/stats.ts'
import { dialEdges, graphStats, growthEdges, liveGraph } from '../lib/topology.ts'
import { aggregate, buildNetwork, DeliveryRecorder, keySeeds, memoryPerNode, publishOnSchedule, subscribeAndWaitForMesh, waitUntil } from '../lib/workload.ts'
import type { Comparison, Figure } from '../lib/figures.ts'
import type { Delivery } from '../lib/node.ts'
import type { Scenario, ScenarioContext, Table } from '../lib/scenario.ts'
import type { SystemName } from '../lib/systems.ts'
import type { Edge, GraphStats } from '../lib/topology.ts'

export interface ScaleParams {
  nodes: number
  step: number
  degree: number
  dht: 'client' | 'server'
  idle: number
  rate: number
  probeMessages: number
  size: number
  drain: number
  meshTimeout: number
  limitRssMb: number
  limitEldMs: number
  limitDelivery: number
}

/** Tags of probe payloads: one per step, so late deliveries of an earlier probe never count */
const PROBE_TAG_BASE = 100

export interface ScaleStep {
  system: SystemName
  nodes: number
  graph: GraphStats
  buildSeconds: number
  meshReady: boolean
  meshSeconds: number
  rssBytesTotal: number
  rssBytesPerNode: number
  heapBytesPerNode: number
  /** CPU seconds per second (1 = one core busy) of the whole network while idle */
  idleCpu: number
  idleWireBytesPerSecond: number
  eventLoopDelayP50Ms: number
  eventLoopDelayP99Ms: number
  eventLoopDelayMaxMs: number
  deliveryRatio: number
  latencyP50Seconds: number
  latencyP99Seconds: number
  /**
   * Least-squares slope of each probe message's median latency against its
   * position: about 0 when the network keeps up with the rate, positive (seconds
   * of extra latency per message) when a backlog builds
   */
  latencyTrendSeconds: number
  deliveries: Delivery[]
  publishErrors: number
  /** the limits this step crossed, e.g. "delivery ratio 0.98 < 1" */
  crossed: string[]
}

export interface ScaleRun {
  system: SystemName
  steps: ScaleStep[]
  /** the largest size within every limit (0 if the first step crossed one) */
  nodesFit: number
  /** whether growth stopped at a limit (else it reached --nodes) */
  stoppedAtLimit: boolean
  memoryBasis: string
}

function stepSizes (p: ScaleParams): number[] {
  const sizes: number[] = []
  for (let n = Math.min(p.step, p.nodes); n < p.nodes; n += p.step) {
    sizes.push(n)
  }
  sizes.push(p.nodes)
  return sizes.filter(n => n >= 2)
}

/** Slope (seconds per message) of each message's median latency against its sequence number */
export function latencyTrend (deliveries: readonly Delivery[]): number {
  const bySeq = new Map<number, number[]>()
  for (const d of deliveries) {
    bySeq.set(d.seq, [...(bySeq.get(d.seq) ?? []), (d.receivedAt - d.sentAt) / 1000])
  }
  const points = [...bySeq.entries()].map(([seq, list]) => [seq, distribution(list).p50])
  if (points.length < 2) {
    return NaN
  }
  const mx = points.reduce((s, [x]) => s + x, 0) / points.length
  const my = points.reduce((s, [, y]) => s + y, 0) / points.length
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  return sxx > 0 ? sxy / sxx : NaN
}

function limitsCrossed (step: Omit<ScaleStep, 'crossed'>, p: ScaleParams): string[] {
  const crossed: string[] = []
  if (p.limitRssMb > 0 && step.rssBytesTotal > p.limitRssMb * 1024 * 1024) {
    crossed.push(`RSS ${(step.rssBytesTotal / 1024 / 1024).toFixed(0)} MiB > ${p.limitRssMb} MiB`)
  }
  if (p.limitEldMs > 0 && step.eventLoopDelayP99Ms > p.limitEldMs) {
    crossed.push(`idle event-loop delay p99 ${step.eventLoopDelayP99Ms.toFixed(1)} ms > ${p.limitEldMs} ms`)
  }
  if (step.deliveryRatio < p.limitDelivery) {
    crossed.push(`delivery ratio ${step.deliveryRatio.toFixed(4)} < ${p.limitDelivery}`)
  }
  return crossed
}

async function growSystem (system: SystemName, p: ScaleParams, ctx: ScenarioContext<unknown>, keys: Uint8Array[], edges: Edge[]): Promise<ScaleRun> {
  const { progress } = ctx
  const recorder = new DeliveryRecorder()
  const sizes = stepSizes(p)
  const steps: ScaleStep[] = []
  const first = sizes[0]
  const net = await buildNetwork({
    system,
    mode: ctx.mode,
    nodes: first,
    topology: 'degree',
    edges: edges.filter(([, b]) => b < first),
    keySeeds: keys,
    dhtClientMode: p.dht === 'client',
    settleTimeoutMs: 0,
    recorder,
    progress
  })
  const { cluster } = net
  let stoppedAtLimit = false
  try {
    let built = first
    let buildSeconds = net.buildSeconds
    let subscribed = 0
    for (const [stepIndex, size] of sizes.entries()) {
      if (size > built) {
        const started = performance.now()
        const from = built
        const bar = progress.phase(`${system}: start nodes`, size - from)
        await cluster.addNodes(Array.from({ length: size - from }, (_, k) => ({
          index: from + k,
          keySeed: keys[from + k],
          dhtClientMode: p.dht === 'client',
          minConnections: 0
        })), () => { bar.tick() })
        bar.done()
        const newEdges = edges.filter(([, b]) => b >= from && b < size)
        const dials = progress.phase(`${system}: dial ${newEdges.length} edges`, newEdges.length)
        await dialEdges(cluster.nodes, newEdges, { onEdge: () => { dials.tick() } })
        dials.done()
        buildSeconds = (performance.now() - started) / 1000
        built = size
      }
      const graph = graphStats(size, await liveGraph(cluster.nodes))
      const meshStarted = performance.now()
      const mesh = await subscribeAndWaitForMesh(cluster.nodes.slice(subscribed), cluster.nodes, p.meshTimeout * 1000)
      subscribed = size
      const meshSeconds = (performance.now() - meshStarted) / 1000

      // idle window: nothing published; a collection first so that it does not land inside
      const idle = progress.phase(`${system} ${size}: idle ${p.idle}s`, Math.ceil(p.idle))
      const u0 = aggregate(await cluster.usage({ collectGarbage: true, resetEventLoopDelay: true }))
      const idleStarted = performance.now()
      for (let s = 0; s < Math.ceil(p.idle); s++) {
        await sleep(Math.min(1000, p.idle * 1000 - s * 1000))
        idle.tick()
      }
      const u1 = aggregate(await cluster.usage())
      const idleSeconds = (performance.now() - idleStarted) / 1000
      idle.done()
      const memUsage = await cluster.usage({ collectGarbage: true })
      const mem = memoryPerNode(net, memUsage, size)

      // delivery probe
      const tag = PROBE_TAG_BASE + stepIndex
      const probe = progress.phase(`${system} ${size}: probe`, p.probeMessages)
      const publishes = await publishOnSchedule({
        nodes: cluster.nodes,
        publishers: cluster.nodes.map((_, i) => i),
        tag,
        count: p.probeMessages,
        rate: p.rate,
        size: p.size,
        seed: ctx.seed,
        prng: ctx.prng.fork(`probe-${size}`),
        onPublished: () => { probe.tick() }
      })
      const expected = p.probeMessages * (size - 1)
      await waitUntil(async () => {
        await cluster.flush()
        return recorder.count(tag) >= expected
      }, p.drain * 1000, 100)
      await cluster.flush()
      probe.done()
      const deliveries = [...recorder.deliveries(tag)]
      const latency = distribution(deliveries.map(d => (d.receivedAt - d.sentAt) / 1000))
      const step: Omit<ScaleStep, 'crossed'> = {
        system,
        nodes: size,
        graph,
        buildSeconds,
        meshReady: mesh.ready,
        meshSeconds,
        rssBytesTotal: aggregate(memUsage).rssBytes,
        rssBytesPerNode: mem.rssBytes,
        heapBytesPerNode: mem.heapBytes,
        idleCpu: (u1.cpuMicros - u0.cpuMicros) / 1e6 / idleSeconds,
        idleWireBytesPerSecond: (u1.wireBytesWritten - u0.wireBytesWritten) / idleSeconds,
        eventLoopDelayP50Ms: u1.eventLoopDelayP50,
        eventLoopDelayP99Ms: u1.eventLoopDelayP99,
        eventLoopDelayMaxMs: u1.eventLoopDelayMax,
        deliveryRatio: expected > 0 ? deliveries.length / expected : 0,
        latencyP50Seconds: latency.p50,
        latencyP99Seconds: latency.p99,
        latencyTrendSeconds: latencyTrend(deliveries),
        deliveries,
        publishErrors: publishes.filter(r => !r.ok).length
      }
      const crossed = limitsCrossed(step, p)
      steps.push({ ...step, crossed })
      progress.note(`${system} ${size} nodes: RSS/node ${(step.rssBytesPerNode / 1024 / 1024).toFixed(2)} MiB, heap/node ${(step.heapBytesPerNode / 1024 / 1024).toFixed(2)} MiB, idle CPU ${(step.idleCpu * 100).toFixed(1)} %, ELD p99 ${step.eventLoopDelayP99Ms.toFixed(1)} ms, delivery ${step.deliveryRatio.toFixed(4)}${crossed.length > 0 ? `; limit crossed: ${crossed.join('; ')}` : ''}`)
      if (crossed.length > 0) {
        stoppedAtLimit = true
        break
      }
    }
  } finally {
    const stop = progress.phase(`${system}: stop`, 1)
    await cluster.stop()
    stop.tick()
    stop.done()
  }
  const within = steps.filter(s => s.crossed.length === 0)
  return {
    system,
    steps,
    nodesFit: within.length > 0 ? within[within.length - 1].nodes : 0,
    stoppedAtLimit,
    memoryBasis: ctx.mode === 'inproc'
      ? 'growth of the node host since before the first node (modules loaded), / nodes, after a full GC'
      : 'mean of the node hosts (each a whole Node process with one node), after a full GC'
  }
}

function scaleComparisons (runs: ScaleRun[]): { comparisons: Comparison[], atNodes: number | null } {
  // figures are compared at the largest size every system reached
  const common = Math.min(...runs.map(r => r.steps.length > 0 ? r.steps[r.steps.length - 1].nodes : 0))
  const at = (run: ScaleRun): ScaleStep | undefined => run.steps.find(s => s.nodes === common)
  const row = (label: string, what: string, help: string, unit: Comparison['unit'], pick: (s: ScaleStep) => number): Comparison =>
    compare({
      label,
      metric: metricName('scale', what),
      help,
      unit,
      values: Object.fromEntries(runs.map(r => {
        const s = at(r)
        return [r.system, s == null || !Number.isFinite(pick(s)) ? null : pick(s)]
      }))
    })
  const comparisons: Comparison[] = [
    compare({
      label: 'nodes that fit',
      metric: metricName('scale', 'nodes_fit'),
      help: 'Largest network size tried within every limit (RSS, idle event-loop delay, delivery ratio)',
      unit: 'count',
      values: Object.fromEntries(runs.map(r => [r.system, r.nodesFit]))
    }),
    row(`RSS per node @${common}`, 'rss_bytes_per_node', 'Resident memory per idle node after a full GC', 'bytes', s => s.rssBytesPerNode),
    row(`heap per node @${common}`, 'heap_bytes_per_node', 'V8 heap in use per idle node after a full GC', 'bytes', s => s.heapBytesPerNode),
    row(`idle CPU @${common}`, 'idle_cpu_seconds_per_second', 'CPU seconds per second of the whole idle network (1 = one core)', 'cpu_fraction', s => s.idleCpu),
    row(`idle CPU per node @${common}`, 'idle_cpu_seconds_per_second_per_node', 'CPU seconds per second per idle node', 'cpu_fraction', s => s.idleCpu / s.nodes),
    row(`idle wire bytes/s per node @${common}`, 'idle_wire_bytes_per_second_per_node', 'Bytes written to TCP sockets per second per idle node', 'bytes', s => s.idleWireBytesPerSecond / s.nodes),
    row(`idle event-loop delay p99 @${common}`, 'event_loop_delay_p99_seconds', 'Event-loop delay, 99th percentile, over the idle window (worst process)', 'seconds', s => s.eventLoopDelayP99Ms / 1000),
    row(`delivery ratio @${common}`, 'delivery_ratio', 'Probe deliveries received / expected', 'ratio', s => s.deliveryRatio),
    row(`latency p50 @${common}`, 'latency_p50_seconds', 'Probe publish-to-delivery latency, median', 'seconds', s => s.latencyP50Seconds),
    row(`latency p99 @${common}`, 'latency_p99_seconds', 'Probe publish-to-delivery latency, 99th percentile', 'seconds', s => s.latencyP99Seconds),
    row(`latency trend per message @${common}`, 'latency_trend_seconds_per_message', 'Slope of the probe messages\' median latency over the probe: about 0 when the network keeps up with the rate, positive when a backlog builds', 'seconds', s => s.latencyTrendSeconds)
  ]
  return { comparisons, atNodes: common > 0 ? common : null }
}

export const scaleScenario: Scenario<ScaleParams> = {
  name: 'scale',
  summary: 'nodes per machine: memory, idle CPU, event-loop delay and delivery as the network grows, vs plain gossipsub',
  supportsProcs: true,
  options: {
    nodes: { type: 'int', default: 500, min: 2, max: 20_000, help: 'largest network size' },
    step: { type: 'int', default: 100, min: 1, max: 20_000, help: 'nodes added per step' },
    degree: { type: 'int', default: 6, min: 2, max: 1000, help: 'mean degree: each new node dials ⌈degree/2⌉ earlier nodes' },
    dht: { type: 'enum', values: ['client', 'server'], default: 'client', help: 'Murmur DHT mode' },
    idle: { type: 'number', default: 10, min: 1, max: 3600, help: 'seconds of idle measurement per step' },
    rate: { type: 'number', default: 1, min: 0.01, max: 10_000, help: 'probe messages per second' },
    'probe-messages': { type: 'int', default: 10, min: 1, max: 100_000, help: 'probe messages per step' },
    size: { type: 'int', default: 1024, min: PAYLOAD_HEADER_BYTES, max: 1_000_000, help: 'payload bytes per probe message' },
    drain: { type: 'number', default: 15, min: 0, max: 3600, help: 'seconds to wait for probe deliveries after the last publish' },
    'mesh-timeout': { type: 'number', default: 60, min: 0, max: 3600, help: 'seconds to wait for every node to have a mesh peer' },
    'limit-rss-mb': { type: 'number', default: 16_384, min: 0, max: 1e9, help: 'limit: total RSS of all processes, MiB (0: none)' },
    'limit-eld-ms': { type: 'number', default: 100, min: 0, max: 1e6, help: 'limit: idle event-loop delay p99, ms (0: none)' },
    'limit-delivery': { type: 'number', default: 1, min: 0, max: 1, help: 'limit: lowest acceptable probe delivery ratio' }
  },
  async run (ctx) {
    const p = ctx.params
    if (p.step > p.nodes) {
      p.step = p.nodes
    }
    const keys = keySeeds(ctx.prng, p.nodes)
    const edges = growthEdges(0, p.nodes, p.degree, ctx.prng.fork('topology'))
    const runs: ScaleRun[] = []
    for (const system of ['murmur', 'baseline'] as const) {
      runs.push(await growSystem(system, p, ctx, keys, edges))
    }
    const { comparisons, atNodes } = scaleComparisons(runs)
    const figures: Figure[] = runs.map(r => ({
      name: metricName('scale', 'stopped_at_limit'),
      help: '1 if growth stopped because a limit was crossed, 0 if it reached --nodes',
      labels: { mode: ctx.mode, system: r.system },
      value: r.stoppedAtLimit ? 1 : 0
    }))

    const r3 = (v: number): number => Math.round(v * 1000) / 1000
    const samples: Table = {
      columns: ['system', 'nodes', 'edges', 'mean_degree', 'build_s', 'mesh_ready', 'mesh_s', 'rss_bytes_total', 'rss_bytes_per_node', 'heap_bytes_per_node',
        'idle_cpu_cores', 'idle_wire_bytes_per_s', 'eld_p50_ms', 'eld_p99_ms', 'eld_max_ms', 'delivery_ratio', 'latency_p50_ms', 'latency_p99_ms', 'latency_trend_ms_per_msg', 'publish_errors', 'limits_crossed'],
      rows: runs.flatMap(r => r.steps.map(s => [s.system, s.nodes, s.graph.edges, r3(s.graph.meanDegree), r3(s.buildSeconds), s.meshReady, r3(s.meshSeconds),
        s.rssBytesTotal, Math.round(s.rssBytesPerNode), Math.round(s.heapBytesPerNode), r3(s.idleCpu), Math.round(s.idleWireBytesPerSecond),
        r3(s.eventLoopDelayP50Ms), r3(s.eventLoopDelayP99Ms), r3(s.eventLoopDelayMaxMs), r3(s.deliveryRatio * 1000) / 1000,
        Number.isFinite(s.latencyP50Seconds) ? r3(s.latencyP50Seconds * 1000) : null, Number.isFinite(s.latencyP99Seconds) ? r3(s.latencyP99Seconds * 1000) : null,
        Number.isFinite(s.latencyTrendSeconds) ? r3(s.latencyTrendSeconds * 1000) : null,
        s.publishErrors, s.crossed.join('; ')]))
    }
    const deliveries: Table = {
      columns: ['system', 'nodes', 'seq', 'receiver', 'latency_ms'],
      rows: runs.flatMap(r => r.steps.flatMap(s => s.deliveries.map(d => [s.system, s.nodes, d.seq, d.node, r3(d.receivedAt - d.sentAt)])))
    }

    const memPoints = runs.flatMap(r => r.steps.flatMap(s => [
      { system: r.system, x: s.nodes, measure: 'rss' as const, mib: s.rssBytesPerNode / 1024 / 1024 },
      { system: r.system, x: s.nodes, measure: 'heap' as const, mib: s.heapBytesPerNode / 1024 / 1024 }
    ]))
    const largest = atNodes ?? 0
    const cdf = runs.flatMap(r => {
      const s = r.steps.find(x => x.nodes === largest)
      return s == null ? [] : cdfPoints(s.deliveries.map(d => d.receivedAt - d.sentAt)).map(pt => ({ system: r.system, latencyMs: pt.value, fraction: pt.fraction }))
    })
    const plots = [
      memoryPerNodePlot('memory-per-node.svg', 'Memory per idle node (after a full GC)', 'nodes', memPoints),
      linePlot('idle-cpu.svg', 'Idle CPU of the whole network', { x: 'nodes', y: 'CPU (cores)' }, runs.flatMap(r => r.steps.map(s => ({ system: r.system, x: s.nodes, y: s.idleCpu })))),
      linePlot('event-loop-delay.svg', 'Idle event-loop delay, p99 (worst process)', { x: 'nodes', y: 'ms' }, runs.flatMap(r => r.steps.map(s => ({ system: r.system, x: s.nodes, y: s.eventLoopDelayP99Ms })))),
      linePlot('delivery-ratio.svg', `Probe delivery ratio at ${p.rate} msg/s`, { x: 'nodes', y: 'delivery ratio' }, runs.flatMap(r => r.steps.map(s => ({ system: r.system, x: s.nodes, y: s.deliveryRatio })))),
      latencyCdfPlot('latency-cdf.svg', `Probe latency at ${largest} nodes (CDF)`, cdf)
    ]

    const notes = [
      'Both systems run with Murmur\'s loopback profile (src/node/profiles.ts): no per-IP inbound connection limit in libp2p\'s connection manager and no gossipsub IP-colocation penalty, because every node shares 127.0.0.1. Nothing else is relaxed.',
      `Murmur nodes run their DHT in ${p.dht} mode. Every node listens on 127.0.0.1 TCP only (Murmur still constructs its other transports).`,
      `Topology: each new node dials ⌈${p.degree}/2⌉ random earlier nodes (seeded), the same graph for both systems.`,
      'The systems grew one after the other (murmur, then baseline), each in fresh node-host processes apart from the harness, stopped before the next was built.',
      ctx.mode === 'inproc'
        ? 'All nodes of a system in one node-host process: memory per node is the growth of that process since before the first node (modules loaded), after a full GC, divided by the node count.'
        : 'One OS process per node: memory per node is a whole Node process each, runtime and loaded modules included.'
    ]
    if (atNodes != null && runs.some(r => r.nodesFit !== atNodes || r.stoppedAtLimit)) {
      notes.push(`Figures other than "nodes that fit" are compared at ${atNodes} nodes, the largest size every system reached.`)
    }
    for (const r of runs) {
      for (const s of r.steps) {
        if (!s.meshReady) {
          notes.push(`${r.system} at ${s.nodes} nodes: not every node had a mesh peer after ${p.meshTimeout} s.`)
        }
        if (s.crossed.length > 0) {
          notes.push(`${r.system} stopped growing at ${s.nodes} nodes: ${s.crossed.join('; ')}.`)
        }
      }
    }

    return {
      comparisons,
      figures,
      summary: Object.fromEntries(runs.map(r => [r.system, {
        nodesFit: r.nodesFit,
        stoppedAtLimit: r.stoppedAtLimit,
        comparedAtNodes: atNodes,
        memoryBasis: r.memoryBasis,
        steps: r.steps.map(s => ({ nodes: s.nodes, rssMiBPerNode: r3(s.rssBytesPerNode / 1024 / 1024), deliveryRatio: s.deliveryRatio, crossed: s.crossed }))
      }])),
      notes,
      tables: { samples, deliveries },
      plots
    }
  }
}
