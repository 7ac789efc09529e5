import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { runCli, spawnDaemon, tempDir } from '../fixtures/cli.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

const LOOPBACK = ['--api', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0']

describe('murmur CLI end to end', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let peer: MurmurNode | undefined
  let running: ReturnType<typeof spawnDaemon> | undefined

  before(async () => {
    tmp = await tempDir()
  })

  after(async () => {
    running?.child.kill('SIGKILL')
    await stopAll([peer])
    await tmp.cleanup()
  })

  it('init, daemon, status, peers, connect, SIGTERM, and a restart that keeps the peer id and known peers', async () => {
    const home = join(tmp.dir, 'home')

    const init = await runCli(['init', '--home', home, '--json'])
    expect(init.code, init.stderr).to.equal(0)
    const initJson = JSON.parse(init.stdout)
    expect(initJson.peerId).to.match(/^12D3Koo/)
    expect((await stat(join(home, 'api-token'))).mode & 0o777).to.equal(0o600)
    expect((await stat(join(home, 'peer.key'))).mode & 0o777).to.equal(0o600)

    running = spawnDaemon(['--home', home, ...LOOPBACK])
    await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', `the daemon to write its API address (output: ${running.output()})`)

    const status = await runCli(['status', '--home', home, '--json'])
    expect(status.code, status.stderr).to.equal(0)
    const s = JSON.parse(status.stdout)
    expect(s.peerId).to.equal(initJson.peerId)
    expect(s.dhtMode).to.equal('server')
    expect(s.peers).to.equal(0)

    const id = await runCli(['id', '--home', home, '--json'])
    const idJson = JSON.parse(id.stdout)
    expect(idJson.addresses).to.have.length.greaterThan(0)
    for (const addr of idJson.addresses) {
      expect(addr).to.match(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${initJson.peerId}$`))
    }

    // a second node, in this process, that the daemon dials
    peer = await loopbackNode()
    const connect = await runCli(['connect', peer.getMultiaddrs()[0].toString(), '--home', home, '--json'])
    expect(connect.code, connect.stderr).to.equal(0)
    expect(JSON.parse(connect.stdout).peerId).to.equal(peer.peerId.toString())

    const peers = await runCli(['peers', '--home', home, '--json'])
    expect(peers.code, peers.stderr).to.equal(0)
    const listed = JSON.parse(peers.stdout).peers
    expect(listed.map((p: any) => p.peerId)).to.deep.equal([peer.peerId.toString()])
    expect(listed[0].addresses[0]).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)

    // metrics: libp2p's and Murmur's own
    const config = running.output().split('\n').filter(l => l.includes('daemon ready')).map(l => JSON.parse(l))[0]
    const metrics = await (await fetch(config.metrics)).text()
    expect(metrics).to.include('murmur_peers_connected 1')
    expect(metrics).to.include('libp2p_')

    running.child.kill('SIGTERM')
    expect(await running.exited).to.equal(0)
    await expect(stat(join(home, 'api'))).to.eventually.be.rejected()

    // restart: same peer id, and the peer it knew is still known
    running = spawnDaemon(['--home', home, ...LOOPBACK])
    await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', 'the restarted daemon')
    const again = JSON.parse((await runCli(['status', '--home', home, '--json'])).stdout)
    expect(again.peerId).to.equal(initJson.peerId)
    expect(again.knownPeers).to.be.at.least(1)
    // it redials the peer it knew
    await waitFor(async () => JSON.parse((await runCli(['peers', '--home', home, '--json'])).stdout).peers.length === 1, 'the restarted daemon to redial its known peer')

    const stop = await runCli(['stop', '--home', home, '--json'])
    expect(stop.code, stop.stderr).to.equal(0)
    expect(await running.exited).to.equal(0)
    running = undefined
  })

  it('gives a clear error and exit code 1 when no daemon runs', async () => {
    const res = await runCli(['status', '--home', join(tmp.dir, 'nobody')])
    expect(res.code).to.equal(1)
    expect(res.stderr).to.include('No daemon is running')
  })
})
