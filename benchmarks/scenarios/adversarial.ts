/**
 * `adversarial`: 1:1 messages over onion routes when some relays misbehave,
 * next to the same run with every relay honest (the baseline).
 *
 * `--relays` relay peers and `--clients` client peers (whole Murmurs from
 * `createMurmur`, in this process, on loopback, every pair connected). A
 * seeded `--bad` fraction of the relays misbehave in the `murmur` run:
 * - `--mode drop`: every onion packet they receive is swallowed (at the
 * stream handler and at the packet processor, as the onion network test's
 * droppers do);
 * - `--mode delay`: every packet is held `--delay` ms before it is processed
 * and forwarded.
 * Client k sends `--messages` messages in all (a seeded sender each, to the
 * next client in a ring), open loop at `--rate` per second, with
 * `onion.send` (SURB ack, `--retries` new routes after `--ack-timeout` ms).
 *
 * Figures: delivery (messages that reached their destination's handler) and
 * acknowledged sends, latency (send → first arrival), routes tried per
 * message, duplicates handed to the destination, and how the senders learn:
 * every 250 ms the harness reads each client's reliability score of every
 * bad relay; "avoided" is the first moment the mean of those scores is under
 * a quarter (a relay's weight in path selection is its score squared: at
 * 0.25 it is chosen 4× less often than a relay never tried and ~16× less than
 * an honest relay near 1).
 *
 * Link loss is not emulated: over TCP a lost packet is a retransmission
 * delay, which only packet-level emulation reproduces honestly (`netem`,
 * scripts/linkem.py in the netns testnet); dropping bytes in a stream
 * wrapper in this process would break the stream instead.
 */

import { createMurmur } from '../../src/app/index.ts'
import { loopbackProfile } from '../../src/node/index.ts'
import { ONION_PROTOCOL } from '../../src/onion/index.ts'
import { compare } from '../lib/figures.ts'
import { connectAll, sleep, waitUntil } from '../lib/peers.ts'
import { latencyCdfPlot, linePlot } from '../lib/plots.ts'
import { cdfPoints, distribution } from '../lib/stats.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Prng } from '../lib/prng.ts'
import type { Scenario, ScenarioContext, Table } from '../lib/scenario.ts'

export interface AdversarialParams {
  relays: number
  clients: number
  bad: number
  mode: string
  delay: number
  messages: number
  rate: number
  hops: number
  ackTimeout: number
  retries: number
  drain: number
}

interface Planned { seq: number, at: number, sender: number }

interface Outcome {
  seq: number
  sender: number
  sentAt: number
  /** resolved (acknowledged) at, if it was */
  ackedAt?: number
  /** routes tried; for a failed send every allowed route was */
  attempts: number
  error?: string
}

interface ScoreSample { t: number, meanBad: number, meanHonest: number }

interface RunResult {
  outcomes: Outcome[]
  arrivals: Map<number, number[]>
  scores: ScoreSample[]
  bad: string[]
  start: number
}

/** The score under which a relay counts as avoided */
const AVOIDED = 0.25

function plan (p: AdversarialParams, prng: Prng): { messages: Planned[], bad: number[] } {
  const messages = Array.from({ length: p.messages }, (_, seq) => ({ seq, at: seq * 1000 / p.rate, sender: Math.floor(prng.next() * p.clients) }))
  const pool = Array.from({ length: p.relays }, (_, i) => i)
  const bad: number[] = []
  for (let k = Math.round(p.bad * p.relays); k > 0; k--) {
    bad.push(pool.splice(Math.floor(prng.next() * pool.length), 1)[0])
  }
  return { messages, bad: bad.sort((a, b) => a - b) }
}

/** Reads and forgets every packet of a stream */
async function swallow (stream: AsyncIterable<unknown>): Promise<void> {
  try {
    for await (const chunk of stream) { void chunk }
  } catch {
    // the sender went away
  }
}

/** Makes `relay` drop every onion packet it receives from now on */
async function makeDropper (relay: Murmur): Promise<void> {
  relay.onion.receive = () => {}
  await relay.node.libp2p.unhandle(ONION_PROTOCOL)
  await relay.node.libp2p.handle(ONION_PROTOCOL, stream => { void swallow(stream) }, { maxInboundStreams: 256 })
  // streams opened before still lead to the honest handler
  for (const conn of relay.node.libp2p.getConnections()) {
    for (const s of conn.streams) { if (s.protocol === ONION_PROTOCOL) { s.abort(new Error('now a dropper')) } }
  }
}

/** Makes `relay` hold every onion packet `ms` before processing it */
function makeDelayer (relay: Murmur, ms: number): void {
  const receive = relay.onion.receive.bind(relay.onion)
  relay.onion.receive = (packet, from) => { setTimeout(() => { receive(packet, from) }, ms) }
}

const mean = (xs: number[]): number => xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN

async function runOnce (ctx: ScenarioContext<AdversarialParams>, adversarial: boolean, schedule: ReturnType<typeof plan>): Promise<RunResult> {
  const p = ctx.params
  const label = adversarial ? `${p.mode} ${schedule.bad.length}/${p.relays}` : 'honest'
  const now = (): number => performance.now()
  const peers: Murmur[] = []
  const arrivals = new Map<number, number[]>()
  const outcomes: Outcome[] = []
  const scores: ScoreSample[] = []
  const bar = ctx.progress.phase(`${label}: peers`, p.relays + p.clients)
  try {
    for (let i = 0; i < p.relays + p.clients; i++) {
      const m = await createMurmur({
        listen: ['/ip4/127.0.0.1/tcp/0'],
        ...loopbackProfile(),
        roles: i < p.relays ? ['relay'] : [],
        dhtClientMode: true,
        onion: { diversity: 'none', hops: p.hops, ackTimeoutMs: p.ackTimeout, retries: p.retries },
        directory: { dht: false, republishOnSubscribeMs: 300 },
        store: { transparent: true },
        contacts: { transparent: true, publishBundle: false }
      })
      await m.start()
      peers.push(m)
      bar.tick()
    }
    bar.done()
    const relays = peers.slice(0, p.relays)
    const clients = peers.slice(p.relays)
    await connectAll(peers)
    // on a loaded machine a descriptor published while the meshes form can be missed until the directory's
    // next republish (minutes): every 10 s of waiting, the peers someone lacks publish theirs again
    let waited = 0
    await waitUntil(async () => {
      const missing = peers.filter(q => peers.some(x => x.directory.get(q.peerId) == null))
      if (missing.length === 0) { return true }
      if (++waited % 40 === 0) { await Promise.allSettled(missing.map(async q => q.directory.publish())) }
      return false
    }, 'every peer to know every descriptor', 180_000, 250)
    for (const [k, c] of clients.entries()) {
      c.onion.handle('bench', msg => {
        const seq = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).getUint32(0)
        arrivals.set(seq, [...(arrivals.get(seq) ?? []), now()])
        void k
      })
    }
    // every route of the warm-up is honest: streams open, the directory is used once
    const warm = ctx.progress.phase(`${label}: warm-up`, clients.length)
    for (const [k, c] of clients.entries()) {
      const data = new Uint8Array(8).fill(255)
      await c.onion.send(clients[(k + 1) % clients.length].peerId, data, { kind: 'warm', hops: p.hops })
      warm.tick()
    }
    warm.done()
    // only now do the bad relays turn bad, so scores start from the same place in both runs
    const badIds = schedule.bad.map(i => relays[i].peerId.toString())
    const honestIds = relays.filter((_, i) => !schedule.bad.includes(i)).map(r => r.peerId.toString())
    if (adversarial) {
      for (const i of schedule.bad) {
        if (p.mode === 'drop') { await makeDropper(relays[i]) } else { makeDelayer(relays[i], p.delay) }
      }
    }
    const start = now()
    const sample = (): void => {
      const bad: number[] = []
      const honest: number[] = []
      for (const c of clients) {
        for (const id of badIds) { bad.push(c.onion.reliability.score(id)) }
        for (const id of honestIds) { honest.push(c.onion.reliability.score(id)) }
      }
      scores.push({ t: now() - start, meanBad: mean(bad), meanHonest: mean(honest) })
    }
    sample()
    const sampler = setInterval(sample, 250)
    const inFlight: Array<Promise<void>> = []
    const run = ctx.progress.phase(`${label}: messages`, schedule.messages.length)
    try {
      for (const m of schedule.messages) {
        const wait = m.at - (now() - start)
        if (wait > 0) { await sleep(wait) }
        const data = new Uint8Array(64)
        new DataView(data.buffer).setUint32(0, m.seq)
        const o: Outcome = { seq: m.seq, sender: m.sender, sentAt: now(), attempts: 0 }
        outcomes.push(o)
        inFlight.push(clients[m.sender].onion.send(clients[(m.sender + 1) % clients.length].peerId, data, { kind: 'bench', hops: p.hops }).then(
          r => { o.ackedAt = now(); o.attempts = r.attempts },
          err => { o.error = String(err?.name ?? err); o.attempts = p.retries + 1 }
        ).finally(() => { run.tick() }))
      }
      await Promise.all(inFlight)
      // arrivals the acks never confirmed may still come (a delayed route)
      await waitUntil(() => outcomes.every(o => arrivals.has(o.seq)), 'the last arrivals', p.drain * 1000, 100).catch(() => {})
    } finally {
      clearInterval(sampler)
      sample()
      run.done()
    }
    return { outcomes, arrivals, scores, bad: badIds, start }
  } finally {
    await Promise.allSettled(peers.map(async x => x.stop()))
  }
}

interface Figures {
  deliveryRatio: number
  ackedRatio: number
  latencyMs: ReturnType<typeof distribution>
  routesPerMessage: number
  retriesFirstHalf: number
  retriesSecondHalf: number
  duplicates: number
  avoidedAfterMs: number | null
  finalBadScore: number
  finalHonestScore: number
}

function figures (r: RunResult): Figures {
  const n = r.outcomes.length
  const lat = r.outcomes.flatMap(o => { const t = r.arrivals.get(o.seq)?.[0]; return t != null ? [t - o.sentAt] : [] })
  const half = Math.floor(n / 2)
  const retries = (os: Outcome[]): number => os.length > 0 ? os.reduce((s, o) => s + o.attempts - 1, 0) / os.length : NaN
  const avoided = r.bad.length > 0 ? r.scores.find(s => s.meanBad < AVOIDED) : undefined
  const last = r.scores[r.scores.length - 1]
  return {
    deliveryRatio: n > 0 ? r.outcomes.filter(o => r.arrivals.has(o.seq)).length / n : NaN,
    ackedRatio: n > 0 ? r.outcomes.filter(o => o.ackedAt != null).length / n : NaN,
    latencyMs: distribution(lat),
    routesPerMessage: n > 0 ? r.outcomes.reduce((s, o) => s + o.attempts, 0) / n : NaN,
    retriesFirstHalf: retries(r.outcomes.slice(0, half)),
    retriesSecondHalf: retries(r.outcomes.slice(half)),
    duplicates: [...r.arrivals.values()].reduce((s, t) => s + t.length - 1, 0),
    avoidedAfterMs: avoided?.t ?? null,
    finalBadScore: last?.meanBad ?? NaN,
    finalHonestScore: last?.meanHonest ?? NaN
  }
}

export const adversarialScenario: Scenario<AdversarialParams> = {
  name: 'adversarial',
  summary: '1:1 onion messages with a fraction of the relays dropping or delaying every packet, vs the same run with every relay honest',
  supportsProcs: false,
  options: {
    relays: { type: 'int', default: 10, min: 4, max: 100, help: 'relay peers' },
    clients: { type: 'int', default: 4, min: 2, max: 50, help: 'client peers, each sending to the next in a ring' },
    bad: { type: 'number', default: 0.2, min: 0, max: 0.8, help: 'fraction of the relays that misbehave (seeded choice)' },
    mode: { type: 'enum', values: ['drop', 'delay'], default: 'drop', help: 'drop: swallow every packet; delay: hold every packet --delay ms' },
    delay: { type: 'int', default: 3000, min: 1, max: 600_000, help: 'milliseconds a delaying relay holds each packet (--mode delay)' },
    messages: { type: 'int', default: 200, min: 1, max: 100_000, help: 'messages sent' },
    rate: { type: 'number', default: 5, min: 0.01, max: 1000, help: 'messages per second over all clients (open loop)' },
    hops: { type: 'int', default: 3, min: 1, max: 5, help: 'relays on a route' },
    'ack-timeout': { type: 'int', default: 3000, min: 100, max: 600_000, help: 'milliseconds a sender waits for the ack before a new route' },
    retries: { type: 'int', default: 4, min: 0, max: 20, help: 'new routes after the first' },
    drain: { type: 'number', default: 10, min: 0, max: 3600, help: 'seconds to wait for arrivals after the last send settled' }
  },
  async run (ctx) {
    const p = ctx.params
    const schedule = plan(p, ctx.prng)
    ctx.progress.note(`adversarial: ${p.relays} relays (${schedule.bad.join(', ') || 'none'} ${p.mode === 'drop' ? 'drop' : `delay ${p.delay} ms`}), ${p.clients} clients, ${p.hops} hops`)
    const badRun = await runOnce(ctx, true, schedule)
    const honestRun = await runOnce(ctx, false, schedule)
    const bad = figures(badRun)
    const honest = figures(honestRun)
    const row = (label: string, what: string, help: string, unit: Comparison['unit'], a: number | null, b: number | null): Comparison =>
      compare({ label, metric: `murmur_bench_adversarial_${what}`, help, unit, values: { murmur: a, baseline: b } })
    const s = (ms: number | null): number | null => ms != null && Number.isFinite(ms) ? ms / 1000 : null
    const comparisons: Comparison[] = [
      row('delivery ratio', 'delivery_ratio', 'Messages that reached the destination\'s handler / messages sent; murmur: with bad relays, baseline: every relay honest', 'ratio', bad.deliveryRatio, honest.deliveryRatio),
      row('acknowledged ratio', 'acked_ratio', 'Sends that resolved (SURB ack came back) / messages sent', 'ratio', bad.ackedRatio, honest.ackedRatio),
      row('latency p50', 'latency_p50_seconds', 'Send → first arrival at the destination', 'seconds', s(bad.latencyMs.p50), s(honest.latencyMs.p50)),
      row('latency p99', 'latency_p99_seconds', 'p99 of the same', 'seconds', s(bad.latencyMs.p99), s(honest.latencyMs.p99)),
      row('routes tried per message', 'routes_per_message', 'Routes tried per message (1 = no retry)', 'count', bad.routesPerMessage, honest.routesPerMessage),
      row('retries per message, first half', 'retries_first_half', 'Retries per message over the first half of the messages', 'count', bad.retriesFirstHalf, honest.retriesFirstHalf),
      row('retries per message, second half', 'retries_second_half', 'Retries per message over the second half: lower than the first when senders learn to avoid the bad relays', 'count', bad.retriesSecondHalf, honest.retriesSecondHalf),
      row('duplicates at the destination', 'duplicates', 'Extra arrivals of a message at its destination\'s handler (a retry after a lost ack)', 'count', bad.duplicates, honest.duplicates),
      row('bad relays avoided after', 'avoided_after_seconds', `From the first message until the senders' mean reliability score of the bad relays is under ${AVOIDED}`, 'seconds', s(bad.avoidedAfterMs), null),
      row('bad relays\' score at the end', 'bad_relay_score', 'Senders\' mean reliability score of the relays that misbehave in the murmur run (the same relays, honest, in the baseline)', 'ratio', bad.finalBadScore, honest.finalBadScore),
      row('honest relays\' score at the end', 'honest_relay_score', 'Senders\' mean reliability score of the other relays', 'ratio', bad.finalHonestScore, honest.finalHonestScore)
    ]
    const samples: Table = { columns: ['system', 'seq', 'sender', 'sent_ms', 'acked_ms', 'arrival_ms', 'copies', 'routes', 'error'], rows: [] }
    const scores: Table = { columns: ['system', 't_ms', 'mean_bad_score', 'mean_honest_score'], rows: [] }
    const cdf: Array<{ system: string, latencyMs: number, fraction: number }> = []
    const scorePoints: Array<{ system: string, x: number, y: number }> = []
    for (const [system, r] of [['adversarial', badRun], ['honest', honestRun]] as const) {
      const lat: number[] = []
      for (const o of r.outcomes) {
        const t = r.arrivals.get(o.seq)
        if (t != null) { lat.push(t[0] - o.sentAt) }
        samples.rows.push([system, o.seq, o.sender, Math.round(o.sentAt - r.start), o.ackedAt != null ? Math.round(o.ackedAt - o.sentAt) : null, t != null ? Math.round(t[0] - o.sentAt) : null, t?.length ?? 0, o.attempts, o.error ?? null])
      }
      cdf.push(...cdfPoints(lat).map(x => ({ system, latencyMs: x.value, fraction: x.fraction })))
      for (const sc of r.scores) {
        scores.rows.push([system, Math.round(sc.t), sc.meanBad, sc.meanHonest])
        scorePoints.push({ system: `${system}: bad relays`, x: sc.t / 1000, y: sc.meanBad }, { system: `${system}: honest relays`, x: sc.t / 1000, y: sc.meanHonest })
      }
    }
    const sum = (f: Figures): Record<string, unknown> => ({ ...f })
    return {
      comparisons,
      figures: [],
      summary: { badRelays: schedule.bad, mode: p.mode, adversarial: sum(bad), honest: sum(honest) },
      notes: [
        `murmur = ${schedule.bad.length} of ${p.relays} relays ${p.mode === 'drop' ? 'dropping every packet' : `holding every packet ${p.delay} ms`}, baseline = the same seeded schedule with every relay honest; fresh peers for each, same code. Ratios are adversarial / honest.`,
        'All peers run in this process on loopback (loopback profile, DHT off, no onion diversity rule, no mixing delay). The bad relays turn bad after one honest warm-up message per client. Route choice uses the onion layer\'s own randomness, not the seed.',
        `"Avoided" is the first reading (every 250 ms) where the senders' mean score of the bad relays is under ${AVOIDED}: path selection weighs a relay by its score squared.`,
        'No link loss here: over TCP it is a retransmission delay that only packet-level emulation (netem, scripts/linkem.py in the netns testnet) reproduces honestly.'
      ],
      tables: { samples, scores },
      plots: [
        latencyCdfPlot('latency-cdf.svg', 'adversarial: send → first arrival', cdf),
        linePlot('relay-scores.svg', 'senders\' mean reliability score of bad and honest relays', { x: 'seconds since the first message', y: 'mean reliability score' }, scorePoints)
      ]
    }
  }
}
