/**
 * `churn`: group and 1:1 messages while peers crash and come back, next to
 * the same workload on the same seed with every peer up (the baseline).
 *
 * `--stores` store peers and `--nodes` user peers, whole Murmurs from
 * `createMurmur`, all in this process on loopback, every pair connected.
 * Every user is a member of one group and has the next user (in a ring) as a
 * contact, with a session and a mailbox set up before measuring. Then a
 * seeded open-loop workload (`--rate` messages per second for `--duration`
 * seconds, a `--group-share` of them group messages, the rest 1:1 to the
 * sender's contact) runs while, every `--interval` seconds, the next of a
 * seeded `--churn` fraction of the users crashes (`crash` in lib/peers.ts:
 * every connection aborted, no goodbye) and comes back `--downtime` seconds
 * later with the same home (identity, groups, sessions, mailboxes) and dials
 * the peers that are up, as it would its bootstrap list. The store peers
 * never crash: they are where offline messages wait.
 *
 * What counts: each (recipient, message) pair of a message whose send
 * resolved, split by the recipient's state when the message was sent
 * (online, or offline: crashed or not yet reconnected). A returning user's
 * catch-up time is from its restart to the arrival of the last message sent
 * to it while it was away.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createMurmur } from '../../src/app/index.ts'
import { createLogger, loopbackProfile } from '../../src/node/index.ts'
import { compare } from '../lib/figures.ts'
import { connectAll, crash, sleep, waitUntil } from '../lib/peers.ts'
import { latencyCdfPlot } from '../lib/plots.ts'
import { cdfPoints, distribution } from '../lib/stats.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Prng } from '../lib/prng.ts'
import type { Scenario, ScenarioContext, Table } from '../lib/scenario.ts'

export interface ChurnParams {
  nodes: number
  stores: number
  churn: number
  interval: number
  downtime: number
  duration: number
  rate: number
  groupShare: number
  size: number
  poll: number
  drain: number
  log?: string
}

type Kind = 'group' | 'dm'

interface Planned { seq: number, at: number, kind: Kind, sender: number }

interface Sent {
  seq: number
  kind: Kind
  sender: number
  sentAt: number
  /** recipient → online when the message was sent */
  recipients: Map<number, boolean>
  /** when the send resolved */
  doneAt?: number
  /** 1:1 only: how the sender's layer delivered it */
  via?: string
}

/** `startedAt`: the peer runs again; `restartedAt`: it has dialled the peers that are up */
interface Restart { user: number, killedAt: number, startedAt?: number, restartedAt?: number }

interface RunResult {
  sent: Sent[]
  failedSends: number
  /** `${recipient}:${seq}` → arrival times (more than one: a duplicate shown) */
  arrivals: Map<string, number[]>
  restarts: Restart[]
  start: number
}

const MESSAGE_PREFIX = 'churn-bench '
/** Setting the network up on a shared, loaded machine can be slow; measuring has its own --drain */
const SETUP_TIMEOUT_MS = 180_000

/** The whole schedule, drawn before any peer exists: both runs get the same one */
function plan (p: ChurnParams, prng: Prng): { messages: Planned[], churned: number[] } {
  const count = Math.max(1, Math.round(p.duration * p.rate))
  const messages: Planned[] = []
  for (let seq = 0; seq < count; seq++) {
    messages.push({ seq, at: seq * 1000 / p.rate, kind: prng.next() < p.groupShare ? 'group' : 'dm', sender: Math.floor(prng.next() * p.nodes) })
  }
  const users = Array.from({ length: p.nodes }, (_, i) => i)
  const churned: number[] = []
  for (let k = Math.round(p.churn * p.nodes); k > 0 && users.length > 0; k--) {
    churned.push(users.splice(Math.floor(prng.next() * users.length), 1)[0])
  }
  return { messages, churned }
}

function content (seq: number, size: number): string {
  const head = `${MESSAGE_PREFIX}${seq} `
  return head + 'x'.repeat(Math.max(0, size - head.length))
}

function seqOf (text: string): number | undefined {
  if (!text.startsWith(MESSAGE_PREFIX)) { return undefined }
  const n = Number.parseInt(text.slice(MESSAGE_PREFIX.length), 10)
  return Number.isInteger(n) ? n : undefined
}

/** One run: the workload, with churn or without */
async function runOnce (ctx: ScenarioContext<ChurnParams>, withChurn: boolean, schedule: ReturnType<typeof plan>): Promise<RunResult> {
  const p = ctx.params
  const root = await mkdtemp(join(tmpdir(), 'murmur-churn-'))
  const now = (): number => performance.now()
  const arrivals = new Map<string, number[]>()
  const users: Array<Murmur | undefined> = []
  const online: boolean[] = []
  const stores: Murmur[] = []
  const common: MurmurInit = { listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile(), directory: { dht: false }, dhtClientMode: true }
  // --log: the users' own logs, for finding out why a message came late or not at all
  const logFile = p.log != null ? pino.destination({ dest: p.log, sync: false, append: true }) : undefined
  const userInit = (i: number): MurmurInit => ({
    ...common,
    ...(logFile != null ? { logger: createLogger({ level: 'debug', bindings: { user: i, run: withChurn ? 'churn' : 'baseline' }, destination: logFile }) } : {}),
    home: join(root, `user-${i}`),
    name: `u${i}`,
    store: { transparent: true },
    contacts: { transparent: true, publishBundle: false, mailboxPollMs: p.poll, sendTimeoutMs: 5_000 },
    groupHistory: { debounceMs: 200 }
  })
  /** A user peer with its listeners set before it starts, so a fetch at start is seen */
  const startUser = async (i: number): Promise<Murmur> => {
    const m = await createMurmur(userInit(i))
    const record = (text: string): void => {
      const seq = seqOf(text)
      if (seq == null) { return }
      const key = `${i}:${seq}`
      arrivals.set(key, [...(arrivals.get(key) ?? []), now()])
    }
    m.groups.addEventListener('message', (e) => { if (!e.detail.entry.self) { record(e.detail.entry.content) } })
    m.contacts.addEventListener('message', (e) => { if (!e.detail.message.self) { record(e.detail.message.content) } })
    await m.start()
    return m
  }
  const restarts: Restart[] = []
  const sent: Sent[] = []
  let failedSends = 0
  const inFlight = new Set<Promise<void>>()
  const bar = ctx.progress.phase(`${withChurn ? 'churn' : 'baseline'}: peers`, p.stores + p.nodes)
  try {
    for (let i = 0; i < p.stores; i++) {
      const s = await createMurmur({ ...common, home: join(root, `store-${i}`), roles: ['store'], store: { transparent: true, syncIntervalMs: 200 } })
      await s.start()
      stores.push(s)
      bar.tick()
    }
    for (let i = 0; i < p.nodes; i++) {
      users.push(await startUser(i))
      online.push(true)
      bar.tick()
    }
    bar.done()
    const all = (): Murmur[] => [...stores, ...users.filter((u, i): u is Murmur => u != null && online[i])]
    await connectAll(all())
    await waitUntil(async () => {
      for (const u of users) {
        const known = await u!.store.storePeers()
        if (known.length < p.stores) { return false }
      }
      return true
    }, 'identify to tell every user which peers store', SETUP_TIMEOUT_MS)

    // one group of every user, created by user 0
    const setup = ctx.progress.phase(`${withChurn ? 'churn' : 'baseline'}: group and contacts`, p.nodes * 2)
    const group = await users[0]!.groups.create('churn-bench')
    setup.tick()
    for (let i = 1; i < p.nodes; i++) {
      await users[i]!.groups.join(await users[0]!.groups.invite(group.id))
      setup.tick()
    }
    const ids = users.map(u => u!.identity.id)
    await waitUntil(async () => {
      for (const u of users) {
        const known = new Set((await u!.groups.members(group.id)).map(m => m.id))
        if (!ids.every(id => known.has(id))) { return false }
      }
      return true
    }, 'every member to know every other', SETUP_TIMEOUT_MS, 250)
    // a ring of contacts, each with a session and (through the first receipt) a mailbox minted for its sender
    for (let i = 0; i < p.nodes; i++) {
      await users[i]!.contacts.add(await users[(i + 1) % p.nodes]!.contacts.card(), { name: 'next' })
      await users[i]!.contacts.send('next', 'hello')
    }
    for (let i = 0; i < p.nodes; i++) {
      await waitUntil(async () => (await users[i]!.contacts.inbox({ contact: 'next' })).some(m => m.self && m.delivered), `user ${i}'s first message to be acknowledged`, SETUP_TIMEOUT_MS, 200)
      setup.tick()
    }
    // the group carries messages before measuring: one from every member
    await Promise.all(users.map(async u => u!.groups.send(group.id, 'warm-up')))
    await waitUntil(async () => {
      for (const u of users) {
        if ((await u!.groups.read(group.id, { limit: 1000 })).entries.filter(e => e.content === 'warm-up').length < p.nodes) { return false }
      }
      return true
    }, 'the warm-up group messages to reach every member', SETUP_TIMEOUT_MS, 250)
    setup.done()

    const send = async (m: Planned): Promise<void> => {
      // a crashed sender cannot send: the next user who is up sends instead
      let sender = m.sender
      for (let k = 0; k < p.nodes && !online[sender]; k++) { sender = (sender + 1) % p.nodes }
      const peer = users[sender]
      if (peer == null || !online[sender]) { failedSends++; return }
      const recipients = new Map<number, boolean>()
      if (m.kind === 'group') {
        for (let r = 0; r < p.nodes; r++) { if (r !== sender) { recipients.set(r, online[r]) } }
      } else {
        const r = (sender + 1) % p.nodes
        recipients.set(r, online[r])
      }
      const entry: Sent = { seq: m.seq, kind: m.kind, sender, sentAt: now(), recipients }
      try {
        if (m.kind === 'group') {
          await peer.groups.send(group.id, content(m.seq, p.size))
        } else {
          entry.via = (await peer.contacts.send('next', content(m.seq, p.size))).via
        }
        entry.doneAt = now()
        sent.push(entry)
      } catch {
        failedSends++
      }
    }
    const kill = async (i: number): Promise<void> => {
      const peer = users[i]
      if (peer == null) { return }
      const r: Restart = { user: i, killedAt: now() }
      restarts.push(r)
      online[i] = false
      users[i] = undefined
      await crash(peer)
      await sleep(Math.max(0, p.downtime * 1000 - (now() - r.killedAt)))
      const back = await startUser(i)
      r.startedAt = now()
      users[i] = back
      // the peers that are up, as a bootstrap list would give them
      await Promise.allSettled(all().map(async o => back.node.connect(o.node.getMultiaddrs()[0])))
      r.restartedAt = now()
      online[i] = true
    }

    const start = now()
    const run = ctx.progress.phase(`${withChurn ? 'churn' : 'baseline'}: workload`, schedule.messages.length)
    // the churn timeline: one user down at a time, in turn, each back before the workload ends
    const killAt: Array<{ at: number, user: number }> = []
    if (withChurn && schedule.churned.length > 0) {
      for (let t = p.interval * 1000 / 2, k = 0; t + p.downtime * 1000 < p.duration * 1000; t += p.interval * 1000, k++) {
        killAt.push({ at: t, user: schedule.churned[k % schedule.churned.length] })
      }
    }
    const churning = (async () => {
      for (const k of killAt) {
        await sleep(k.at - (now() - start))
        // one at a time: a user still on its way back is not killed again
        await kill(k.user)
      }
    })()
    for (const m of schedule.messages) {
      const wait = m.at - (now() - start)
      if (wait > 0) { await sleep(wait) }
      const job = send(m).finally(() => { inFlight.delete(job) })
      inFlight.add(job)
      run.tick()
    }
    await churning
    await Promise.allSettled([...inFlight])
    run.done()

    // the drain: every expected arrival, or --drain seconds
    const expected = sent.flatMap(s => [...s.recipients.keys()].map(r => `${r}:${s.seq}`))
    const drain = ctx.progress.phase(`${withChurn ? 'churn' : 'baseline'}: drain`, expected.length)
    const deadline = now() + p.drain * 1000
    let got = 0
    while (now() < deadline) {
      got = expected.filter(k => arrivals.has(k)).length
      drain.set(got)
      if (got === expected.length) { break }
      await sleep(250)
    }
    // a little longer, for duplicates that would come after the last first copy
    await sleep(Math.min(3_000, p.poll * 1.5))
    drain.done()
    return { sent, failedSends, arrivals, restarts, start }
  } finally {
    await Promise.allSettled([...inFlight])
    await Promise.allSettled([...stores, ...users].map(async u => u?.stop()))
    await rm(root, { recursive: true, force: true }).catch(() => {})
    logFile?.flushSync()
  }
}

interface Figures {
  expected: number
  delivered: number
  online: { expected: number, delivered: number }
  offline: { expected: number, delivered: number }
  latencyMs: ReturnType<typeof distribution>
  latencyByKindMs: Record<Kind, ReturnType<typeof distribution>>
  duplicates: number
  catchUpMs: number[]
  restartsIncomplete: number
  viaMailbox: number
}

function figures (r: RunResult): Figures {
  const f: Figures = { expected: 0, delivered: 0, online: { expected: 0, delivered: 0 }, offline: { expected: 0, delivered: 0 }, latencyMs: distribution([]), latencyByKindMs: { group: distribution([]), dm: distribution([]) }, duplicates: 0, catchUpMs: [], restartsIncomplete: 0, viaMailbox: 0 }
  const lat: number[] = []
  const byKind: Record<Kind, number[]> = { group: [], dm: [] }
  for (const s of r.sent) {
    if (s.via === 'mailbox') { f.viaMailbox++ }
    for (const [recipient, wasOnline] of s.recipients) {
      const times = r.arrivals.get(`${recipient}:${s.seq}`)
      const part = wasOnline ? f.online : f.offline
      f.expected++
      part.expected++
      if (times == null) { continue }
      f.delivered++
      part.delivered++
      f.duplicates += times.length - 1
      if (wasOnline) {
        lat.push(times[0] - s.sentAt)
        byKind[s.kind].push(times[0] - s.sentAt)
      }
    }
  }
  f.latencyMs = distribution(lat)
  f.latencyByKindMs = { group: distribution(byKind.group), dm: distribution(byKind.dm) }
  for (const x of r.restarts) {
    const c = catchUp(r, x)
    if (c.ms == null) {
      f.restartsIncomplete++
    } else {
      f.catchUpMs.push(c.ms)
    }
  }
  return f
}

/**
 * The messages a user missed while down (sent to it between its crash and
 * its reconnection) and the time from its start to the last of them
 * arriving; null when one never arrived
 */
function catchUp (r: RunResult, x: Restart): { missed: number, ms: number | null } {
  const missed = r.sent.filter(s => s.recipients.get(x.user) === false && s.sentAt >= x.killedAt && (x.restartedAt == null || s.sentAt <= x.restartedAt))
  const last = missed.map(s => r.arrivals.get(`${x.user}:${s.seq}`)?.[0])
  if (x.startedAt == null || last.some(t => t == null)) {
    return { missed: missed.length, ms: null }
  }
  return { missed: missed.length, ms: Math.max(0, ...(last as number[]).map(t => t - x.startedAt!)) }
}

const ratioOf = (part: { expected: number, delivered: number }): number | null => part.expected > 0 ? part.delivered / part.expected : null

export const churnScenario: Scenario<ChurnParams> = {
  name: 'churn',
  summary: 'group and 1:1 delivery while a fraction of the peers crash and return (mailboxes, group history), vs the same workload with no churn',
  supportsProcs: false,
  options: {
    nodes: { type: 'int', default: 12, min: 3, max: 200, help: 'user peers (members of one group, each with the next as a contact)' },
    stores: { type: 'int', default: 3, min: 1, max: 20, help: 'store peers (mailboxes, group history); they never crash' },
    churn: { type: 'number', default: 0.33, min: 0, max: 1, help: 'fraction of the users that crash and return, one at a time, in turn' },
    interval: { type: 'number', default: 8, min: 0.5, max: 3600, help: 'seconds between two crashes' },
    downtime: { type: 'number', default: 5, min: 0, max: 3600, help: 'seconds a crashed user stays down' },
    duration: { type: 'number', default: 60, min: 1, max: 36_000, help: 'seconds of workload' },
    rate: { type: 'number', default: 2, min: 0.01, max: 1000, help: 'messages per second over the whole network' },
    'group-share': { type: 'number', default: 0.5, min: 0, max: 1, help: 'share of group messages (the rest are 1:1)' },
    size: { type: 'int', default: 256, min: 32, max: 30_000, help: 'characters per message' },
    poll: { type: 'int', default: 2000, min: 100, max: 600_000, help: 'milliseconds between a user\'s mailbox fetches (contacts mailboxPollMs)' },
    drain: { type: 'number', default: 60, min: 0, max: 3600, help: 'seconds to wait for the last deliveries after the workload' },
    log: { type: 'string', help: 'append the user peers\' debug logs (pino JSON lines) to this file' }
  },
  async run (ctx) {
    const p = ctx.params
    const schedule = plan(p, ctx.prng)
    ctx.progress.note(`churn: ${p.nodes} users + ${p.stores} stores; users ${schedule.churned.join(', ') || 'none'} crash in turn every ${p.interval} s for ${p.downtime} s`)
    const churnRun = await runOnce(ctx, true, schedule)
    const baseRun = await runOnce(ctx, false, schedule)
    const churned = figures(churnRun)
    const baseline = figures(baseRun)
    const row = (label: string, what: string, help: string, unit: Comparison['unit'], a: number | null, b: number | null): Comparison =>
      compare({ label, metric: `murmur_bench_churn_${what}`, help, unit, values: { murmur: a, baseline: b } })
    const s = (ms: number): number | null => Number.isFinite(ms) ? ms / 1000 : null
    const cu = distribution(churned.catchUpMs)
    const comparisons: Comparison[] = [
      row('delivery ratio (all)', 'delivery_ratio', 'Arrivals / (recipient, message) pairs of every message whose send resolved; murmur: under churn, baseline: no churn', 'ratio', ratioOf(churned), ratioOf(baseline)),
      row('delivery ratio, recipient online', 'online_delivery_ratio', 'The same, for recipients that were up when the message was sent', 'ratio', ratioOf(churned.online), ratioOf(baseline.online)),
      row('delivery ratio, recipient offline (mailbox / history)', 'offline_delivery_ratio', 'The same, for recipients that were down when the message was sent: delivered through mailboxes or group history on their return', 'ratio', ratioOf(churned.offline), ratioOf(baseline.offline)),
      row('latency p50 (online recipients)', 'latency_p50_seconds', 'Send → first arrival, recipients online at send time', 'seconds', s(churned.latencyMs.p50), s(baseline.latencyMs.p50)),
      row('latency p99 (online recipients)', 'latency_p99_seconds', 'p99 of the same', 'seconds', s(churned.latencyMs.p99), s(baseline.latencyMs.p99)),
      row('group latency p50 / online', 'group_latency_p50_seconds', 'Group messages: send → first arrival, online recipients', 'seconds', s(churned.latencyByKindMs.group.p50), s(baseline.latencyByKindMs.group.p50)),
      row('1:1 latency p50 / online', 'dm_latency_p50_seconds', '1:1 messages: send → first arrival, online recipient', 'seconds', s(churned.latencyByKindMs.dm.p50), s(baseline.latencyByKindMs.dm.p50)),
      row('duplicates shown', 'duplicates', 'Messages shown to the same recipient more than once (extra message events)', 'count', churned.duplicates, baseline.duplicates),
      row('catch-up after a restart p50', 'catch_up_p50_seconds', 'From a user\'s restart (running again) to the arrival of the last message sent to it while it was down or reconnecting (churn only)', 'seconds', s(cu.p50), null),
      row('catch-up after a restart max', 'catch_up_max_seconds', 'The slowest such catch-up (churn only)', 'seconds', s(cu.max), null)
    ]
    const samples: Table = { columns: ['system', 'seq', 'kind', 'sender', 'recipient', 'recipient_online', 'sent_ms', 'send_ms', 'via', 'latency_ms', 'copies'], rows: [] }
    const restarts: Table = { columns: ['system', 'user', 'killed_ms', 'started_ms', 'reconnected_ms', 'missed', 'caught_up_ms'], rows: [] }
    const cdf: Array<{ system: string, latencyMs: number, fraction: number }> = []
    for (const [system, r] of [['churn', churnRun], ['baseline', baseRun]] as const) {
      const lat: number[] = []
      for (const m of r.sent) {
        for (const [recipient, wasOnline] of m.recipients) {
          const times = r.arrivals.get(`${recipient}:${m.seq}`)
          if (times != null && wasOnline) { lat.push(times[0] - m.sentAt) }
          samples.rows.push([system, m.seq, m.kind, m.sender, recipient, wasOnline, Math.round(m.sentAt - r.start), m.doneAt != null ? Math.round(m.doneAt - m.sentAt) : null, m.via ?? null, times != null ? Math.round((times[0] - m.sentAt) * 10) / 10 : null, times?.length ?? 0])
        }
      }
      cdf.push(...cdfPoints(lat).map(x => ({ system, latencyMs: x.value, fraction: x.fraction })))
      for (const x of r.restarts) {
        const c = catchUp(r, x)
        const at = (t: number | undefined): number | null => t != null ? Math.round(t - r.start) : null
        restarts.rows.push([system, x.user, at(x.killedAt), at(x.startedAt), at(x.restartedAt), c.missed, c.ms != null ? Math.round(c.ms) : null])
      }
    }
    const part = (f: Figures): Record<string, unknown> => ({ expected: f.expected, delivered: f.delivered, online: f.online, offline: f.offline, duplicates: f.duplicates, latencyMs: f.latencyMs, latencyByKindMs: f.latencyByKindMs, catchUpMs: distribution(f.catchUpMs), restartsIncomplete: f.restartsIncomplete, dmViaMailbox: f.viaMailbox })
    return {
      comparisons,
      figures: [],
      summary: {
        churned: schedule.churned,
        crashes: churnRun.restarts.length,
        messages: schedule.messages.length,
        failedSends: { churn: churnRun.failedSends, baseline: baseRun.failedSends },
        churn: part(churned),
        baseline: part(baseline)
      },
      notes: [
        'murmur = the workload under churn, baseline = the same seeded workload with every peer up, same code, fresh peers; ratios are churn / no churn.',
        'All peers run in this process on loopback (loopback profile, DHT off, store and 1:1 in transparent mode: direct streams, no onion routes). A crash aborts every connection of the peer (no goodbye at any protocol level) and then stops it; what a layer writes on a clean stop is still written, unlike after a real SIGKILL. The netns testnet (scripts/testnet.js kill) is where a real kill -9 is tested.',
        `A message drawn for a crashed sender is sent by the next user that is up. Sends that failed (a sender crashing mid-send): churn ${churnRun.failedSends}, baseline ${baseRun.failedSends}; they are not counted as expected.`,
        `Offline recipients get 1:1 messages from their mailboxes (fetched at start and every ${p.poll} ms) and group messages from the store peers' group history when they reconnect. Crashes: ${churnRun.restarts.length}; catch-ups not complete by the end of the drain: ${churned.restartsIncomplete}.`
      ],
      tables: { samples, restarts },
      plots: [latencyCdfPlot('latency-cdf.svg', 'churn: send → arrival, recipients online at send time', cdf)]
    }
  }
}
