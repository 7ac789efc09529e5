import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { main } from '../../src/daemon/cli.ts'
import { mergeConfig } from '../../src/daemon/config.ts'
import { Daemon } from '../../src/daemon/daemon.ts'
import { readToken } from '../../src/daemon/home.ts'
import { loopbackProfile, silentLogger } from '../../src/node/index.ts'
import { captureIo, tempDir } from '../fixtures/cli.ts'
import { loopbackNode, stopAll } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

describe('murmur ping and POST /v1/ping', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let home: string
  let daemon: Daemon
  let peer: MurmurNode
  let token: string

  before(async () => {
    tmp = await tempDir()
    home = join(tmp.dir, 'home')
    await mkdir(home)
    daemon = await Daemon.start({ home, config: mergeConfig({ api: '127.0.0.1:0', metrics: null, listen: ['/ip4/127.0.0.1/tcp/0'] }), logger: silentLogger(), node: loopbackProfile() })
    token = (await readToken(home)) ?? ''
    peer = await loopbackNode()
  })

  after(async () => {
    await daemon?.stop()
    await stopAll([peer])
    await tmp?.cleanup()
  })

  const post = async (body: unknown): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${daemon.apiUrl}/v1/ping`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) })
    return { status: res.status, json: await res.json() }
  }

  it('measures round trips to a peer, dialling it first', async () => {
    const { status, json } = await post({ addr: peer.getMultiaddrs()[0].toString(), count: 4 })
    expect(status).to.equal(200)
    expect(json.rttsMs).to.have.length(4)
    expect(json.lost).to.equal(0)
    expect(json.minMs).to.be.at.most(json.medianMs)
    expect(json.medianMs).to.be.at.most(json.maxMs)
  })

  it('refuses a bad count or address with 400', async () => {
    expect((await post({ addr: peer.getMultiaddrs()[0].toString(), count: 0 })).status).to.equal(400)
    expect((await post({ addr: peer.getMultiaddrs()[0].toString(), count: 21 })).status).to.equal(400)
    expect((await post({ addr: peer.getMultiaddrs()[0].toString(), count: '3' })).status).to.equal(400)
    expect((await post({ addr: '/ip4/127.0.0.1/tcp/1' })).status).to.equal(400)
  })

  it('murmur ping prints the round trips; --count is checked before anything is sent', async () => {
    const ok = captureIo()
    expect(await main(['ping', peer.getMultiaddrs()[0].toString(), '--count', '2', '--home', home, '--json'], ok.io), ok.err()).to.equal(0)
    expect(JSON.parse(ok.out()).rttsMs).to.have.length(2)
    const bad = captureIo()
    expect(await main(['ping', peer.getMultiaddrs()[0].toString(), '--count', 'many', '--home', home], bad.io)).to.equal(2)
    expect(bad.err()).to.match(/--count must be an integer from 1 to 20/)
  })
})
