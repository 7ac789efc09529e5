/**
 * `browser`: Chromium pages and a `murmur daemon --web`, in a network
 * namespace of the run's own (root and Debian's chromium needed; see
 * test/fixtures/netns.ts). `murmur` is the direct WebRTC path between two
 * pages, `baseline` the path through the daemon, alternating:
 *
 * gossip one-way, page A to page B on a topic only their direct connection
 * carries, against page C to the daemon to page B on a group topic the
 * daemon follows; round trips on an echo stream over the direct connection
 * against one over the daemon's circuit relay; and the time from page load
 * (navigation start) to the first message received, page B opened `--loads`
 * times cold (a fresh profile: a new peer) and reloaded as many times warm
 * (its peer back from IndexedDB).
 *
 * The daemon runs from dist/ (`npm run build` first); the page is rebuilt.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWebPage, browserTestsUnavailable, launchChromium, openPage, startDaemonInNs } from '../../test/fixtures/browser.ts'
import { createNetns } from '../../test/fixtures/netns.ts'
import { compare, metricName } from '../lib/figures.ts'
import { latencyCdfPlot } from '../lib/plots.ts'
import { cdfPoints, distribution } from '../lib/stats.ts'
import type { Comparison, Figure } from '../lib/figures.ts'
import type { Scenario, ScenarioContext, ScenarioOutput } from '../lib/scenario.ts'
import type { Browser, Page } from 'playwright-core'

export interface BrowserParams {
  messages: number
  size: number
  interval: number
  loads: number
}

const ECHO = '/murmur-bench/echo/1.0.0'

/**
 * What the round trips may send through the relay. libp2p's default limit is
 * 128 KiB per relayed connection; in runs here the relay cut the connection
 * after 100–150 round trips of 256 bytes (framing, window updates and pings
 * count too), so the budget stays well under half of it.
 */
const RELAYED_BYTES_BUDGET = 56 * 1024
/** Noise and yamux framing per message, roughly */
const FRAME_OVERHEAD = 64
const TOPIC = '/murmur-bench/browser/1'

/** B answers every echo stream, on limited (relayed) connections too */
async function serveEcho (page: Page): Promise<void> {
  await page.evaluate(async (proto) => {
    await window.murmurPage.murmur?.node.libp2p.handle(proto, (stream) => {
      void (async () => {
        for await (const chunk of stream) {
          stream.send(chunk)
        }
      })().catch(() => {})
    }, { runOnLimitedConnection: true })
  }, ECHO)
}

/** A opens an echo stream to `peer` over its relayed or its direct connection */
async function openEchoStream (page: Page, peer: string, path: 'direct' | 'relayed'): Promise<void> {
  await page.evaluate(async ([proto, p, which]) => {
    const conns = window.murmurPage.murmur?.node.libp2p.getConnections().filter(c => c.remotePeer.toString() === p && c.status === 'open') ?? []
    const conn = which === 'relayed'
      ? conns.find(c => c.limits != null)
      : conns.find(c => c.limits == null && /\/webrtc\/p2p\/[^/]+$/.test(c.remoteAddr.toString()))
    if (conn == null) {
      throw new Error(`no ${which} connection, have ${conns.map(c => c.remoteAddr.toString()).join(', ')}`)
    }
    const stream = await conn.newStream(proto, { runOnLimitedConnection: true })
    const echo = (window as any).echo ?? {}
    echo[which] = { stream, iterator: stream[Symbol.asyncIterator]() }
    ;(window as any).echo = echo
  }, [ECHO, peer, path] as const)
}

/** One round trip of `size` bytes on a path, timed in the page (ms) */
async function roundTrip (page: Page, path: 'direct' | 'relayed', size: number): Promise<number> {
  return page.evaluate(async ([p, n]) => {
    const { stream, iterator } = (window as any).echo[p]
    const payload = crypto.getRandomValues(new Uint8Array(n))
    const started = performance.now()
    stream.send(payload)
    let got = 0
    while (got < n) {
      const { value, done } = await iterator.next()
      if (done === true) {
        throw new Error('the echo stream ended')
      }
      got += value.byteLength
    }
    return performance.now() - started
  }, [path, size] as const)
}

/** The address other browsers dial: through the relay, then WebRTC */
async function webrtcAddress (page: Page): Promise<string> {
  await page.waitForFunction(() => window.murmurPage.murmur?.node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit/webrtc/')), undefined, { timeout: 30_000, polling: 5 })
  return page.evaluate(() => window.murmurPage.murmur?.node.getMultiaddrs().map(String).find(a => a.includes('/p2p-circuit/webrtc/')) ?? '')
}

/** Opens (or reloads) page B and times navigation start → peer started → first gossip message from A */
async function timeFirstMessage (a: Page, b: Page, url: string | undefined): Promise<{ startedMs: number, reservedMs: number, firstMessageMs: number }> {
  // a reloaded B is the same peer: A's connections to its previous page are dead, and closing them
  // gracefully would wait for a page that is gone
  const stale = url != null
    ? []
    : await a.evaluate((p) => window.murmurPage.murmur?.node.libp2p.getConnections().filter(c => c.remotePeer.toString() === p).map(c => c.id) ?? [],
      await b.evaluate(() => window.murmurPage.murmur?.peerId.toString() ?? ''))
  if (url != null) {
    await b.goto(url)
  } else {
    await b.reload()
  }
  await a.evaluate((ids) => {
    window.murmurPage.murmur?.node.libp2p.getConnections().filter(c => ids.includes(c.id)).forEach(c => { c.abort(new Error('the page reloaded')) })
  }, stale)
  await b.waitForFunction(() => window.murmurPage?.startedMs != null || window.murmurPage?.error != null, undefined, { timeout: 30_000, polling: 5 })
  await b.evaluate((t) => { window.murmurPage.murmur?.node.libp2p.services.pubsub.subscribe(t) }, TOPIC)
  const addr = await webrtcAddress(b)
  const reservedMs = await b.evaluate(() => performance.now())
  await a.evaluate(async (x) => {
    // B may be dialling A at the same moment (it redials the peers it knew): one handshake loses
    await window.murmurPage.murmur?.node.connect(x).catch(() => {})
  }, addr)
  try {
    await b.waitForFunction(() => window.murmurPage.firstMessageMs != null, undefined, { timeout: 30_000, polling: 5 })
  } catch (err: any) {
    // say what A saw of B, so a failed run can be understood
    const seen = await a.evaluate(([x, t]) => {
      const peer = x.split('/p2p/').pop() ?? ''
      const pubsub = window.murmurPage.murmur?.node.libp2p.services.pubsub
      return {
        connections: window.murmurPage.connections().filter(c => c.peerId === peer).map(c => c.kind),
        subscribed: pubsub?.getSubscribers(t).some(p => p.toString() === peer)
      }
    }, [addr, TOPIC])
    throw new Error(`page B got no message from A: ${err.message}; A saw ${JSON.stringify(seen)}`)
  }
  return { reservedMs, ...await b.evaluate(() => ({ startedMs: window.murmurPage.startedMs ?? NaN, firstMessageMs: window.murmurPage.firstMessageMs ?? NaN })) }
}

type GossipPath = 'direct' | 'daemon'

/** The topic of each gossip path: the daemon follows group topics only */
const GOSSIP_TOPICS: Record<GossipPath, string> = {
  direct: '/murmur-bench/direct/1',
  daemon: '/murmur/1/g/murmur-bench'
}

/**
 * B subscribes to both topics and notes when each message arrives; waits until
 * each path's publisher sees a peer on its topic and B hears it
 */
async function prepareGossip (publishers: Record<GossipPath, Page>, b: Page): Promise<void> {
  await b.evaluate((topics) => {
    const pubsub = window.murmurPage.murmur?.node.libp2p.services.pubsub
    const arrivals = new Map<string, number>()
    ;(window as any).arrivals = arrivals
    pubsub?.addEventListener('message', (evt) => {
      if (Object.values(topics).includes(evt.detail.topic)) {
        const at = performance.timeOrigin + performance.now()
        const key = new TextDecoder().decode(evt.detail.data).split(' ')[0]
        if (!arrivals.has(key)) {
          arrivals.set(key, at)
        }
      }
    })
    Object.values(topics).forEach(t => pubsub?.subscribe(t))
  }, GOSSIP_TOPICS)
  // warm up each path until B hears it (the mesh forms on heartbeats)
  for (const path of ['direct', 'daemon'] as const) {
    const a = publishers[path]
    await a.waitForFunction((t) => (window.murmurPage.murmur?.node.libp2p.services.pubsub.getSubscribers(t).length ?? 0) > 0, GOSSIP_TOPICS[path], { timeout: 30_000 })
    for (let i = 0; ; i++) {
      const key = `warmup-${path}-${i}`
      await a.evaluate(async ([t, k]) => { await window.murmurPage.murmur?.node.libp2p.services.pubsub.publish(t, new TextEncoder().encode(k)).catch(() => {}) }, [GOSSIP_TOPICS[path], key])
      await sleep(200)
      if (await b.evaluate((k) => (window as any).arrivals.has(k), key)) {
        break
      }
      if (i > 100) {
        throw new Error(`gossip on the ${path} path never reached page B`)
      }
    }
  }
}

/** One gossip message A → B on a path: one-way latency in ms */
async function gossipOnce (a: Page, b: Page, path: GossipPath, seq: number, size: number): Promise<number> {
  const key = `${path}-${seq}`
  const sentAt = await a.evaluate(async ([t, k, n]) => {
    const body = new TextEncoder().encode(`${k} `.padEnd(n, '.'))
    const at = performance.timeOrigin + performance.now()
    await window.murmurPage.murmur?.node.libp2p.services.pubsub.publish(t, body)
    return at
  }, [GOSSIP_TOPICS[path], key, size] as const).catch(async (err) => {
    const seen = await a.evaluate(() => window.murmurPage.connections().map(c => `${c.peerId.slice(-6)} ${c.kind}`))
    throw new Error(`gossip on the ${path} path, message ${seq}: ${err.message}; the publisher's connections: ${seen.join(', ')}`)
  })
  await b.waitForFunction((k) => (window as any).arrivals.has(k), key, { timeout: 15_000, polling: 5 }).catch(async (err) => {
    const seen = await a.evaluate((t) => ({
      connections: window.murmurPage.connections().map(c => `${c.peerId.slice(-6)} ${c.kind}`),
      subscribers: window.murmurPage.murmur?.node.libp2p.services.pubsub.getSubscribers(t).map(p => p.toString().slice(-6))
    }), GOSSIP_TOPICS[path])
    const receiver = await b.evaluate(() => window.murmurPage.connections().map(c => `${c.peerId.slice(-6)} ${c.kind}`))
    throw new Error(`gossip on the ${path} path, message ${seq}, never reached B: ${err.message}; publisher ${JSON.stringify(seen)}, B's connections ${receiver.join(', ')}`)
  })
  const receivedAt = await b.evaluate((k) => (window as any).arrivals.get(k) as number, key)
  return receivedAt - sentAt
}

export const browserScenario: Scenario<BrowserParams> = {
  name: 'browser',
  summary: 'Chromium pages: browser→browser gossip and round trips over direct WebRTC vs through the daemon; page load → first message (needs root and chromium)',
  supportsProcs: false,
  options: {
    messages: { type: 'int', default: 200, min: 1, max: 100_000, help: 'round trips on each path' },
    size: { type: 'int', default: 256, min: 1, max: 16_384, help: 'bytes per echo message' },
    interval: { type: 'int', default: 20, min: 0, max: 10_000, help: 'ms between round trips' },
    loads: { type: 'int', default: 5, min: 1, max: 100, help: 'cold page loads (and as many warm reloads) timed to the first message' }
  },

  async run (ctx: ScenarioContext<BrowserParams>): Promise<ScenarioOutput> {
    const { params, progress } = ctx
    const unavailable = browserTestsUnavailable()
    if (unavailable != null) {
      throw new Error(`the browser scenario cannot run here: ${unavailable}`)
    }
    buildWebPage()
    const dir = await mkdtemp(join(tmpdir(), 'murmur-bench-browser-'))
    const ns = await createNetns()
    let browser: Browser | undefined
    const daemon = await startDaemonInNs(ns, join(dir, 'daemon')).catch(async (err) => {
      await ns.close()
      throw err
    })
    try {
      browser = await launchChromium(ns, dir)
      const a = await openPage(browser, daemon.webUrl)
      await a.evaluate((t) => {
        const pubsub = window.murmurPage.murmur?.node.libp2p.services.pubsub
        pubsub?.subscribe(t)
        // a message every 5 ms to whoever subscribes: the first one B gets is what B waits for
        ;(window as any).loadPublisher = setInterval(() => { pubsub?.publish(t, new TextEncoder().encode(String(Date.now()))).catch(() => {}) }, 5)
      }, TOPIC)

      // page load → first message, cold and warm
      const loads: Array<{ kind: 'cold' | 'warm', startedMs: number, reservedMs: number, firstMessageMs: number }> = []
      const bar = progress.phase('page load → first message', params.loads * 2)
      for (let i = 0; i < params.loads; i++) {
        const context = await browser.newContext()
        const b = await context.newPage()
        loads.push({ kind: 'cold', ...await timeFirstMessage(a, b, daemon.webUrl) })
        bar.tick()
        loads.push({ kind: 'warm', ...await timeFirstMessage(a, b, undefined) })
        bar.tick()
        await context.close()
      }

      await a.evaluate(() => { clearInterval((window as any).loadPublisher) })

      // round trips: the same two pages, relayed and direct, alternating
      // B and C keep to the connections this run makes (A → B direct, C → daemon): a page short of
      // peers would otherwise look for more on its own, and C must reach B only through the daemon
      const b = await openPage(browser, `${daemon.webUrl}?minConnections=1`)
      await serveEcho(b)
      const peerB = await b.evaluate(() => window.murmurPage.murmur?.peerId.toString() ?? '')
      const addrB = await webrtcAddress(b)
      const circuitB = addrB.replace('/webrtc/', '/')
      await a.evaluate(async (x) => { await window.murmurPage.murmur?.node.connect(x) }, circuitB)
      await a.evaluate(async (x) => { await window.murmurPage.murmur?.node.connect(x) }, addrB)
      await openEchoStream(a, peerB, 'direct')
      await openEchoStream(a, peerB, 'relayed')
      const rtt: Record<'direct' | 'relayed', number[]> = { direct: [], relayed: [] }
      // the relay closes a relayed connection after 128 KiB (libp2p's default limit): stay well inside it
      const roundTrips = Math.min(params.messages, Math.floor(RELAYED_BYTES_BUDGET / (2 * (params.size + FRAME_OVERHEAD))))
      const trips = progress.phase('round trips', roundTrips * 2)
      for (let i = 0; i < roundTrips; i++) {
        // alternate which path goes first, so drift hits both alike
        const order: Array<'direct' | 'relayed'> = i % 2 === 0 ? ['direct', 'relayed'] : ['relayed', 'direct']
        for (const path of order) {
          rtt[path].push(await roundTrip(a, path, params.size))
          trips.tick()
          await sleep(params.interval)
        }
      }

      // gossip, one way: A → B on a topic only their direct connection carries, and C → daemon → B on a group
      // topic the daemon follows, C being a third page connected to the daemon alone
      const c = await openPage(browser, `${daemon.webUrl}?minConnections=1`)
      const publishers: Record<GossipPath, Page> = { direct: a, daemon: c }
      await prepareGossip(publishers, b)
      if (await c.evaluate((p) => window.murmurPage.connections().some(x => x.peerId === p), peerB)) {
        throw new Error('page C must reach page B only through the daemon')
      }
      const oneWay: Record<GossipPath, number[]> = { direct: [], daemon: [] }
      const gossip = progress.phase('gossip', params.messages * 2)
      for (let i = 0; i < params.messages; i++) {
        const order: GossipPath[] = i % 2 === 0 ? ['direct', 'daemon'] : ['daemon', 'direct']
        for (const path of order) {
          oneWay[path].push(await gossipOnce(publishers[path], b, path, i, params.size))
          gossip.tick()
          await sleep(params.interval)
        }
      }

      const direct = distribution(rtt.direct)
      const relayed = distribution(rtt.relayed)
      const gossipDirect = distribution(oneWay.direct)
      const gossipDaemon = distribution(oneWay.daemon)
      const comparisons: Comparison[] = [
        ...(['p50', 'p90', 'mean', 'max'] as const).map(q => compare({
          label: `gossip one-way ${q}`,
          metric: metricName('browser', `gossip_latency_${q}_seconds`),
          help: `${q} of browser→browser gossip latency (publish in A → message event in B)`,
          unit: 'seconds',
          values: { murmur: gossipDirect[q] / 1000, baseline: gossipDaemon[q] / 1000 }
        })),
        ...(['p50', 'p90', 'mean', 'max'] as const).map(q => compare({
          label: `round trip ${q}`,
          metric: metricName('browser', `round_trip_${q}_seconds`),
          help: `${q} of browser→browser round trips of --size bytes`,
          unit: 'seconds',
          values: { murmur: direct[q] / 1000, baseline: relayed[q] / 1000 }
        }))
      ]
      const figures: Figure[] = []
      for (const kind of ['cold', 'warm'] as const) {
        const mine = loads.filter(l => l.kind === kind)
        for (const [what, values] of [['peer_started', mine.map(l => l.startedMs)], ['first_message', mine.map(l => l.firstMessageMs)]] as const) {
          const d = distribution(values)
          figures.push({
            name: metricName('browser', `load_to_${what}_p50_seconds`),
            help: `median time from navigation start to ${what === 'peer_started' ? 'the peer started' : 'the first gossip message received'}`,
            labels: { load: kind },
            value: d.p50 / 1000
          })
        }
      }

      const loadSummary = Object.fromEntries((['cold', 'warm'] as const).map(kind => {
        const mine = loads.filter(l => l.kind === kind)
        return [kind, {
          peerStartedMs: distribution(mine.map(l => l.startedMs)),
          relayedAddressMs: distribution(mine.map(l => l.reservedMs)),
          firstMessageMs: distribution(mine.map(l => l.firstMessageMs))
        }]
      }))
      for (const kind of ['cold', 'warm'] as const) {
        const s = loadSummary[kind]
        progress.note(`page load → peer started (${kind}) p50 ${s.peerStartedMs.p50.toFixed(0)} ms; → relayed WebRTC address seen ${s.relayedAddressMs.p50.toFixed(0)} ms; → first message p50 ${s.firstMessageMs.p50.toFixed(0)} ms (min ${s.firstMessageMs.min.toFixed(0)}, max ${s.firstMessageMs.max.toFixed(0)})`)
      }

      return {
        comparisons,
        figures,
        summary: { roundTripMs: { direct, relayed }, roundTrips, gossipMs: { direct: gossipDirect, daemon: gossipDaemon }, loads: loadSummary },
        notes: [
          'All pages in one Chromium, inside one network namespace: no real network between them.',
          `Round trips: murmur = page A → page B → A over their direct WebRTC connection; baseline = the same pages through the daemon's circuit relay (WebSockets to the daemon on both sides). Timed in page A with performance.now(): one stream per path, one message in flight; ${roundTrips} per path (at most --messages, and within the relay's 128 KiB limit per relayed connection).`,
          'Gossip one-way: murmur = page A → page B on a topic only their direct WebRTC connection carries; baseline = page C → daemon → page B on a group topic (/murmur/1/g/…) the daemon follows for browsers, C connected to the daemon alone (WebSockets). Timed with performance.timeOrigin + now() in each page (one machine clock); one message in flight, the two paths alternating.',
          'Page load → first message includes the test driver noticing B\'s relayed WebRTC address and telling A to dial it (polled every 5 ms).',
          `Loads: ${params.loads} cold (a fresh browser profile, so a new peer) and ${params.loads} warm (a reload: the peer from IndexedDB). A publishes every 5 ms.`
        ],
        tables: {
          samples: {
            columns: ['path', 'round_trip_ms'],
            rows: [...rtt.direct.map(v => ['direct', v]), ...rtt.relayed.map(v => ['relayed', v])]
          },
          gossip: {
            columns: ['path', 'one_way_ms'],
            rows: [...oneWay.direct.map(v => ['direct', v]), ...oneWay.daemon.map(v => ['daemon', v])]
          },
          loads: {
            columns: ['load', 'peer_started_ms', 'relayed_address_ms', 'first_message_ms'],
            rows: loads.map(l => [l.kind, l.startedMs, l.reservedMs, l.firstMessageMs])
          }
        },
        plots: [latencyCdfPlot('round-trip-cdf.svg', 'Browser ↔ browser round trip',
          [...cdfPoints(rtt.direct).map(p => ({ system: 'direct WebRTC', latencyMs: p.value, fraction: p.fraction })),
            ...cdfPoints(rtt.relayed).map(p => ({ system: 'via daemon relay', latencyMs: p.value, fraction: p.fraction }))])]
      }
    } finally {
      await browser?.close()
      await daemon.stop()
      await ns.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
