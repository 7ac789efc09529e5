/**
 * `onion`: what Sphinx costs, each figure next to a baseline measured in the
 * same run.
 *
 * 1. Per-hop processing (one core, in-process): packets/s through
 * `processPacket` (MAC, replay check, peel, Lioness) vs the bare crypto
 * operations one hop needs (one X25519 with key import, the key
 * derivation, the header MAC, the Lioness decryption) in a tight loop.
 * The ratio is the share of the crypto limit the processor reaches.
 * 2. Relay forwarding: a relay (a whole Murmur peer with its onion layer)
 * receives pre-built packets on `/murmur/onion/1.0.0`, processes them and
 * forwards them to a sink; vs the same topology forwarding raw frames of
 * the same size on a plain libp2p stream protocol with no crypto.
 * 3. Latency: a message over a 3-hop route (mixing off) to a handler on the
 * destination vs one frame on a direct stream between the same two peers.
 */

import { bytesToHex } from '@noble/hashes/utils.js'
import { createMurmur } from '../../src/app/index.ts'
import { createNode, loopbackProfile } from '../../src/node/index.ts'
import { buildPacket, deriveHopKeys, FRAME_SIZE, FrameDecoder, nativeCrypto, ONION_PROTOCOL, PACKET_SIZE, processPacket, ReplayCache, encodeFrame, lionessDecrypt, HEADER_SIZE, MAC_SIZE, GROUP_ELEMENT_SIZE, ROUTING_INFO_SIZE } from '../../src/onion/index.ts'
import { compare } from '../lib/figures.ts'
import { distribution } from '../lib/stats.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { MurmurNode } from '../../src/node/index.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Scenario, ScenarioContext, Table } from '../lib/scenario.ts'
import type { Stream } from '@libp2p/interface'

interface OnionParams {
  packets: number
  frames: number
  messages: number
  hops: number
}

const RAW_PROTOCOL = '/murmur/bench/raw-forward/1.0.0'

/** CPU time of this thread (user + system), in µs; process-wide where the runtime lacks threadCpuUsage */
function threadCpuMicros (): number {
  const usage = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage()
  return usage.user + usage.system
}

/** CPU time of the whole process (every thread), in µs */
function processCpuMicros (): number {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

function perSecond (count: number, ms: number): number {
  return ms > 0 ? count * 1000 / ms : 0
}

/** 1: the processor vs the bare crypto of one hop */
function perHop (ctx: ScenarioContext<OnionParams>): { processor: number, bare: number } {
  const crypto = nativeCrypto
  const n = ctx.params.packets
  const priv = crypto.randomBytes(32)
  const sinkPriv = crypto.randomBytes(32)
  const route = [
    { address: crypto.randomBytes(32), onionKey: crypto.x25519PublicKey(priv) },
    { address: crypto.randomBytes(32), onionKey: crypto.x25519PublicKey(sinkPriv) }
  ]
  const bar = ctx.progress.phase('building packets', n)
  const packets: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    packets.push(buildPacket(crypto, route, new Uint8Array(100)).packet)
    bar.tick()
  }
  bar.done()
  const replay = new ReplayCache({ maxEntries: n + 1 })
  replay.setEpochs([0])
  const bareHop = (p: Uint8Array): void => {
    const keys = deriveHopKeys(crypto, crypto.x25519(priv, p.subarray(0, GROUP_ELEMENT_SIZE)))
    crypto.hmac(keys.headerMac, p.subarray(GROUP_ELEMENT_SIZE, GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE)).subarray(0, MAC_SIZE)
    lionessDecrypt(crypto, keys.payload, p.subarray(HEADER_SIZE))
  }
  // warm both paths up (JIT, OpenSSL tables)
  const warm = new ReplayCache()
  warm.setEpochs([0])
  for (let i = 0; i < 200; i++) {
    processPacket(crypto, [priv], packets[i], warm)
    bareHop(packets[i])
  }
  // Interleaved rounds, timed in this thread's CPU time (not wall time): the
  // machine is shared, and CPU time is what "packets/s on one core" means.
  // Many short rounds, and the median round of each: a garbage collection or a
  // burst from another process lands in a few rounds, not in the figure.
  const rounds = 20
  const per = Math.floor(n / rounds)
  const processorRates: number[] = []
  const bareRates: number[] = []
  for (let r = 0; r < rounds; r++) {
    const chunk = packets.slice(r * per, (r + 1) * per)
    // alternate which goes first, so neither always inherits the other's garbage
    for (const which of r % 2 === 0 ? ['processor', 'bare'] : ['bare', 'processor']) {
      const start = threadCpuMicros()
      const wallStart = performance.now()
      if (which === 'processor') {
        for (const p of chunk) {
          processPacket(crypto, [priv], p, replay)
        }
      } else {
        for (const p of chunk) {
          bareHop(p)
        }
      }
      // a short round can take less CPU time than the thread clock resolves on
      // a busy host (a delta of 0, which read as a rate of 0): time it by the
      // wall clock then
      const cpuMs = (threadCpuMicros() - start) / 1000
      const rates = which === 'processor' ? processorRates : bareRates
      rates.push(perSecond(per, cpuMs > 0 ? cpuMs : performance.now() - wallStart))
    }
  }
  const processor = distribution(processorRates).p50
  const bare = distribution(bareRates).p50
  return { processor, bare }
}

async function plainNode (): Promise<MurmurNode> {
  const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile() })
  await node.start()
  return node
}

/** Counts frames arriving on `protocol` at `sink` */
async function countingSink (sink: MurmurNode, protocol: string): Promise<{ count(): number }> {
  let frames = 0
  await sink.libp2p.handle(protocol, stream => {
    void (async () => {
      const decoder = new FrameDecoder()
      for await (const chunk of stream) { frames += decoder.push(chunk).length }
    })().catch(() => {})
  }, { maxInboundStreams: 64 })
  return { count: () => frames }
}

async function pump (stream: Stream, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) {
    if (!stream.send(f)) { await stream.onDrain() }
  }
}

/** 2: a relay forwarding Sphinx packets vs a plain forwarder of raw frames */
async function forwarding (ctx: ScenarioContext<OnionParams>): Promise<{ onion: number, raw: number, onionPerCpu: number, rawPerCpu: number }> {
  const n = ctx.params.frames
  const sender = await plainNode()
  const sink = await plainNode()
  const relay = await createMurmur({ listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile(), roles: ['relay'], directory: { dht: false } })
  await relay.start()
  try {
    await relay.node.connect(sink.getMultiaddrs()[0])
    await sender.connect(relay.node.getMultiaddrs()[0])
    const key = relay.onion.keyring.current()
    if (key == null) { throw new Error('relay has no onion key') }
    const sinkKey = nativeCrypto.randomBytes(32)
    const relayAddress = relay.peerId.publicKey?.raw
    const sinkAddress = sink.peerId.publicKey?.raw
    if (relayAddress == null || sinkAddress == null) { throw new Error('Ed25519 peer ids expected') }
    const bar = ctx.progress.phase('building relay packets', n)
    const frames: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      frames.push(encodeFrame(buildPacket(nativeCrypto, [
        { address: relayAddress, onionKey: key.publicKey },
        { address: sinkAddress, onionKey: nativeCrypto.x25519PublicKey(sinkKey) }
      ], new Uint8Array(100)).packet))
      bar.tick()
    }
    bar.done()

    const onionSink = await countingSink(sink, ONION_PROTOCOL)
    const toRelay = await sender.libp2p.dialProtocol(relay.peerId, ONION_PROTOCOL)
    let start = performance.now()
    let cpu = processCpuMicros()
    await pump(toRelay, frames)
    await waitUntil(() => onionSink.count() >= n, 120_000)
    const onion = perSecond(onionSink.count(), performance.now() - start)
    const onionPerCpu = perSecond(onionSink.count(), (processCpuMicros() - cpu) / 1000)

    // the baseline: the same three peers, the relay copying raw frames of the same size onwards
    const rawSink = await countingSink(sink, RAW_PROTOCOL)
    await relay.node.libp2p.handle(RAW_PROTOCOL, stream => {
      void (async () => {
        const out = await relay.node.libp2p.dialProtocol(sink.peerId, RAW_PROTOCOL)
        const decoder = new FrameDecoder()
        for await (const chunk of stream) {
          for (const p of decoder.push(chunk)) {
            const frame = new Uint8Array(FRAME_SIZE)
            frame[0] = 1
            frame.set(p, 1)
            if (!out.send(frame)) { await out.onDrain() }
          }
        }
      })().catch(() => {})
    })
    const raw = new Uint8Array(FRAME_SIZE)
    raw[0] = 1
    const rawFrames = Array.from({ length: n }, () => raw)
    const toRawRelay = await sender.libp2p.dialProtocol(relay.peerId, RAW_PROTOCOL)
    start = performance.now()
    cpu = processCpuMicros()
    await pump(toRawRelay, rawFrames)
    await waitUntil(() => rawSink.count() >= n, 120_000)
    return { onion, raw: perSecond(rawSink.count(), performance.now() - start), onionPerCpu, rawPerCpu: perSecond(rawSink.count(), (processCpuMicros() - cpu) / 1000) }
  } finally {
    await relay.stop()
    await sender.stop()
    await sink.stop()
  }
}

async function waitUntil (check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) { throw new Error('benchmark phase timed out') }
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** 3: a message over a route of `hops` relays vs one frame on a direct stream */
async function latency (ctx: ScenarioContext<OnionParams>): Promise<{ onion: number[], direct: number[] }> {
  const { messages, hops } = ctx.params
  const peers: Murmur[] = []
  try {
    for (let i = 0; i < hops + 2; i++) {
      const p = await createMurmur({ listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile(), roles: ['relay'], onion: { diversity: 'none', hops }, directory: { dht: false, republishOnSubscribeMs: 200 } })
      await p.start()
      peers.push(p)
    }
    for (let i = 1; i < peers.length; i++) {
      for (let j = 0; j < i; j++) { await peers[i].node.connect(peers[j].node.getMultiaddrs()[0]) }
    }
    await waitUntil(() => peers.every(p => p.directory.descriptors().length === peers.length), 60_000)
    const [sender, dest] = peers
    const arrivals = new Map<string, number>()
    dest.onion.handle('bench', msg => { arrivals.set(bytesToHex(msg.data.subarray(0, 8)), performance.now()) })
    // warm every stream of the route up
    for (let i = 0; i < 10; i++) { await sender.onion.send(dest.peerId, new Uint8Array(8).fill(255 - i), { kind: 'bench' }) }
    const onion: number[] = []
    const bar = ctx.progress.phase(`${hops}-hop route latency`, messages)
    for (let i = 0; i < messages; i++) {
      const id = new Uint8Array(8)
      new DataView(id.buffer).setUint32(0, i)
      const start = performance.now()
      await sender.onion.send(dest.peerId, id, { kind: 'bench' })
      const at = arrivals.get(bytesToHex(id))
      if (at != null) { onion.push(at - start) }
      bar.tick()
    }
    bar.done()

    // baseline: one frame of the same size on a direct stream, sender to destination
    // a queue of waiters filled by the handler, so no closure is made in the loop below
    const waiters: Array<() => void> = []
    await dest.node.libp2p.handle(RAW_PROTOCOL, stream => {
      void (async () => {
        const decoder = new FrameDecoder()
        for await (const chunk of stream) {
          for (let n = decoder.push(chunk).length; n > 0; n--) {
            waiters.shift()?.()
          }
        }
      })().catch(() => {})
    })
    const stream = await sender.node.libp2p.dialProtocol(dest.peerId, RAW_PROTOCOL)
    const frame = new Uint8Array(FRAME_SIZE)
    frame[0] = 1
    const direct: number[] = []
    const oneFrame = async (): Promise<number> => {
      const arrived = new Promise<void>(resolve => { waiters.push(resolve) })
      const start = performance.now()
      stream.send(frame)
      await arrived
      return performance.now() - start
    }
    for (let i = 0; i < messages + 10; i++) {
      const ms = await oneFrame()
      if (i >= 10) {
        direct.push(ms)
      }
    }
    return { onion, direct }
  } finally {
    await Promise.all(peers.map(async p => p.stop()))
  }
}

export const onionScenario: Scenario<OnionParams> = {
  name: 'onion',
  summary: 'Sphinx per-hop rate vs the bare crypto, relay forwarding vs raw frames, route latency vs a direct stream',
  supportsProcs: false,
  options: {
    packets: { type: 'int', default: 12000, min: 400, max: 1_000_000, help: 'packets for the per-hop processing rate' },
    frames: { type: 'int', default: 3000, min: 100, max: 1_000_000, help: 'packets pushed through the relay (and raw frames for the baseline)' },
    messages: { type: 'int', default: 200, min: 10, max: 100_000, help: 'messages for the latency comparison' },
    hops: { type: 'int', default: 3, min: 1, max: 4, help: 'relays on the latency route' }
  },
  async run (ctx) {
    ctx.progress.note(`onion: packet ${PACKET_SIZE} bytes (header ${HEADER_SIZE}), native crypto backend`)
    const hop = perHop(ctx)
    const fwd = await forwarding(ctx)
    const lat = await latency(ctx)
    const ol = distribution(lat.onion)
    const dl = distribution(lat.direct)
    const row = (label: string, what: string, help: string, unit: Comparison['unit'], murmur: number, baseline: number): Comparison =>
      compare({ label, metric: `murmur_bench_onion_${what}`, help, unit, values: { murmur, baseline } })
    const comparisons: Comparison[] = [
      row('per-hop processing (1 core) vs bare crypto', 'hop_processing_per_second', 'Sphinx packets processed per second on one core; baseline: the bare crypto operations of one hop', 'per_second', hop.processor, hop.bare),
      row('relay forwarding vs raw frames (wall)', 'relay_forwarding_per_second', 'Packets per second through one relay (receive, process, send on); baseline: raw frames of the same size forwarded without crypto', 'per_second', fwd.onion, fwd.raw),
      row('relay forwarding per CPU-second', 'relay_forwarding_per_cpu_second', 'Packets forwarded per CPU-second of this process (sender, relay and sink together); baseline: raw frames', 'per_second', fwd.onionPerCpu, fwd.rawPerCpu),
      row(`${lat.onion.length > 0 ? ctx.params.hops : 0}-hop latency p50 vs direct`, 'route_latency_p50_seconds', 'One-way latency of a message over an onion route; baseline: one frame on a direct stream', 'seconds', ol.p50 / 1000, dl.p50 / 1000),
      row(`${ctx.params.hops}-hop latency p99 vs direct`, 'route_latency_p99_seconds', 'p99 of the same', 'seconds', ol.p99 / 1000, dl.p99 / 1000)
    ]
    const samples: Table = {
      columns: ['kind', 'index', 'ms'],
      rows: [...lat.onion.map((ms, i) => ['onion', i, ms]), ...lat.direct.map((ms, i) => ['direct', i, ms])]
    }
    return {
      comparisons,
      figures: [],
      summary: {
        hopProcessingPerSecond: Math.round(hop.processor),
        bareCryptoPerSecond: Math.round(hop.bare),
        shareOfCryptoLimit: hop.bare > 0 ? Math.round(hop.processor / hop.bare * 1000) / 1000 : null,
        relayForwardingPerSecond: Math.round(fwd.onion),
        rawForwardingPerSecond: Math.round(fwd.raw),
        relayForwardingPerCpuSecond: Math.round(fwd.onionPerCpu),
        rawForwardingPerCpuSecond: Math.round(fwd.rawPerCpu),
        latencyMs: { onion: ol, direct: dl }
      },
      notes: [
        'All peers run in this one process: the relay forwarding figure shares the process\'s CPU with the sender and the sink.',
        'Per-hop figures are single-threaded loops in this process; the machine is shared, so repeat runs differ by a few percent.'
      ],
      tables: { samples },
      plots: []
    }
  }
}
