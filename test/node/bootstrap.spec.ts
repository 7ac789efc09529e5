import { generateKeyPair } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

describe('joining through one bootstrap node', function () {
  this.timeout(120_000)
  let nodes: MurmurNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('every joiner finds peers beyond the bootstrap node', async () => {
    const minConnections = 4
    const boot = await loopbackNode({ name: 'boot', minConnections })
    nodes.push(boot)
    const bootAddr = boot.getMultiaddrs()[0].toString()

    // joiners come one by one, so most of them join after their first
    // self-query would have found a DHT of one
    for (let i = 0; i < 12; i++) {
      nodes.push(await loopbackNode({ name: `j${i}`, bootstrap: [bootAddr], minConnections }))
      await new Promise(resolve => setTimeout(resolve, 150))
    }
    const joiners = nodes.slice(1)
    const beyondBoot = (n: MurmurNode): number => n.libp2p.getPeers().filter(p => !p.equals(boot.peerId)).length

    await waitFor(() => joiners.every(n => beyondBoot(n) >= minConnections - 1),
      () => `every joiner to have ${minConnections - 1} peers besides the bootstrap node (have: ${joiners.map(beyondBoot).join(', ')})`, 60_000, 250)
    for (const n of joiners) {
      expect(beyondBoot(n), n.peerId.toString()).to.be.at.least(minConnections - 1)
    }
  })

  it('a joiner whose bootstrap dial failed dials the bootstrap node again and joins', async () => {
    // the bootstrap node is down when the joiner starts, then comes back on
    // the same address with the same key
    const key = await generateKeyPair('Ed25519')
    const first = await loopbackNode({ name: 'boot', privateKey: key })
    const bootAddr = first.getMultiaddrs()[0].toString()
    const port = bootAddr.split('/')[4]
    await first.stop()

    const joiner = await loopbackNode({ name: 'joiner', bootstrap: [bootAddr], minConnections: 2 })
    nodes.push(joiner)
    await new Promise(resolve => setTimeout(resolve, 2_000))
    expect(joiner.libp2p.getPeers()).to.have.length(0)

    const boot = await loopbackNode({ name: 'boot', privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    nodes.push(boot)
    await waitFor(() => joiner.libp2p.getConnections(boot.peerId).length > 0, 'the joiner to dial the bootstrap node again', 40_000, 250)
  })
})
