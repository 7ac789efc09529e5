import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { MAX_CONNECTIONS } from '../../src/daemon/api/server.ts'
import { DHT_PROTOCOL } from '../../src/node/index.ts'
import { FRAME_SIZE, ONION_PROTOCOL } from '../../src/onion/index.ts'
import { MAX_FRAME_BYTES } from '../../src/store/constants.ts'
import { envelopeId, STORE_PROTOCOL, StoreRequest, StoreResponse } from '../../src/store/index.ts'
import { spawnDaemon, tempDir } from '../fixtures/cli.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import { varint } from '../fixtures/wire.ts'
import type { MurmurNode } from '../../src/node/index.ts'
import type { Connection, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { AddressInfo, Socket } from 'node:net'

/** Resident memory of a process, from /proc (Linux) */
async function rssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1])
  return kb * 1024
}

/**
 * How much a flood may grow the daemon's RSS. Generous on purpose: V8 grows
 * its heap and Node keeps socket buffers after a burst of requests, tens of
 * MB on this machine. What it must catch is a flood that is held: the body
 * flood below offers 800 MB and the connection flood a thousand sockets, so
 * buffering or keeping either would blow far past it.
 */
const RSS_BOUND = 96 * 1024 * 1024

const MB = 1024 * 1024

describe('resource bounds of a running daemon', function () {
  this.timeout(180_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let daemon: ReturnType<typeof spawnDaemon>
  let pid: number
  let api: string
  let token: string
  let flooder: MurmurNode | undefined
  const figures: Record<string, number> = {}

  before(async () => {
    tmp = await tempDir()
    const home = join(tmp.dir, 'home')
    daemon = spawnDaemon(['--home', home, '--api', '127.0.0.1:0', '--metrics', 'off', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'])
    pid = daemon.child.pid as number
    await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', `the daemon to start (${daemon.output()})`)
    api = (await readFile(join(home, 'api'), 'utf8')).trim()
    token = (await readFile(join(home, 'api-token'), 'utf8')).trim()
    // warm up: the first requests load code that a baseline should already include
    for (let i = 0; i < 20; i++) {
      await health()
    }
  })

  after(async () => {
    await stopAll([flooder])
    daemon?.child.kill('SIGTERM')
    await daemon?.exited
    await tmp?.cleanup()
    // eslint-disable-next-line no-console
    console.log('      figures:', JSON.stringify(figures))
  })

  async function health (): Promise<number> {
    const res = await fetch(`${api}/v1/health`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
    await res.arrayBuffer()
    return res.status
  }

  it('cuts off a client that opens control-API connections without end, then serves again', async () => {
    const before = await rssBytes(pid)
    const { port } = new URL(api)
    const sockets: Socket[] = []
    let closedByServer = 0
    await Promise.all(Array.from({ length: 1000 }, async () => new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1')
      sockets.push(socket)
      socket.on('error', () => {})
      socket.on('close', () => { closedByServer++ })
      // a request that never finishes its headers (slowloris)
      socket.on('connect', () => { socket.write('GET /v1/health HTTP/1.1\r\nHost: localhost\r\n'); resolve() })
      socket.on('close', () => { resolve() })
    })))
    await new Promise(resolve => setTimeout(resolve, 1_500))
    const open = sockets.filter(s => !s.destroyed && s.readyState === 'open').length
    figures.apiFloodSocketsOpened = sockets.length
    figures.apiFloodSocketsHeld = open
    expect(open).to.be.at.most(MAX_CONNECTIONS)
    expect(closedByServer).to.be.at.least(1000 - MAX_CONNECTIONS)
    const during = await rssBytes(pid)
    for (const s of sockets) {
      s.destroy()
    }
    await waitFor(async () => (await health().catch(() => 0)) === 200, 'the API to answer again once the flood is gone', 15_000, 200)
    figures.apiFloodRssGrowthMB = Math.round((during - before) / MB)
    expect(during - before).to.be.below(RSS_BOUND)
  })

  it('refuses oversized bodies (413, 401 without the token) without holding them', async () => {
    const before = await rssBytes(pid)
    const body = Buffer.alloc(4 * MB, 'x')
    const statuses = new Map<number, number>()
    const url = `${api}/v1/connect`
    const auth = { Authorization: `Bearer ${token}` }
    const post = async (authorized: boolean): Promise<number> => fetch(url, {
      method: 'POST',
      headers: authorized ? auth : {},
      body,
      signal: AbortSignal.timeout(20_000)
    }).then(async res => { await res.arrayBuffer(); return res.status }, () => -1)
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => post(i % 2 === 0)))
      for (const status of results) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }
    const after = await rssBytes(pid)
    figures.bodyFloodOfferedMB = 200 * 4
    figures.bodyFloodRssGrowthMB = Math.round((after - before) / MB)
    // the daemon may cut the upload off before the client has sent it all (-1: reset); never 200 or 500
    expect([...statuses.keys()].every(s => [413, 401, -1].includes(s)), JSON.stringify([...statuses])).to.equal(true)
    expect(statuses.get(413) ?? 0).to.be.greaterThan(0)
    expect(after - before).to.be.below(RSS_BOUND)
    expect(await health()).to.equal(200)
  })

  it('limits a peer that opens libp2p streams without end, and stays up', async () => {
    const id = await (await fetch(`${api}/v1/id`, { headers: { Authorization: `Bearer ${token}` } })).json()
    const target = multiaddr(id.addresses[0])
    const before = await rssBytes(pid)
    flooder = await loopbackNode()
    const conn = await flooder.libp2p.dial(target)

    // Murmur's DHT protocol (limit 32 per connection) and ping (limit 2): open far more, close none
    const flood = async (protocol: string, count: number): Promise<{ opened: number, refused: number, stillOpen: number }> => {
      const results = await Promise.allSettled(Array.from({ length: count }, async () => conn.newStream(protocol, { signal: AbortSignal.timeout(20_000) })))
      const streams = results.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
      await new Promise(resolve => setTimeout(resolve, 1_000))
      return { opened: streams.length, refused: count - streams.length, stillOpen: streams.filter(s => s.status === 'open').length }
    }
    const kad = await flood('/murmur/kad/1.0.0', 300)
    const ping = await flood('/ipfs/ping/1.0.0', 100)
    Object.assign(figures, { kadStreamsAsked: 300, kadStreamsStillOpen: kad.stillOpen, pingStreamsAsked: 100, pingStreamsStillOpen: ping.stillOpen })
    expect(kad.stillOpen).to.be.at.most(32)
    expect(ping.stillOpen).to.be.at.most(2)

    // streams on a protocol nobody registered are refused in negotiation
    await expect(conn.newStream('/murmur/nothing/1.0.0')).to.eventually.be.rejected()

    const after = await rssBytes(pid)
    figures.streamFloodRssGrowthMB = Math.round((after - before) / MB)
    expect(after - before).to.be.below(RSS_BOUND)
    const status = await (await fetch(`${api}/v1/status`, { headers: { Authorization: `Bearer ${token}` } })).json()
    expect(status.peerId).to.equal(id.peerId)
  })
})

/** A free TCP port on loopback (for the metrics endpoint) */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** A deposit of `count` fresh envelopes of `size` random bytes into one random mailbox */
function depositFrame (count: number, size: number): Uint8Array {
  const mailbox = Uint8Array.from(randomBytes(32))
  const envelopes = Array.from({ length: count }, () => {
    const payload = Uint8Array.from(randomBytes(size))
    return { mailbox, id: envelopeId(payload), timestamp: BigInt(Date.now()) * 1000n, expires: 0n, payload }
  })
  return StoreRequest.encode({ type: StoreRequest.Type.DEPOSIT, deposit: { envelopes } })
}

/**
 * Writes `data` on a stream and waits until at most 256 KiB of it is still
 * queued on this side (libp2p's drain does not wait for the queue to empty),
 * so that what counts as sent has been taken by the muxer; false once the
 * stream is gone
 */
async function push (stream: Stream, data: Uint8Array): Promise<boolean> {
  try {
    if (stream.status !== 'open' || stream.writeStatus !== 'writable') {
      return false
    }
    stream.send(data)
    const deadline = Date.now() + 10_000
    while (stream.writeBufferLength > 256 * 1024 && stream.status === 'open' && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 2))
    }
    return stream.status === 'open' && stream.writeBufferLength <= 256 * 1024
  } catch {
    return false
  }
}

async function gone (stream: Stream, timeoutMs = 10_000): Promise<boolean> {
  if (stream.status !== 'open') {
    return true
  }
  return new Promise(resolve => {
    const t = setTimeout(() => { resolve(false) }, timeoutMs)
    stream.addEventListener('close', () => { clearTimeout(t); resolve(true) }, { once: true })
  })
}

/**
 * A hostile peer on 127.0.0.1 that speaks the real protocols to a daemon
 * serving as store node and relay. Each flood is sized so that holding what
 * it sends would grow the daemon far past the bound its test asserts.
 */
describe('resource bounds of a store node and relay against a hostile peer', function () {
  this.timeout(180_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let daemon: ReturnType<typeof spawnDaemon>
  let pid: number
  let api: string
  let token: string
  let metricsUrl: string
  let target: Multiaddr
  const hostile: MurmurNode[] = []
  const figures: Record<string, number | string> = {}

  before(async () => {
    tmp = await tempDir()
    const home = join(tmp.dir, 'home')
    metricsUrl = `http://127.0.0.1:${await freePort()}/metrics`
    daemon = spawnDaemon(['--home', home, '--api', '127.0.0.1:0', '--metrics', new URL(metricsUrl).host, '--roles', 'store,relay',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'])
    pid = daemon.child.pid as number
    await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', `the daemon to start (${daemon.output()})`)
    api = (await readFile(join(home, 'api'), 'utf8')).trim()
    token = (await readFile(join(home, 'api-token'), 'utf8')).trim()
    const id = await (await fetch(`${api}/v1/id`, { headers: { Authorization: `Bearer ${token}` } })).json()
    target = multiaddr(id.addresses[0])
  })

  after(async () => {
    await stopAll(hostile)
    daemon?.child.kill('SIGTERM')
    await daemon?.exited
    await tmp?.cleanup()
    // eslint-disable-next-line no-console
    console.log('      figures:', JSON.stringify(figures))
  })

  async function peer (): Promise<{ node: MurmurNode, conn: Connection }> {
    const node = await loopbackNode()
    hostile.push(node)
    return { node, conn: await node.libp2p.dial(target) }
  }

  async function refused (reason: string): Promise<number> {
    const text = await (await fetch(metricsUrl)).text()
    return Number(new RegExp(`^murmur_store_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  }

  async function onionDropped (reason: string): Promise<number> {
    const text = await (await fetch(metricsUrl)).text()
    return Number(new RegExp(`^murmur_onion_packets_dropped_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  }

  /** One store exchange on a fresh stream; undefined when the stream is refused or reset */
  async function exchange (conn: Connection, frame: Uint8Array): Promise<StoreResponse | undefined> {
    try {
      const stream = await conn.newStream(STORE_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(frame, { signal: AbortSignal.timeout(10_000) })
      const res = StoreResponse.decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
      await stream.close().catch(() => {})
      return res
    } catch {
      return undefined
    }
  }

  it('answers a deposit flood with the rate error, then cuts the peer off; other peers are still served', async () => {
    const before = await rssBytes(pid)
    const { conn } = await peer()
    const statuses: string[] = []
    let rateError = ''
    // 8 streams at a time, 256 envelopes each: the burst (5000) goes in ~20 requests, then ~4 a second; the rest is over the rate
    for (let round = 0; round < 60 && !statuses.includes('refused'); round++) {
      const results = await Promise.all(Array.from({ length: 8 }, async () => exchange(conn, depositFrame(256, 256))))
      for (const res of results) {
        statuses.push(res == null ? 'refused' : StoreResponse.Status[res.status])
        if (res?.status === StoreResponse.Status.RATE_LIMITED) {
          rateError = res.error
        }
      }
    }
    const firstRate = statuses.indexOf('RATE_LIMITED')
    const firstRefused = statuses.indexOf('refused')
    Object.assign(figures, { depositRequestsOk: statuses.filter(s => s === 'OK').length, depositRateErrors: statuses.filter(s => s === 'RATE_LIMITED').length, depositFirstRefusedAt: firstRefused })
    expect(statuses[0]).to.equal('OK')
    expect(firstRate, statuses.join(',')).to.be.greaterThan(0)
    expect(rateError).to.match(/deposits per second per peer/)
    expect(firstRefused, statuses.join(',')).to.be.greaterThan(firstRate)
    // cut off: a new store stream of that peer is reset at once, even a request it would otherwise be allowed
    expect(await exchange(conn, StoreRequest.encode({ type: StoreRequest.Type.CHALLENGE }))).to.equal(undefined)
    expect(await refused('rate-limit')).to.be.at.least(100)
    expect(await refused('cut-off')).to.be.at.least(1)

    // another peer (another mailbox) is served as before
    const other = await peer()
    const ok = await exchange(other.conn, depositFrame(3, 100))
    expect(ok?.status).to.equal(StoreResponse.Status.OK)
    expect(ok?.accepted).to.equal(3)
    // printed, not asserted: this flood is ~12 MB in all, too small for RSS to tell held data from a warming heap
    // (the floods below are sized past the bound)
    figures.depositFloodRssGrowthMB = Math.round((await rssBytes(pid) - before) / MB)
  })

  it('refuses store frames over the limit with TOO_LARGE and resets the stream, holding nothing', async () => {
    const { node, conn } = await peer()
    // a length prefix of 4 GiB: answered TOO_LARGE, then reset, before any data is kept
    const before0 = await refused('too-large')
    const prefixed = await conn.newStream(STORE_PROTOCOL)
    void push(prefixed, Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x10]))
    const seen: string[] = []
    prefixed.addEventListener('message', (e) => { seen.push(`data ${e.data.byteLength}`) })
    prefixed.addEventListener('close', (e) => { seen.push(`close ${e.error?.name}`) })
    const res = StoreResponse.decode((await lpStream(prefixed).read({ signal: AbortSignal.timeout(10_000) }).catch(err => { throw new Error(`${err.message}: ${seen.join(', ')}`) })).subarray())
    expect(res.status).to.equal(StoreResponse.Status.TOO_LARGE)
    expect(res.error).to.match(/at most 2097152 bytes/)
    expect(await gone(prefixed), 'the stream is reset').to.equal(true)
    // a real 3 MiB frame: the same answer, or, when more than a frame's worth arrives in one read before the
    // length is checked, the reader's buffer limit resets the stream first (counted the same)
    const big = await conn.newStream(STORE_PROTOCOL)
    const answer = lpStream(big).read({ signal: AbortSignal.timeout(10_000) }).then(b => StoreResponse.decode(b.subarray()).status, () => 'reset')
    void push(big, Uint8Array.from([...varint(3 * MB), ...new Uint8Array(3 * MB)]))
    expect(await answer).to.be.oneOf([StoreResponse.Status.TOO_LARGE, 'reset'])
    expect(await gone(big), 'the stream is reset').to.equal(true)
    figures.storeBigFrameAnswer = String(await answer)
    expect(await refused('too-large') - before0).to.equal(2)

    // pipelined junk frames just under the limit, never reading an answer: the reader holds at most one frame
    // per stream, a sender that runs ahead is reset, and it can only start over
    const before = await rssBytes(pid)
    const junk = Uint8Array.from([...varint(MAX_FRAME_BYTES - 8), ...new Uint8Array(MAX_FRAME_BYTES - 8).fill(0xff)])
    // long enough that the second half runs on a warm heap (RSS plateaus after ~200 MB: ~110-130 MB up, flat to 1.5 GB)
    const goal = 8 * RSS_BOUND
    // a bound against a hang, not a speed check: on a loaded machine 768 MiB through one daemon can take a minute
    const deadline = Date.now() + 120_000
    let sent = 0
    let streams = 0
    const failures: string[] = []
    let current = conn
    let redial: Promise<void> | undefined
    let redials = 0
    // RSS when half was sent (printed: what the second half added, on a warm heap)
    let half: Promise<number> | undefined
    // under this load the connection can go (a ping times out): a hostile peer just dials again
    const reconnect = async (): Promise<void> => {
      if (current.status === 'open') {
        return
      }
      redial ??= node.libp2p.dial(target).then(c => { current = c; redials++ }).finally(() => { redial = undefined })
      await redial.catch(() => {})
    }
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (sent < goal && Date.now() < deadline) {
        const stream = await current.newStream(STORE_PROTOCOL).catch((err: Error) => { failures.push(err.name) })
        if (stream == null) {
          await reconnect()
          continue
        }
        streams++
        while (sent < goal && await push(stream, junk)) {
          sent += junk.length
          half ??= sent >= goal / 2 ? rssBytes(pid) : undefined
        }
        stream.abort(new Error('done'))
      }
    }))
    const after = await rssBytes(pid)
    const middle = await (half ?? Promise.resolve(after))
    Object.assign(figures, { storeJunkSentMB: Math.round(sent / MB), storeJunkStreams: streams, storeJunkOpenFailures: failures.length, storeJunkRedials: redials, storeJunkRssGrowthMB: Math.round((after - before) / MB), storeJunkSecondHalfRssGrowthMB: Math.round((after - middle) / MB) })
    expect(sent, `junk sent before the deadline (${JSON.stringify(figures)})`).to.be.at.least(goal)
    // holding what was sent would take `sent` (~768 MiB). RSS is the allocator's high-water mark: 8 streams'
    // 2 MiB frames in flight, their garbage until a major GC, a heap warming up; it swings by ±50 MB from one
    // sample to the next (a 1.5 GB flood: up ~110 MB after 200 MB, then flat within that swing; the second half
    // of this one added 22-59 MB, printed). The claim: the flood grows RSS by less than a quarter of what it sent
    expect(after - before, `RSS growth (${JSON.stringify(figures)})`).to.be.below(2 * RSS_BOUND)
  })

  it('holds at most 32 store streams of one peer, and 256 onion streams of a connection', async () => {
    const { conn } = await peer()
    const open = async (protocol: string, count: number): Promise<number> => {
      // this side would stop at its own default of 64 outbound streams: lift it, so the daemon's limit is what holds
      const results = await Promise.allSettled(Array.from({ length: count }, async () => conn.newStream(protocol, { signal: AbortSignal.timeout(20_000), maxOutboundStreams: 10_000 })))
      await new Promise(resolve => setTimeout(resolve, 1_500))
      return results.filter(r => r.status === 'fulfilled' && r.value.status === 'open').length
    }
    const store = await open(STORE_PROTOCOL, 100)
    const onion = await open(ONION_PROTOCOL, 400)
    Object.assign(figures, { storeStreamsAsked: 100, storeStreamsOpen: store, onionStreamsAsked: 400, onionStreamsOpen: onion })
    expect(store).to.be.at.most(32)
    expect(onion).to.be.at.most(256)
    expect(onion, 'the hostile side opened more than the limit').to.be.at.least(200)
    expect(await refused('streams')).to.be.at.least(100 - 32)
  })

  it('resets an onion stream on a frame that is not one, and drops a junk packet flood without holding it', async () => {
    const { conn } = await peer()
    const bad = await conn.newStream(ONION_PROTOCOL)
    const frame = new Uint8Array(FRAME_SIZE)
    frame[0] = 9
    await push(bad, frame)
    expect(await gone(bad), 'a frame of an unknown version resets the stream').to.equal(true)
    expect(await onionDropped('frame')).to.be.at.least(1)

    // well-framed packets that open with no key: each costs the relay its crypto (~2000 a second here), so a
    // sender gets ahead of it only by the flow-control windows; were the relay to take bytes faster than it
    // processes them, the sender would push loopback speed (GBs in these seconds) and the relay would hold them
    const dropped = async (): Promise<number> => await onionDropped('mac') + await onionDropped('key') + await onionDropped('length')
    const droppedBefore = await dropped()
    const before = await rssBytes(pid)
    const burst = new Uint8Array(FRAME_SIZE * 64)
    for (let i = 0; i < 64; i++) {
      burst[i * FRAME_SIZE] = 1
      burst.set(randomBytes(64), i * FRAME_SIZE + 1)
    }
    let sent = 0
    const deadline = Date.now() + 6_000
    await Promise.all(Array.from({ length: 4 }, async () => {
      const stream = await conn.newStream(ONION_PROTOCOL)
      while (Date.now() < deadline && await push(stream, burst)) {
        sent += burst.length
      }
      stream.abort(new Error('done'))
    }))
    const after = await rssBytes(pid)
    const processed = (await dropped() - droppedBefore) * FRAME_SIZE
    const windows = 4 * 16 * MB // yamux's largest receive window, per stream
    Object.assign(figures, { onionJunkSentMB: Math.round(sent / MB), onionJunkProcessedMB: Math.round(processed / MB), onionJunkRssGrowthMB: Math.round((after - before) / MB) })
    expect(sent).to.be.greaterThan(0)
    expect(sent - processed).to.be.at.most(windows)
    expect(after - before).to.be.below(RSS_BOUND)
  })

  it('discards oversized gossipsub RPCs and resets oversized Kad messages, holding neither', async () => {
    const { conn } = await peer()
    const before = await rssBytes(pid)
    const closed: Record<string, boolean> = {}
    let offered = 0
    for (const protocol of ['/meshsub/1.1.0', DHT_PROTOCOL]) {
      // a 1 GiB length prefix, then 64 MiB of it: over both limits (4 MiB), never a message
      const stream = await conn.newStream(protocol)
      void push(stream, Uint8Array.from(varint(1024 * MB)))
      const chunk = new Uint8Array(MB)
      for (let pushed = 0; pushed < 64 && await push(stream, chunk); pushed++) {
        offered += MB
      }
      closed[protocol] = await gone(stream, 3_000)
    }
    const after = await rssBytes(pid)
    Object.assign(figures, { oversizedRpcOfferedMB: offered / MB, oversizedRpcRssGrowthMB: Math.round((after - before) / MB), gossipStreamReset: String(closed['/meshsub/1.1.0']) })
    // the DHT resets the stream; gossipsub drops the peer from its router and discards what follows, but
    // leaves the stream open (@libp2p/gossipsub's reader ends without closing it): not ours to change here
    expect(closed[DHT_PROTOCOL]).to.equal(true)
    expect(after - before).to.be.below(RSS_BOUND)
    const status = await fetch(`${api}/v1/status`, { headers: { Authorization: `Bearer ${token}` } })
    expect(status.status).to.equal(200)
  })
})
