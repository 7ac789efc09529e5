/**
 * `gossip`: fan-out of published messages to every subscriber, Murmur against
 * plain gossipsub on the same topology in the same run.
 *
 * Each system in turn: build the network, subscribe every node, wait for the
 * mesh, publish warm-up messages (not counted), then publish `--messages`
 * messages of `--size` bytes at `--rate` per second from seeded random
 * publishers and wait for them to arrive (at most `--drain` seconds after the
 * last publish). Every node but the publisher should receive every message.
 *
 * `runPubsubComparison` is the reusable part: a later `groups` scenario runs
 * it with Murmur's encrypted-group system against the same baseline.
 */

import { compare, metricName } from '../lib/figures.ts'
import { PAYLOAD_HEADER_BYTES } from '../lib/payload.ts'
import { latencyCdfPlot, deliveryOverTimePlot, memoryPerNodePlot } from '../lib/plots.ts'
import { cdfPoints, distribution } from '../lib/stats.ts'
import { SYSTEMS } from '../lib/systems.ts'
import { graphStats, liveGraph, regularGraph, TOPOLOGIES } from '../lib/topology.ts'
import { aggregate, buildNetwork, DeliveryRecorder, keySeeds, MEASURE_TAG, memoryPerNode, publishOnSchedule, Sampler, subscribeAndWaitForMesh, waitUntil, WARMUP_TAG } from '../lib/workload.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Delivery } from '../lib/node.ts'
import type { Plot } from '../lib/plots.ts'
import type { Scenario, ScenarioContext, ScenarioOutput, Table } from '../lib/scenario.ts'
import type { Distribution } from '../lib/stats.ts'
import type { SystemName } from '../lib/systems.ts'
import type { Edge, GraphStats, Topology } from '../lib/topology.ts'
import type { MeshState, PublishRecord, UsageSample } from '../lib/workload.ts'

export interface GossipParams {
  nodes: number
  rate: number
  messages: number
  size: number
  topology: Topology
  degree: number
  dht: 'client' | 'server'
  minConnections: number
  publishers: number
  warmup: number
  drain: number
  meshTimeout: number
  settleTimeout: number
  sampleInterval: number
}

export interface SystemRun {
  system: SystemName
  /** the graph when the network was built */
  graphBuilt: GraphStats
  /** the graph when measuring began, and its edges (given to the systems that run later) */
  graph: GraphStats
  edges: Edge[]
  /** the graph after the measured window */
  graphAtEnd: GraphStats
  buildSeconds: number
  settleTimedOut: boolean
  mesh: MeshState
  warmupDelivered: number
  publishes: PublishRecord[]
  deliveries: Delivery[]
  duplicates: number
  expected: number
  /** first measured publish, harness clock (ms) */
  startedAt: number
  windowSeconds: number
  cpuSeconds: number
  wireBytes: number
  rssBytesPerNode: number
  heapBytesPerNode: number
  /** how memory per node is measured in this mode */
  memoryBasis: string
  samples: UsageSample[]
  /** RSS and heap of the processes before the first node (in-process) */
  beforeRss: number
  beforeHeap: number
}

export interface PubsubRunInit {
  scenario: string
  systems: SystemName[]
  params: GossipParams
  ctx: ScenarioContext<unknown>
}

/** Runs every system in turn on the same topology and publish schedule */
export async function runPubsubComparison ({ systems, params: p, ctx }: PubsubRunInit): Promise<SystemRun[]> {
  const keys = keySeeds(ctx.prng, p.nodes)
  // the systems that discover go first: the graph the first one had when measuring began (the
  // dialled random graph plus what its DHT opened, or what bootstrap discovery found) is the
  // graph every later system is given, so that all are measured on the same topology
  const order = [...systems].sort((a, b) => Number(SYSTEMS[b].discovers) - Number(SYSTEMS[a].discovers))
  const runs: SystemRun[] = []
  for (const system of order) {
    let edges: Edge[] | undefined = runs[0]?.edges
    if (edges == null && p.topology === 'degree') {
      edges = regularGraph(p.nodes, p.degree, ctx.prng.fork('topology'))
    }
    if (edges == null && !SYSTEMS[system].discovers) {
      throw new Error(`bootstrap topology needs a system that discovers peers to run before ${system}`)
    }
    runs.push(await runOneSystem(system, p, ctx, keys, edges))
  }
  return systems.map(s => runs.find(r => r.system === s) as SystemRun)
}

async function runOneSystem (system: SystemName, p: GossipParams, ctx: ScenarioContext<unknown>, keys: Uint8Array[], edges: Edge[] | undefined): Promise<SystemRun> {
  const { progress } = ctx
  const recorder = new DeliveryRecorder()
  const net = await buildNetwork({
    system,
    mode: ctx.mode,
    nodes: p.nodes,
    topology: p.topology,
    edges,
    keySeeds: keys,
    minConnections: p.minConnections,
    dhtClientMode: p.dht === 'client',
    settleTimeoutMs: p.settleTimeout * 1000,
    recorder,
    progress
  })
  const { cluster } = net
  try {
    const nodes = cluster.nodes
    const mesh = await subscribeAndWaitForMesh(nodes, nodes, p.meshTimeout * 1000)
    const publishers = p.publishers === 0 || p.publishers >= p.nodes
      ? nodes.map((_, i) => i)
      : ctx.prng.fork('publisher-set').shuffle(nodes.map((_, i) => i)).slice(0, p.publishers)
    const expectedPer = p.nodes - 1

    if (p.warmup > 0) {
      const bar = progress.phase(`${system}: warm-up`, p.warmup)
      await publishOnSchedule({
        nodes,
        publishers,
        tag: WARMUP_TAG,
        count: p.warmup,
        rate: p.rate,
        size: p.size,
        seed: ctx.seed,
        prng: ctx.prng.fork('warmup-publishers'),
        onPublished: () => { bar.tick() }
      })
      await waitUntil(async () => {
        await cluster.flush()
        return recorder.count(WARMUP_TAG) >= p.warmup * expectedPer
      }, p.drain * 1000, 100)
      bar.done()
    }

    const edgesMeasured = await liveGraph(nodes)
    const u0 = aggregate(await cluster.usage({ collectGarbage: true }))
    const sampler = new Sampler(cluster, p.sampleInterval, () => recorder.count(MEASURE_TAG))
    await sampler.begin()
    const expected = p.messages * expectedPer
    const pub = progress.phase(`${system}: publish`, p.messages)
    const startedAt = performance.timeOrigin + performance.now()
    const publishes = await publishOnSchedule({
      nodes,
      publishers,
      tag: MEASURE_TAG,
      count: p.messages,
      rate: p.rate,
      size: p.size,
      seed: ctx.seed,
      prng: ctx.prng.fork('publishers'),
      onPublished: () => { pub.tick() }
    })
    pub.done()
    const drain = progress.phase(`${system}: deliveries`, expected)
    await waitUntil(async () => {
      await cluster.flush()
      drain.set(recorder.count(MEASURE_TAG))
      return recorder.count(MEASURE_TAG) >= expected
    }, p.drain * 1000, 100)
    await cluster.flush()
    drain.set(recorder.count(MEASURE_TAG))
    const endedAt = performance.timeOrigin + performance.now()
    const u1 = aggregate(await cluster.usage())
    await sampler.end()
    drain.done()
    const graphAtEnd = graphStats(p.nodes, await liveGraph(nodes))
    // memory of live objects, read after the CPU window closed so the collection does not count in it
    const mem = memoryPerNode(net, await cluster.usage({ collectGarbage: true }), p.nodes)
    return {
      system,
      graphBuilt: net.graph,
      graph: graphStats(p.nodes, edgesMeasured),
      edges: edgesMeasured,
      graphAtEnd,
      buildSeconds: net.buildSeconds,
      settleTimedOut: net.settleTimedOut,
      mesh,
      warmupDelivered: recorder.count(WARMUP_TAG),
      publishes,
      deliveries: recorder.deliveries(MEASURE_TAG),
      duplicates: recorder.duplicates,
      expected,
      startedAt,
      windowSeconds: (endedAt - startedAt) / 1000,
      cpuSeconds: (u1.cpuMicros - u0.cpuMicros) / 1e6,
      wireBytes: u1.wireBytesWritten - u0.wireBytesWritten,
      rssBytesPerNode: mem.rssBytes,
      heapBytesPerNode: mem.heapBytes,
      memoryBasis: cluster.mode === 'inproc'
        ? 'growth of the node host since before the first node (modules loaded), / nodes, after a full GC'
        : 'mean of the node hosts (each a whole Node process with one node), after a full GC',
      samples: sampler.samples,
      beforeRss: net.before?.rssBytes ?? 0,
      beforeHeap: net.before?.heapUsedBytes ?? 0
    }
  } finally {
    const stop = progress.phase(`${system}: stop`, 1)
    await cluster.stop()
    stop.tick()
    stop.done()
  }
}

export interface SystemFigures {
  deliveryRatio: number
  latency: Distribution
  deliveriesPerSecond: number
  cpuSecondsPerDelivery: number
  wireBytesPerDelivery: number
  rssBytesPerNode: number
  heapBytesPerNode: number
  eventLoopDelayP99Seconds: number
  publishErrors: number
  messagesFullyDelivered: number
}

export function systemFigures (run: SystemRun, nodes: number): SystemFigures {
  const delivered = run.deliveries.length
  const latencies = run.deliveries.map(d => (d.receivedAt - d.sentAt) / 1000)
  const lastReceived = run.deliveries.reduce((m, d) => Math.max(m, d.receivedAt), run.startedAt)
  const spanSeconds = (lastReceived - run.startedAt) / 1000
  const perMessage = new Map<number, number>()
  for (const d of run.deliveries) {
    perMessage.set(d.seq, (perMessage.get(d.seq) ?? 0) + 1)
  }
  return {
    deliveryRatio: run.expected > 0 ? delivered / run.expected : 0,
    latency: distribution(latencies),
    deliveriesPerSecond: spanSeconds > 0 ? delivered / spanSeconds : 0,
    cpuSecondsPerDelivery: delivered > 0 ? run.cpuSeconds / delivered : NaN,
    wireBytesPerDelivery: delivered > 0 ? run.wireBytes / delivered : NaN,
    rssBytesPerNode: run.rssBytesPerNode,
    heapBytesPerNode: run.heapBytesPerNode,
    eventLoopDelayP99Seconds: run.samples.reduce((m, s) => Math.max(m, s.usage.eventLoopDelayP99), 0) / 1000,
    publishErrors: run.publishes.filter(r => !r.ok).length,
    messagesFullyDelivered: [...perMessage.values()].filter(c => c >= nodes - 1).length
  }
}

export function pubsubComparisons (scenario: string, runs: readonly SystemRun[], nodes: number): Comparison[] {
  const figs = Object.fromEntries(runs.map(r => [r.system, systemFigures(r, nodes)])) as Partial<Record<SystemName, SystemFigures>>
  const row = (label: string, what: string, help: string, unit: Comparison['unit'], pick: (f: SystemFigures) => number): Comparison =>
    compare({
      label,
      metric: metricName(scenario, what),
      help,
      unit,
      values: Object.fromEntries(Object.entries(figs).map(([s, f]) => [s, Number.isFinite(pick(f)) ? pick(f) : null]))
    })
  return [
    row('delivery ratio', 'delivery_ratio', 'Deliveries received / deliveries expected (every subscriber but the publisher, every message)', 'ratio', f => f.deliveryRatio),
    row('latency p50', 'latency_p50_seconds', 'Publish-to-delivery latency, median', 'seconds', f => f.latency.p50),
    row('latency p90', 'latency_p90_seconds', 'Publish-to-delivery latency, 90th percentile', 'seconds', f => f.latency.p90),
    row('latency p99', 'latency_p99_seconds', 'Publish-to-delivery latency, 99th percentile', 'seconds', f => f.latency.p99),
    row('latency max', 'latency_max_seconds', 'Publish-to-delivery latency, maximum', 'seconds', f => f.latency.max),
    row('deliveries/s', 'deliveries_per_second', 'Deliveries per second from the first measured publish to the last delivery', 'per_second', f => f.deliveriesPerSecond),
    row('CPU per delivery', 'cpu_seconds_per_delivery', 'CPU time (user+system, all processes) during the measured window / deliveries', 'seconds', f => f.cpuSecondsPerDelivery),
    row('wire bytes per delivery', 'wire_bytes_per_delivery', 'Bytes written to TCP sockets (all protocols, after noise and yamux) during the measured window / deliveries', 'bytes', f => f.wireBytesPerDelivery),
    row('RSS per node', 'rss_bytes_per_node', 'Resident memory per node at the end of the measured window', 'bytes', f => f.rssBytesPerNode),
    row('heap per node', 'heap_bytes_per_node', 'V8 heap in use per node at the end of the measured window', 'bytes', f => f.heapBytesPerNode),
    row('event-loop delay p99', 'event_loop_delay_p99_seconds', 'Worst per-second 99th percentile of event-loop delay during the window (worst process)', 'seconds', f => f.eventLoopDelayP99Seconds)
  ]
}

export function pubsubTables (runs: readonly SystemRun[]): ScenarioOutput['tables'] {
  const samples: Table = {
    columns: ['system', 'seq', 'receiver', 'sent_ms', 'received_ms', 'latency_ms'],
    rows: []
  }
  const messages: Table = {
    columns: ['system', 'seq', 'publisher', 'scheduled_ms', 'sent_ms', 'ok', 'recipients', 'delivered_to', 'error'],
    rows: []
  }
  const resources: Table = {
    columns: ['system', 't_s', 'rss_bytes', 'heap_used_bytes', 'cpu_seconds', 'wire_bytes', 'event_loop_delay_p99_ms', 'delivered'],
    rows: []
  }
  const r3 = (v: number): number => Math.round(v * 1000) / 1000
  for (const run of runs) {
    const t0 = run.startedAt
    const perMessage = new Map<number, number>()
    for (const d of run.deliveries) {
      samples.rows.push([run.system, d.seq, d.node, r3(d.sentAt - t0), r3(d.receivedAt - t0), r3(d.receivedAt - d.sentAt)])
      perMessage.set(d.seq, (perMessage.get(d.seq) ?? 0) + 1)
    }
    for (const m of run.publishes) {
      messages.rows.push([run.system, m.seq, m.publisher, r3(m.scheduledAt - t0), Number.isFinite(m.sentAt) ? r3(m.sentAt - t0) : null, m.ok, m.recipients, perMessage.get(m.seq) ?? 0, m.error ?? null])
    }
    const first = run.samples[0]
    for (const s of run.samples) {
      resources.rows.push([run.system, r3(s.t), s.usage.rssBytes, s.usage.heapUsedBytes,
        r3((s.usage.cpuMicros - (first?.usage.cpuMicros ?? 0)) / 1e6), s.usage.wireBytesWritten - (first?.usage.wireBytesWritten ?? 0),
        r3(s.usage.eventLoopDelayP99), s.delivered])
    }
  }
  return { samples, messages, resources }
}

export function pubsubPlots (runs: readonly SystemRun[], nodes: number): Plot[] {
  const cdf = runs.flatMap(run => cdfPoints(run.deliveries.map(d => d.receivedAt - d.sentAt)).map(pt => ({ system: run.system, latencyMs: pt.value, fraction: pt.fraction })))
  const overTime = runs.flatMap(run => {
    const bins = new Map<number, number>()
    for (const d of run.deliveries) {
      const s = Math.floor((d.receivedAt - run.startedAt) / 1000)
      bins.set(s, (bins.get(s) ?? 0) + 1)
    }
    const last = Math.max(0, ...bins.keys())
    return Array.from({ length: last + 1 }, (_, s) => ({ system: run.system, second: s, deliveries: bins.get(s) ?? 0 }))
  })
  const memory = runs.flatMap(run => run.samples.flatMap(s => {
    const perNodeRss = run.beforeRss > 0 ? (s.usage.rssBytes - run.beforeRss) / nodes : s.usage.rssBytes / Math.max(1, s.usage.processes)
    const perNodeHeap = run.beforeRss > 0 ? (s.usage.heapUsedBytes - run.beforeHeap) / nodes : s.usage.heapUsedBytes / Math.max(1, s.usage.processes)
    return [
      { system: run.system, x: Math.round(s.t * 10) / 10, measure: 'rss' as const, mib: perNodeRss / 1024 / 1024 },
      { system: run.system, x: Math.round(s.t * 10) / 10, measure: 'heap' as const, mib: perNodeHeap / 1024 / 1024 }
    ]
  }))
  return [
    latencyCdfPlot('latency-cdf.svg', 'Publish → delivery latency (CDF)', cdf),
    deliveryOverTimePlot('delivery-over-time.svg', 'Deliveries per second', overTime),
    memoryPerNodePlot('memory-per-node.svg', 'Memory per node during the measured window', 'seconds since the first measured publish', memory)
  ]
}

export function pubsubNotes (runs: readonly SystemRun[], p: GossipParams, mode: string): string[] {
  const notes = [
    'Both systems run with Murmur\'s loopback profile (src/node/profiles.ts): no per-IP inbound connection limit in libp2p\'s connection manager and no gossipsub IP-colocation penalty, because every node shares 127.0.0.1. Nothing else is relaxed.',
    `The systems ran one after the other in this order: ${runs.map(r => r.system).join(', ')}, each in fresh node-host processes apart from the harness, stopped before the next was built.`,
    'Murmur\'s side is the Murmur node\'s own gossipsub (StrictNoSign, message id = sha256(data), peer scoring) with its DHT running; payloads are not yet encrypted (groups do not exist yet).',
    'Wire bytes are bytes written to TCP sockets, every protocol included (for Murmur, its DHT traffic during the window too).'
  ]
  const [first] = [...runs].sort((a, b) => Number(SYSTEMS[b.system].discovers) - Number(SYSTEMS[a.system].discovers))
  const others = runs.filter(r => r !== first).map(r => r.system).join(', ')
  if (p.topology === 'bootstrap') {
    notes.push(`Topology "bootstrap": ${first.system} found its peers through node 0 and its DHT (${first.system} dials discovered peers up to ${p.minConnections} connections). The graph it had when measuring began (${first.graph.edges} edges, mean degree ${first.graph.meanDegree.toFixed(1)}) was dialled directly for ${others}.`)
  } else {
    notes.push(`Topology "degree": ${first.system} was given a seeded random graph of degree ${p.degree} (${first.graphBuilt.edges} edges); ${first.graph.edges > first.graphBuilt.edges ? `its DHT (${p.dht} mode) opened further connections, and ` : ''}the graph it had when measuring began (${first.graph.edges} edges, mean degree ${first.graph.meanDegree.toFixed(1)}) was dialled directly for ${others}.`)
  }
  if (mode === 'procs') {
    notes.push('One OS process per node (benchmarks/worker.ts). Latency is computed across processes from each process\'s performance.timeOrigin + performance.now(), which agree to well under a millisecond on one host. Memory per node is a whole Node process each; CPU is summed over the processes, event-loop delay is the worst process\'s.')
  } else {
    notes.push('All nodes of a system in one node-host process: memory per node is the growth of that process since before the first node (modules loaded), divided by the node count; CPU and event-loop delay are that process\'s, on one thread, whatever the core count.')
  }
  for (const run of runs) {
    if (run.graph.components > 1) {
      notes.push(`${run.system}: the graph had ${run.graph.components} connected components when measuring began (smallest degree ${run.graph.minDegree}); messages cannot cross between components, so the delivery ratio cannot reach 1.`)
    }
    if (run.settleTimedOut) {
      notes.push(`${run.system}: discovery did not give every node ${p.minConnections} connections within ${p.settleTimeout} s; the run went on with the graph it had.`)
    }
    if (!run.mesh.ready) {
      notes.push(`${run.system}: not every node had a gossipsub mesh peer after ${p.meshTimeout} s (smallest mesh: ${run.mesh.minMeshPeers}).`)
    }
    const errors = run.publishes.filter(r => !r.ok)
    if (errors.length > 0) {
      notes.push(`${run.system}: ${errors.length} publish call(s) failed, first: ${errors[0].error ?? 'unknown'}`)
    }
  }
  return notes
}

export function pubsubSummary (runs: readonly SystemRun[], nodes: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const run of runs) {
    const f = systemFigures(run, nodes)
    out[run.system] = {
      graphBuilt: run.graphBuilt,
      graph: run.graph,
      graphAtEnd: run.graphAtEnd,
      buildSeconds: Math.round(run.buildSeconds * 100) / 100,
      meshReadySeconds: Math.round(run.mesh.waitedSeconds * 100) / 100,
      meanMeshPeers: Math.round(run.mesh.meanMeshPeers * 100) / 100,
      delivered: run.deliveries.length,
      expected: run.expected,
      messagesFullyDelivered: f.messagesFullyDelivered,
      publishErrors: f.publishErrors,
      duplicateDeliveries: run.duplicates,
      windowSeconds: Math.round(run.windowSeconds * 100) / 100,
      memoryBasis: run.memoryBasis
    }
  }
  return out
}

export const gossipScenario: Scenario<GossipParams> = {
  name: 'gossip',
  summary: 'gossipsub fan-out: Murmur nodes vs plain libp2p gossipsub, same topology and schedule',
  supportsProcs: true,
  options: {
    nodes: { type: 'int', default: 50, min: 2, max: 5000, help: 'nodes in the network' },
    rate: { type: 'number', default: 5, min: 0.01, max: 10_000, help: 'messages per second, over the whole network' },
    messages: { type: 'int', default: 500, min: 1, max: 1_000_000, help: 'measured messages' },
    size: { type: 'int', default: 1024, min: PAYLOAD_HEADER_BYTES, max: 1_000_000, help: 'payload bytes per message' },
    topology: { type: 'enum', values: TOPOLOGIES, default: 'degree', help: 'degree: a seeded random graph of --degree; bootstrap: discovery from node 0. Later systems get the graph the first had when measuring began' },
    degree: { type: 'int', default: 6, min: 2, max: 1000, help: 'neighbours per node with --topology degree' },
    dht: { type: 'enum', values: ['server', 'client'], default: 'server', help: 'Murmur DHT mode (client mode opens no DHT connections of its own)' },
    'min-connections': { type: 'int', default: 8, min: 1, max: 1000, help: 'bootstrap topology: Murmur nodes dial discovered peers up to this many connections' },
    publishers: { type: 'int', default: 0, min: 0, max: 5000, help: 'distinct publishers, drawn at random (0: every node)' },
    warmup: { type: 'int', default: 10, min: 0, max: 100_000, help: 'warm-up messages before measuring (not counted)' },
    drain: { type: 'number', default: 10, min: 0, max: 3600, help: 'seconds to wait for deliveries after the last publish' },
    'mesh-timeout': { type: 'number', default: 30, min: 0, max: 3600, help: 'seconds to wait for every node to have a mesh peer' },
    'settle-timeout': { type: 'number', default: 60, min: 0, max: 3600, help: 'bootstrap topology: seconds to wait for discovery' },
    'sample-interval': { type: 'int', default: 1000, min: 50, max: 60_000, help: 'milliseconds between resource samples' }
  },
  async run (ctx) {
    const p = ctx.params
    const runs = await runPubsubComparison({ scenario: 'gossip', systems: ['murmur', 'baseline'], params: p, ctx })
    return {
      comparisons: pubsubComparisons('gossip', runs, p.nodes),
      figures: [],
      summary: pubsubSummary(runs, p.nodes),
      notes: pubsubNotes(runs, p, ctx.mode),
      tables: pubsubTables(runs),
      plots: pubsubPlots(runs, p.nodes)
    }
  }
}
