/**
 * `store`: the store node's durable deposits and the owner's drain, against
 * raw LevelDB on the same disk in the same run.
 *
 * Deposits: `--deposits` sealed envelopes of `--size` bytes into one store
 * node (a whole Murmur peer with the store role, on loopback), in requests of
 * `--batch` envelopes with `--concurrency` requests in flight, each
 * acknowledged only after its LevelDB write is synced to disk. Baseline: the
 * same number of entries of the same size written with `level` in batches of
 * `--batch`, each batch with `sync: true`, in another directory of the same
 * disk.
 *
 * Drain: the owner fetches a `--backlog` message mailbox from that store node
 * (challenge, signed proof, paged FETCH over a direct stream). Baseline:
 * reading the same entries from `level` with an iterator. Both are warmed up
 * first on 500 messages that are not counted, then drained `--drains` times
 * (a fetch does not delete): the figure is the median, the first run apart.
 *
 * Recovery: a peer comes online (created, started, dialled to the store node,
 * identify) and fetches its whole backlog; the baseline is again the direct
 * `level` read.
 *
 * Onion drain (`--onion`): `--relays` relay-role peers join the same process,
 * and a peer whose store client is the OnionStoreTransport drains the same
 * backlog over onion routes of `--hops` relays (challenge, proof and every
 * page each a message with reply blocks, the pages cut to fit them), once
 * after the same warm-up. Reported next to the direct drain and to `level`.
 *
 * `--procs`: the store node and every relay each run in a process of their
 * own (benchmarks/store-peer-host.ts), the clients and the onion reader in
 * this one, so the reader's CPU time is its own; the other processes' CPU
 * time is read apart.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'
import { OnionStoreTransport } from '../../src/app/onion-store.ts'
import { DirectTransport, StoreProtocolClient, envelopeId, generateMailboxKey, mailboxName } from '../../src/store/index.ts'
import { compare, metricName } from '../lib/figures.ts'
import { LocalPeer, RemotePeer, cpuNow, startMurmur } from '../lib/store-peers.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { Envelope } from '../../src/store/index.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Prng } from '../lib/prng.ts'
import type { Scenario, Table } from '../lib/scenario.ts'
import type { NetPeer, StorePeerSpec, StoreRole } from '../lib/store-peers.ts'

export interface StoreParams {
  deposits: number
  size: number
  batch: number
  concurrency: number
  backlog: number
  drains: number
  onion?: boolean
  relays: number
  hops: number
  pageSurbs: number
}

/** How long the store node keeps a challenge in the onion phase */
const ONION_CHALLENGE_TTL_MS = 600_000

/** Loopback relays share 127.0.0.1; the directory converges without waiting for the DHT */
const ONION_NET = (hops: number): Pick<MurmurInit, 'onion' | 'directory'> => ({
  onion: { diversity: 'none', hops, ackTimeoutMs: 10_000, retries: 2 },
  directory: { dht: false, republishOnSubscribeMs: 300 }
})

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

function payloads (prng: Prng, n: number, size: number, tag: number): Array<Uint8Array<ArrayBuffer>> {
  return Array.from({ length: n }, (_, i) => {
    const p = new Uint8Array(size)
    for (let j = 0; j < size; j += 4) {
      new DataView(p.buffer).setUint32(j, prng.next() * 0xffffffff >>> 0)
    }
    // unique whatever the PRNG does
    new DataView(p.buffer).setUint32(0, i)
    p[4] = tag
    return p
  })
}

/** The shape of a store key: mailbox ‖ position ‖ id */
function rawKey (i: number, value: Uint8Array): Uint8Array {
  const key = new Uint8Array(72)
  new DataView(key.buffer).setBigUint64(32, BigInt(i))
  key.set(envelopeId(value), 40)
  return key
}

async function peer (home?: string, roles: StoreRole[] = [], extra: StorePeerSpec['extra'] = {}): Promise<Murmur> {
  return startMurmur({ home, roles, extra })
}

/** A store node or relay: in this process, or with --procs in a process of its own */
async function netPeer (procs: boolean, spec: StorePeerSpec): Promise<NetPeer> {
  return procs ? RemotePeer.start(spec) : new LocalPeer(await startMurmur(spec))
}

async function waitForStoreRole (m: Murmur, store: NetPeer): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if ((await m.store.storePeers()).some(p => p.equals(store.peerId))) {
      return
    }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error('identify did not tell the client that the store node stores')
}

let retries = 0

/** Lost packets cost a silence each before the resend: how many asks and fragments went again, and every drop by reason */
async function onionLosses (net: NetPeer[]): Promise<{ retried: number, dropped: Record<string, number> }> {
  const dropped: Record<string, number> = {}
  let retried = 0
  for (const st of await Promise.all(net.map(async m => m.onionLosses()))) {
    retried += st.retried
    for (const [reason, n] of Object.entries(st.dropped)) {
      dropped[reason] = (dropped[reason] ?? 0) + n
    }
  }
  return { retried, dropped }
}

/**
 * A dropped connection (libp2p's connection monitor aborts a connection whose
 * ping times out on a loaded machine) is retried and counted, as a client would
 */
async function withRetry<T> (fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err: any) {
      if (attempt >= 3 || String(err?.name).startsWith('Store') || String(err?.name).startsWith('Mailbox')) {
        throw err
      }
      retries++
    }
  }
}

export const storeScenario: Scenario<StoreParams> = {
  name: 'store',
  summary: 'durable deposits/s into one store node and backlog drain time, against raw level on the same disk',
  supportsProcs: true,
  options: {
    deposits: { type: 'int', default: 20_000, min: 100, max: 1_000_000, help: 'envelopes deposited in the throughput phase' },
    size: { type: 'int', default: 1024, min: 1, max: 65_536, help: 'payload bytes per envelope' },
    batch: { type: 'int', default: 64, min: 1, max: 256, help: 'envelopes per DEPOSIT request (and per level batch in the baseline)' },
    concurrency: { type: 'int', default: 8, min: 1, max: 64, help: 'DEPOSIT requests in flight' },
    backlog: { type: 'int', default: 10_000, min: 100, max: 100_000, help: 'messages in the mailbox drained in the fetch and recovery phases' },
    drains: { type: 'int', default: 5, min: 1, max: 50, help: 'times the backlog is drained (a fetch does not delete); the figure is the median, the first is reported apart' },
    onion: { type: 'boolean', help: 'also drain the backlog over onion routes (OnionStoreTransport) through --relays relay peers (in this process, or each in its own with --procs)' },
    relays: { type: 'int', default: 5, min: 2, max: 50, help: 'relay-role peers of the onion phase' },
    hops: { type: 'int', default: 2, min: 1, max: 5, help: 'relays per onion route in the onion phase' },
    'page-surbs': { type: 'int', default: 32, min: 2, max: 64, help: 'the most reply blocks one onion page request carries (its page is what they carry)' }
  },
  async run ({ params: p, prng, progress, mode }) {
    const procs = mode === 'procs'
    const dir = await mkdtemp(join(tmpdir(), 'murmur-bench-store-'))
    const samples: Table = { columns: ['phase', 'system', 'seconds', 'items', 'per_second'], rows: [] }
    const record = (phase: string, system: string, seconds: number, items: number): void => {
      samples.rows.push([phase, system, seconds, items, items / seconds])
    }
    const peers: NetPeer[] = []
    retries = 0
    try {
      // --- baseline deposits: raw level, batched, synced --------------------------------
      const raw = new Level<Uint8Array, Uint8Array>(join(dir, 'raw-level'), { keyEncoding: 'view', valueEncoding: 'view' })
      await raw.open()
      const rawPayloads = payloads(prng.fork('raw'), p.deposits, p.size, 1)
      let bar = progress.phase('baseline: level writes', p.deposits)
      let t0 = performance.now()
      let next = 0
      await Promise.all(Array.from({ length: p.concurrency }, async () => {
        while (next < p.deposits) {
          const start = next
          next = Math.min(next + p.batch, p.deposits)
          await raw.batch(rawPayloads.slice(start, next).map((value, i) => ({ type: 'put' as const, key: rawKey(start + i, value), value })), { sync: true })
          bar.tick(next - start)
        }
      }))
      const rawWriteSeconds = (performance.now() - t0) / 1000
      bar.done()
      record('deposit', 'baseline', rawWriteSeconds, p.deposits)

      // --- murmur deposits: one store node, durable acks ---------------------------------
      // with --onion the store node also publishes its onion descriptor quickly (it answers over onion routes anyway)
      // and keeps a challenge for 10 minutes, so the onion drain is timed as one proof of possession like the direct
      // drain (with the default 30 s the client proves again when a challenge goes stale and goes on from its cursor)
      // with --procs the store node runs in a process of its own (so do the onion phase's relays)
      const store = await netPeer(procs, { home: join(dir, 'store-home'), roles: ['store'], extra: p.onion === true ? { ...ONION_NET(p.hops), store: { challengeTtlMs: ONION_CHALLENGE_TTL_MS } } : {} })
      peers.push(store)
      const client = await peer()
      peers.push(new LocalPeer(client))
      await client.node.connect(store.addr)
      await waitForStoreRole(client, store)
      const core = new StoreProtocolClient(new DirectTransport(client.node.libp2p), store.peerId)
      const throughputMailbox = mailboxName(generateMailboxKey().publicKey)
      const depositPayloads = payloads(prng.fork('deposits'), p.deposits, p.size, 2)
      let ts = BigInt(Date.now()) * 1000n
      const envelopes: Envelope[] = depositPayloads.map(payload => ({ mailbox: throughputMailbox, id: envelopeId(payload), timestamp: ts++, expires: 0n, payload }))
      bar = progress.phase('murmur: durable deposits', p.deposits)
      t0 = performance.now()
      next = 0
      await Promise.all(Array.from({ length: p.concurrency }, async () => {
        while (next < p.deposits) {
          const start = next
          next = Math.min(next + p.batch, p.deposits)
          const slice = envelopes.slice(start, next)
          await withRetry(async () => core.deposit(slice))
          bar.tick(slice.length)
        }
      }))
      const depositSeconds = (performance.now() - t0) / 1000
      bar.done()
      record('deposit', 'murmur', depositSeconds, p.deposits)

      // --- the backlog: deposited, then drained --------------------------------------------
      const owner = generateMailboxKey()
      const backlogPayloads = payloads(prng.fork('backlog'), p.backlog, p.size, 3)
      const backlogEnvelopes: Envelope[] = backlogPayloads.map(payload => ({ mailbox: mailboxName(owner.publicKey), id: envelopeId(payload), timestamp: ts++, expires: 0n, payload }))
      bar = progress.phase('fill the backlog', p.backlog)
      for (let i = 0; i < backlogEnvelopes.length; i += 256) {
        await withRetry(async () => core.deposit(backlogEnvelopes.slice(i, i + 256)))
        bar.tick(Math.min(256, backlogEnvelopes.length - i))
      }
      bar.done()

      // warm-up (not counted): the first fetch of a process pays for JIT and connection set-up
      const warm = generateMailboxKey()
      const warmPayloads = payloads(prng.fork('warm-up'), 500, p.size, 4)
      await core.deposit(warmPayloads.slice(0, 250).map(payload => ({ mailbox: mailboxName(warm.publicKey), id: envelopeId(payload), timestamp: ts++, expires: 0n, payload })))
      await core.deposit(warmPayloads.slice(250).map(payload => ({ mailbox: mailboxName(warm.publicKey), id: envelopeId(payload), timestamp: ts++, expires: 0n, payload })))
      await client.store.fetch(warm, { from: 'first' })
      for await (const entry of raw.iterator({ limit: 500 })) {
        void entry
      }

      progress.note('draining')
      // a fetch leaves the mailbox as it is (only an ack deletes): drain it --drains times, alternating with the baseline
      const drainRuns: number[] = []
      const rawRuns: number[] = []
      for (let run = 0; run < p.drains; run++) {
        t0 = performance.now()
        const drained = await client.store.fetch(owner, { from: 'first' })
        drainRuns.push((performance.now() - t0) / 1000)
        if (drained.length !== p.backlog) {
          throw new Error(`drained ${drained.length} of ${p.backlog} messages`)
        }
        record('drain', 'murmur', drainRuns[run], p.backlog)

        t0 = performance.now()
        let read = 0
        for await (const [, value] of raw.iterator({ limit: p.backlog })) {
          read += value.length > 0 ? 1 : 0
        }
        rawRuns.push((performance.now() - t0) / 1000)
        record('drain', 'baseline', rawRuns[run], read)
      }
      const drainSeconds = median(drainRuns)
      const rawReadSeconds = median(rawRuns)
      await raw.close()

      // --- onion drain: the same backlog over onion routes (before recovery acks it) ----------------------------------
      let onion: { seconds: number, cpuSeconds: number, storeCpuSeconds?: number, relaysCpuSeconds?: number, warmSeconds: number, exchanges: number, shared: number, relays: number, retried: number, dropped: Record<string, number> } | undefined
      if (p.onion === true) {
        bar = progress.phase('onion: relays and directory', p.relays)
        const relays: NetPeer[] = []
        // processes of their own start side by side (each spends its first seconds loading modules); in this
        // process one after another, as ever
        const startRelay = async (): Promise<void> => {
          relays.push(await netPeer(procs, { roles: ['relay'], extra: ONION_NET(p.hops) }))
          bar.tick(1)
        }
        let failed: PromiseSettledResult<void> | undefined
        if (procs) {
          failed = (await Promise.allSettled(Array.from({ length: p.relays }, startRelay))).find(s => s.status === 'rejected')
        } else {
          for (let i = 0; i < p.relays; i++) {
            await startRelay()
          }
        }
        peers.push(...relays)
        if (failed?.status === 'rejected') {
          throw failed.reason
        }
        // a drain of a big backlog is thousands of exchanges: the whole fetch must not time out
        const reader = await peer(undefined, [], { ...ONION_NET(p.hops), store: { transparent: false, requestTimeoutMs: 3_600_000, onionPageSurbs: p.pageSurbs } })
        const readerPeer = new LocalPeer(reader)
        peers.push(readerPeer)
        const net = [store, ...relays, readerPeer]
        for (let i = 0; i < net.length; i++) {
          for (let j = i + 1; j < net.length; j++) {
            await net[i].connect(net[j].addr)
          }
        }
        await waitForStoreRole(reader, store)
        const deadline = Date.now() + 60_000
        while (!(await Promise.all(net.map(async m => m.descriptors()))).every(n => n >= net.length)) {
          if (Date.now() > deadline) {
            throw new Error('the onion peers did not learn every descriptor within 60 s')
          }
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        bar.done()
        const transport = reader.store.client.transport
        if (!(transport instanceof OnionStoreTransport)) {
          throw new Error('the onion reader has no OnionStoreTransport')
        }
        progress.note('onion drain')
        t0 = performance.now()
        await reader.store.fetch(warm, { from: 'first' })
        const warmSeconds = (performance.now() - t0) / 1000
        t0 = performance.now()
        // on a shared machine the wall clock also counts other processes' turns: the CPU time says what the drain
        // itself costs. This process holds the reader (and, without --procs, the store node and every relay too);
        // with --procs each other peer's process is read apart
        const others = procs ? [store, ...relays] : []
        const othersCpu0 = await Promise.all(others.map(async m => m.cpuSeconds()))
        const cpu0 = cpuNow()
        const drained = await reader.store.fetch(owner, { from: 'first' })
        const seconds = (performance.now() - t0) / 1000
        const cpuSeconds = cpuNow() - cpu0
        const othersCpu = (await Promise.all(others.map(async m => m.cpuSeconds()))).map((c, i) => c - othersCpu0[i])
        const storeCpuSeconds = procs ? othersCpu[0] : undefined
        const relaysCpuSeconds = procs ? othersCpu.slice(1).reduce((a, b) => a + b, 0) : undefined
        if (drained.length !== p.backlog) {
          throw new Error(`drained ${drained.length} of ${p.backlog} messages over onion routes`)
        }
        if (transport.counts.direct > 0) {
          throw new Error(`${transport.counts.direct} store exchanges went direct: not an onion measurement`)
        }
        record('drain', 'murmur-onion', seconds, p.backlog)
        const { retried, dropped } = await onionLosses(net)
        onion = { seconds, cpuSeconds, storeCpuSeconds, relaysCpuSeconds, warmSeconds, exchanges: transport.counts.onion, shared: transport.counts.shared, relays: p.relays, retried, dropped }
      }

      // --- recovery: a peer comes online and takes its whole backlog -----------------------
      progress.note('recovery')
      t0 = performance.now()
      const back = await peer()
      peers.push(new LocalPeer(back))
      const startedSeconds = (performance.now() - t0) / 1000
      await back.node.connect(store.addr)
      await waitForStoreRole(back, store)
      const connectedSeconds = (performance.now() - t0) / 1000
      const got = await back.store.fetch(owner, { from: 'first' })
      const recoverySeconds = (performance.now() - t0) / 1000
      if (got.length !== p.backlog) {
        throw new Error(`recovered ${got.length} of ${p.backlog} messages`)
      }
      record('recovery', 'murmur', recoverySeconds, p.backlog)
      t0 = performance.now()
      await back.store.ack(owner, got.map(m => m.id))
      const ackSeconds = (performance.now() - t0) / 1000
      record('ack', 'murmur', ackSeconds, p.backlog)

      const comparisons: Comparison[] = [
        compare({ label: 'durable deposits/s', metric: metricName('store', 'deposits_per_second'), help: `${p.size}-byte envelopes acknowledged after a synced write, per second (baseline: level batches with sync)`, unit: 'per_second', values: { murmur: p.deposits / depositSeconds, baseline: p.deposits / rawWriteSeconds } }),
        compare({ label: `drain ${p.backlog} messages (median)`, metric: metricName('store', 'drain_seconds'), help: 'time to fetch a whole backlog with proof of possession, median of --drains (baseline: level iterator)', unit: 'seconds', values: { murmur: drainSeconds, baseline: rawReadSeconds } }),
        compare({ label: `drain ${p.backlog} messages (first)`, metric: metricName('store', 'first_drain_seconds'), help: 'the first of the drains', unit: 'seconds', values: { murmur: drainRuns[0], baseline: rawRuns[0] } }),
        ...(onion != null
          ? [
              compare({ label: `drain ${p.backlog} over onion routes`, metric: metricName('store', 'onion_drain_seconds'), help: `time to fetch the whole backlog over ${p.hops}-relay onion routes with reply blocks (baseline: level iterator)`, unit: 'seconds', values: { murmur: onion.seconds, baseline: rawReadSeconds } }),
              compare({ label: 'drain: onion / direct', metric: metricName('store', 'onion_over_direct_drain_seconds'), help: 'the onion drain against the direct drain of the same backlog (median)', unit: 'seconds', values: { murmur: onion.seconds, baseline: drainSeconds } })
            ]
          : []),
        compare({ label: 'recovery (online → backlog)', metric: metricName('store', 'recovery_seconds'), help: 'from creating a peer to holding its whole backlog (baseline: level iterator)', unit: 'seconds', values: { murmur: recoverySeconds, baseline: rawReadSeconds } })
      ]
      return {
        comparisons,
        figures: [
          ...(onion != null ? [{ name: metricName('store', 'onion_drain_cpu_seconds'), help: procs ? 'CPU time of the reader\'s process during the onion drain (store node and relays in processes of their own)' : 'CPU time of the process (store node, relays and reader) during the onion drain', labels: { system: 'murmur' }, value: onion.cpuSeconds }] : []),
          ...(onion?.storeCpuSeconds != null ? [{ name: metricName('store', 'onion_drain_store_cpu_seconds'), help: 'CPU time of the store node\'s process during the onion drain (--procs)', labels: { system: 'murmur' }, value: onion.storeCpuSeconds }] : []),
          ...(onion?.relaysCpuSeconds != null ? [{ name: metricName('store', 'onion_drain_relays_cpu_seconds'), help: 'CPU time of the relays\' processes, summed, during the onion drain (--procs)', labels: { system: 'murmur' }, value: onion.relaysCpuSeconds }] : []),
          { name: metricName('store', 'ack_seconds'), help: 'time to ack a whole backlog on its store node', labels: { system: 'murmur' }, value: ackSeconds },
          { name: metricName('store', 'recovery_start_seconds'), help: 'of the recovery: creating and starting the peer', labels: { system: 'murmur' }, value: startedSeconds },
          { name: metricName('store', 'recovery_connect_seconds'), help: 'of the recovery: until connected and told the store node stores (identify)', labels: { system: 'murmur' }, value: connectedSeconds - startedSeconds },
          { name: metricName('store', 'recovery_fetch_seconds'), help: 'of the recovery: fetching the backlog', labels: { system: 'murmur' }, value: recoverySeconds - connectedSeconds }
        ],
        summary: { retries, onion, recoveryStartSeconds: startedSeconds, recoveryConnectSeconds: connectedSeconds - startedSeconds, recoveryFetchSeconds: recoverySeconds - connectedSeconds, depositsPerSecond: p.deposits / depositSeconds, rawWritesPerSecond: p.deposits / rawWriteSeconds, drainSeconds, rawReadSeconds, drainRuns, rawRuns, recoverySeconds, ackSeconds },
        notes: [
          procs ? 'The store node in a process of its own, the client in this process, on 127.0.0.1 over TCP + noise + yamux (transparent mode: no onion route).' : 'One store node and one client in this process, on 127.0.0.1 over TCP + noise + yamux (transparent mode: no onion route).',
          `Deposits go in requests of ${p.batch} envelopes with ${p.concurrency} in flight; the store node groups concurrent writes into one synced LevelDB batch.`,
          `Requests retried after a dropped connection: ${retries}.`,
          'The baseline writes the same number of entries of the same size in batches of the same size, each synced, with the same concurrency, on the same disk.',
          ...(onion != null
            ? [`Onion drain: the store node keeps a challenge ${ONION_CHALLENGE_TTL_MS / 1000} s instead of 30 s, because one drain uses one challenge and would outlive it.`, `Onion drain: ${onion.relays} relay peers ${procs ? 'each in a process of its own' : 'in this process'}, ${p.hops} relays per route, no mixing delay; ${onion.exchanges} onion exchanges (a page holds what its reply blocks carry), ${onion.shared} of them could not keep clear of deposit relays; warm-up fetch of 500 took ${onion.warmSeconds.toFixed(2)} s.`, `Onion drain: ${onion.cpuSeconds.toFixed(2)} s of CPU ${procs ? `in the reader's process (store node ${onion.storeCpuSeconds?.toFixed(2)} s, relays ${onion.relaysCpuSeconds?.toFixed(2)} s together)` : 'in this process (reader, store node and relays)'} in ${onion.seconds.toFixed(2)} s; ${onion.retried} asks or fragments sent again after a silence; drops: ${JSON.stringify(onion.dropped)}.`]
            : [])
        ],
        tables: { samples },
        plots: []
      }
    } finally {
      for (const m of peers.reverse()) {
        await Promise.resolve(m.stop()).catch(() => {})
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}
