import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { MAX_CONNECTIONS } from '../../src/daemon/api/server.ts'
import { spawnDaemon, tempDir } from '../fixtures/cli.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'
import type { Socket } from 'node:net'

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
