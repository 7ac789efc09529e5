import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { main } from '../../src/daemon/cli.ts'
import { mergeConfig } from '../../src/daemon/config.ts'
import { Daemon } from '../../src/daemon/daemon.ts'
import { loopbackProfile, silentLogger } from '../../src/node/index.ts'
import { captureIo, tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { Murmur } from '../../src/app/index.ts'

describe('daemon: onion commands and routes', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let daemon: Daemon
  let home: string
  const relays: Murmur[] = []
  const texts: string[] = []

  before(async () => {
    tmp = await tempDir()
    home = join(tmp.dir, 'home')
    await mkdir(home)
    // the default diversity rule (subnet16): loopback addresses are left out of it, so these routes can be built
    const layers = { onion: { ackTimeoutMs: 4_000 }, directory: { republishOnSubscribeMs: 300, dht: false } }
    daemon = await Daemon.start({
      home,
      config: mergeConfig({ api: '127.0.0.1:0', metrics: '127.0.0.1:0', listen: ['/ip4/127.0.0.1/tcp/0'], roles: ['relay'] }),
      logger: silentLogger(),
      node: { ...loopbackProfile(), ...layers }
    })
    for (let i = 0; i < 4; i++) {
      const peer = await loopbackPeer({ roles: ['relay'], ...layers })
      await peer.node.connect(daemon.node.getMultiaddrs()[0])
      relays.push(peer)
    }
    relays[3].onion.handle('text', msg => { texts.push(new TextDecoder().decode(msg.data)) })
    await waitFor(() => [daemon.murmur, ...relays].every(p => p.directory.descriptors().length === 5), 'the directory to fill', 30_000)
  })

  after(async () => {
    await stopAll(relays)
    await daemon?.stop()
    await tmp?.cleanup()
  })

  it('`murmur onion send` sends over a 3-hop route and reports the ack', async () => {
    const { io, out, err } = captureIo()
    const code = await main(['onion', 'send', relays[3].peerId.toString(), 'hello over onions', '--home', home, '--json'], io)
    expect(code, err()).to.equal(0)
    const result = JSON.parse(out())
    expect(result.fragments).to.equal(1)
    expect(texts).to.include('hello over onions')
  })

  it('`murmur onion send <contact>` sends to the contact\'s peer', async () => {
    await daemon.murmur.contacts.add(await relays[3].contacts.card(), { name: 'carol' })
    const { io, out, err } = captureIo()
    const code = await main(['onion', 'send', 'carol', 'hello, carol', '--home', home, '--json'], io)
    expect(code, err()).to.equal(0)
    expect(JSON.parse(out()).fragments).to.equal(1)
    expect(texts).to.include('hello, carol')
  })

  it('`murmur onion status --json` shows the epoch, counters, replay cache and known relays', async () => {
    // make the daemon relay something: a peer sends through routes that must use it (it is one of 4 relays for 3 hops)
    for (let i = 0; i < 6; i++) { await relays[0].onion.send(relays[1].peerId, new Uint8Array([i]), { hops: 3 }) }
    const { io, out, err } = captureIo()
    expect(await main(['onion', 'status', '--home', home, '--json'], io), err()).to.equal(0)
    const s = JSON.parse(out())
    expect(s.relay).to.equal(true)
    expect(s.epoch).to.equal(Math.floor(Date.now() / 3_600_000))
    expect(s.processed).to.be.greaterThan(0)
    expect(s.forwarded).to.be.greaterThan(0)
    expect(s.replayCacheSize).to.equal(s.processed)
    expect(s.knownRelays.length).to.equal(5)
    expect(s.dropped).to.be.an('object')
    const human = captureIo()
    expect(await main(['onion', 'status', '--home', home], human.io)).to.equal(0)
    expect(human.out()).to.match(/known relays:\s+5/)
  })

  it('exposes murmur_onion_* metrics', async () => {
    const text = await (await fetch(`${daemon.metricsUrl ?? ''}`)).text()
    expect(text).to.match(/murmur_onion_packets_processed_total \d+/)
    expect(text).to.include('murmur_onion_known_relays')
  })

  it('refuses a bad peer id with a usage error (exit 2) and an unknown peer with a clear error', async () => {
    const bad = captureIo()
    expect(await main(['onion', 'send', 'not-a-peer', 'x', '--home', home], bad.io)).to.equal(2)
    expect(bad.err()).to.include('Not a peer id')
    const unknown = captureIo()
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    expect(await main(['onion', 'send', stranger, 'x', '--home', home], unknown.io)).to.equal(1)
    expect(unknown.err()).to.include('No verified descriptor')
  })
})
