/**
 * `groups`: end-to-end encrypted group messages (Murmur's groups layer)
 * against the same gossipsub traffic unencrypted, on the same graph and
 * publish schedule, in the same run.
 *
 * Three systems, one after the other, on one seeded random graph:
 * - `groups`: a Murmur node with its groups layer; every node joins one group
 * and every message is sealed, validated, stored and delivered as a
 * timeline entry (`groups.send` → `message` event);
 * - `murmur`: the same Murmur node, payloads straight into gossipsub (no
 * groups layer), so groups/murmur is the cost of the layer alone;
 * - `baseline`: plain `@libp2p/gossipsub` at its defaults, unencrypted.
 *
 * The workload and the figures are `gossip`'s (`runPubsubComparison`); the
 * ratios here are groups / baseline, and groups / murmur in the notes.
 */

import { compare } from '../lib/figures.ts'
import { PAYLOAD_HEADER_BYTES } from '../lib/payload.ts'
import { pubsubComparisons, pubsubNotes, pubsubPlots, pubsubSummary, pubsubTables, runPubsubComparison, systemFigures } from './gossip.ts'
import type { GossipParams } from './gossip.ts'
import type { Scenario } from '../lib/scenario.ts'

const fmtMs = (s: number): string => `${(s * 1000).toFixed(1)} ms`

export const groupsScenario: Scenario<GossipParams> = {
  name: 'groups',
  summary: 'encrypted group messages (groups layer) vs the same node without it vs plain gossipsub, same graph and schedule',
  supportsProcs: true,
  options: {
    nodes: { type: 'int', default: 30, min: 2, max: 5000, help: 'nodes in the network (all members of one group)' },
    rate: { type: 'number', default: 10, min: 0.01, max: 10_000, help: 'messages per second, over the whole network' },
    messages: { type: 'int', default: 200, min: 1, max: 1_000_000, help: 'measured messages' },
    size: { type: 'int', default: 1024, min: PAYLOAD_HEADER_BYTES, max: 40_000, help: 'payload bytes per message (groups: carried base64 in the text)' },
    topology: { type: 'enum', values: ['degree'], default: 'degree', help: 'a seeded random graph of --degree, dialled for every system' },
    degree: { type: 'int', default: 6, min: 2, max: 1000, help: 'neighbours per node' },
    dht: { type: 'enum', values: ['client', 'server'], default: 'client', help: 'Murmur DHT mode (client: the DHT opens no connections, so every system has exactly the seeded graph)' },
    'min-connections': { type: 'int', default: 8, min: 1, max: 1000, help: 'unused with --topology degree' },
    publishers: { type: 'int', default: 0, min: 0, max: 5000, help: 'distinct publishers, drawn at random (0: every node)' },
    warmup: { type: 'int', default: 10, min: 0, max: 100_000, help: 'warm-up messages before measuring (not counted)' },
    drain: { type: 'number', default: 15, min: 0, max: 3600, help: 'seconds to wait for deliveries after the last publish' },
    'mesh-timeout': { type: 'number', default: 60, min: 0, max: 3600, help: 'seconds to wait for every node to have a mesh peer' },
    'settle-timeout': { type: 'number', default: 60, min: 0, max: 3600, help: 'unused with --topology degree' },
    'sample-interval': { type: 'int', default: 1000, min: 50, max: 60_000, help: 'milliseconds between resource samples' }
  },
  async run (ctx) {
    const p = ctx.params
    // murmur discovers, so it runs first and its graph (the seeded one: its DHT is a client) is given to the others
    const runs = await runPubsubComparison({ scenario: 'groups', systems: ['groups', 'murmur', 'baseline'], params: p, ctx })
    const comparisons = pubsubComparisons('groups', runs, p.nodes).map(({ ratio: _, ...c }) => compare(c, 'groups', 'baseline'))
    const figs = Object.fromEntries(runs.map(r => [r.system, systemFigures(r, p.nodes)]))
    const notes = pubsubNotes(runs, p, ctx.mode).filter(n => !n.includes('payloads are not yet encrypted'))
    notes.unshift(
      'Ratios are groups / baseline. groups runs a Murmur node with its groups layer: each message is signed, encrypted, published, then decrypted, verified, checked for freshness and replay and written to the timeline (memory datastore) at every member; the 1 KiB payload travels base64 (about 4/3 of its size) as the message text.',
      `groups / murmur (the cost of the groups layer alone, same node): latency p50 ${fmtMs(figs.groups.latency.p50)} vs ${fmtMs(figs.murmur.latency.p50)}, p99 ${fmtMs(figs.groups.latency.p99)} vs ${fmtMs(figs.murmur.latency.p99)}, delivery ratio ${figs.groups.deliveryRatio.toFixed(4)} vs ${figs.murmur.deliveryRatio.toFixed(4)}, CPU per delivery ${(figs.groups.cpuSecondsPerDelivery * 1e6).toFixed(0)} µs vs ${(figs.murmur.cpuSecondsPerDelivery * 1e6).toFixed(0)} µs.`
    )
    return {
      comparisons,
      figures: [],
      summary: pubsubSummary(runs, p.nodes),
      notes,
      tables: pubsubTables(runs),
      plots: pubsubPlots(runs, p.nodes)
    }
  }
}
