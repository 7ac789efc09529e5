import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { DirectTransport, StoreProtocolClient, envelopeId, generateMailboxKey, mailboxName, signProof } from '../../src/store/index.ts'
import { runCli, spawnDaemon, tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { Murmur } from '../../src/app/index.ts'

const LOOPBACK = ['--api', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0']

async function startStoreDaemon (home: string): Promise<{ running: ReturnType<typeof spawnDaemon>, peerId: string, addr: string }> {
  await rm(join(home, 'api'), { force: true })
  const running = spawnDaemon(['--home', home, '--roles', 'store', '--store-deposit-rate', '1000000', ...LOOPBACK])
  await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', `the store daemon to start (output: ${running.output()})`, 30_000)
  const id = await runCli(['id', '--home', home, '--json'])
  expect(id.code, id.stderr).to.equal(0)
  const { peerId, addresses } = JSON.parse(id.stdout)
  return { running, peerId, addr: addresses[0] }
}

describe('store node crash safety', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let client: Murmur | undefined
  let running: ReturnType<typeof spawnDaemon> | undefined

  before(async () => {
    tmp = await tempDir()
  })

  after(async () => {
    running?.child.kill('SIGKILL')
    await stopAll([client])
    await tmp.cleanup()
  })

  it('keeps every acknowledged deposit after kill -9 in the middle of a burst', async () => {
    const home = join(tmp.dir, 'store-home')
    const first = await startStoreDaemon(home)
    running = first.running
    client = await loopbackPeer()
    await client.node.connect(multiaddr(first.addr))
    const core = new StoreProtocolClient(new DirectTransport(client.node.libp2p), peerIdFromString(first.peerId))

    const key = generateMailboxKey()
    const mailbox = mailboxName(key.publicKey)
    const acked: string[] = []
    let attempted = 0
    const burst = { stop: false }
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !burst.stop; i++) {
        const payload = new TextEncoder().encode(`worker ${w} deposit ${i} ${'x'.repeat(1000)}`)
        attempted++
        try {
          await core.deposit([{ mailbox, id: envelopeId(payload), timestamp: BigInt(Date.now()) * 1000n + BigInt(w), expires: 0n, payload }], { signal: AbortSignal.timeout(5_000) })
          acked.push(Buffer.from(envelopeId(payload)).toString('hex'))
        } catch {
          return
        }
      }
    }
    const workers = Array.from({ length: 16 }, async (_, w) => worker(w))
    await waitFor(() => acked.length >= 300, 'some deposits to be acknowledged', 30_000, 5)
    running.child.kill('SIGKILL')
    await running.exited
    burst.stop = true
    await Promise.all(workers)
    expect(attempted).to.be.greaterThan(acked.length, 'deposits were in flight when the process died')

    const second = await startStoreDaemon(home)
    running = second.running
    await client.node.connect(multiaddr(second.addr))
    const storePeer = peerIdFromString(second.peerId)
    const again = new StoreProtocolClient(new DirectTransport(client.node.libp2p), storePeer)
    const proof = signProof(key, 'fetch', storePeer.toMultihash().bytes, await again.challenge())
    const kept = new Set<string>()
    let cursor = new Uint8Array(0)
    for (;;) {
      const page = await again.fetch(mailbox, proof, cursor, 1000)
      page.envelopes.forEach(e => kept.add(Buffer.from(e.id).toString('hex')))
      cursor = page.cursor
      if (!page.more) {
        break
      }
    }
    const lost = acked.filter(id => !kept.has(id))
    expect(lost, `${lost.length} of ${acked.length} acknowledged deposits lost`).to.deep.equal([])

    const status = await runCli(['store', 'status', '--home', home, '--json'])
    expect(status.code, status.stderr).to.equal(0)
    expect(JSON.parse(status.stdout)).to.include({ serving: true, mailboxes: 1, messages: kept.size })
  })
})

describe('murmur store commands', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let running: ReturnType<typeof spawnDaemon> | undefined

  before(async () => {
    tmp = await tempDir()
  })

  after(async () => {
    running?.child.kill('SIGKILL')
    await tmp.cleanup()
  })

  it('deposits, shows status, fetches with --ack and refuses a bad mailbox, against a store daemon', async () => {
    const home = join(tmp.dir, 'cli-store')
    const started = await startStoreDaemon(home)
    running = started.running
    const empty = JSON.parse((await runCli(['store', 'status', '--home', home, '--json'])).stdout)
    expect(empty).to.include({ serving: true, messages: 0 })

    const api = await readFile(join(home, 'api'), 'utf8')
    const token = await readFile(join(home, 'api-token'), 'utf8')
    const keys = await (await fetch(`${api.trim()}/v1/store/keys`, { method: 'POST', headers: { authorization: `Bearer ${token.trim()}` } })).json()

    const dep = await runCli(['store', 'deposit', keys.mailbox, 'hello from the CLI', '--home', home, '--json'])
    expect(dep.code, dep.stderr).to.equal(0)
    expect(JSON.parse(dep.stdout).storedOn).to.deep.equal([started.peerId])
    const bad = await runCli(['store', 'deposit', 'not-hex', 'x', '--home', home, '--json'])
    expect(bad.code).to.equal(1)
    expect(JSON.parse(bad.stderr).error.message).to.match(/mailbox/)

    const status = JSON.parse((await runCli(['store', 'status', '--home', home, '--json'])).stdout)
    expect(status).to.include({ mailboxes: 1, messages: 1 })
    expect(status.oldestMessage).to.be.a('string')

    const fetched = await runCli(['store', 'fetch', keys.seed, '--ack', '--home', home, '--json'])
    expect(fetched.code, fetched.stderr).to.equal(0)
    expect(JSON.parse(fetched.stdout).messages.map((m: { payload: string }) => Buffer.from(m.payload, 'base64').toString())).to.deep.equal(['hello from the CLI'])
    const again = JSON.parse((await runCli(['store', 'fetch', keys.seed, '--home', home, '--json'])).stdout)
    expect(again.messages).to.deep.equal([])
    expect(JSON.parse((await runCli(['store', 'status', '--home', home, '--json'])).stdout)).to.include({ messages: 0, tombstones: 1 })
  })
})
