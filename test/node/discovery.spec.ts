import { expect } from 'aegir/chai'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

describe('DHT discovery', function () {
  this.timeout(120_000)
  const N = 20
  let nodes: MurmurNode[] = []

  after(async () => {
    await stopAll(nodes)
  })

  it(`fills the routing tables of ${N} nodes that know only the bootstrap, and finds every peer`, async () => {
    const boot = await loopbackNode({ roles: ['bootstrap'] })
    nodes.push(boot)
    const bootAddr = boot.getMultiaddrs()[0].toString()

    const started = Date.now()
    const others = await Promise.all(Array.from({ length: N - 1 }, async () => loopbackNode({ bootstrap: [bootAddr] })))
    nodes = [boot, ...others]

    const want = Math.min(N - 1, 10)
    await waitFor(() => nodes.every(n => n.routingTableSize() >= want),
      `every routing table to hold ${want} peers (sizes: ${nodes.map(n => n.routingTableSize()).join(',')})`, 90_000)
    const filledMs = Date.now() - started

    for (const node of nodes) {
      expect(node.routingTableSize()).to.be.at.least(want)
      expect(node.libp2p.services.dht.getMode()).to.equal('server')
    }

    // every node looks every other node up through the DHT, not its peer store
    for (const node of nodes) {
      const found = await Promise.all(nodes.filter(n => n !== node).map(async other => node.findPeer(other.peerId, { useCache: false })))
      for (const [i, other] of nodes.filter(n => n !== node).entries()) {
        expect(found[i].peerId).to.equal(other.peerId.toString())
        expect(found[i].addresses.map(a => a.split('/p2p/')[0])).to.include(other.getMultiaddrs()[0].toString().split('/p2p/')[0])
      }
    }
    const sizes = nodes.map(n => n.routingTableSize())
    // eslint-disable-next-line no-console -- for the issue note: how long discovery took and how full the tables are
    console.info(`      ${N} nodes: routing tables >= ${want} after ${filledMs} ms; sizes min ${Math.min(...sizes)} max ${Math.max(...sizes)}; findPeer ${N * (N - 1)}/${N * (N - 1)} after ${Date.now() - started} ms`)
  })
})
