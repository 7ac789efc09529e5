import { expect } from 'aegir/chai'
import { bundleKey, decodeBundle, decodeCard, encodeCard, signBundle } from '../../src/contacts/index.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { Murmur } from '../../src/app/index.ts'

describe('contacts: prekey bundles in the DHT', function () {
  this.timeout(90_000)
  let peers: Murmur[] = []

  afterEach(async () => {
    await stopAll(peers)
    peers = []
  })

  it('a bundle is published and found through the DHT, a first message set up from it; forged bundles are refused', async () => {
    // transparent: this is about bundles in the DHT, not about routes (three peers are too few for onion routes)
    const alice = await loopbackPeer({ contacts: { transparent: true } })
    const bob = await loopbackPeer({ contacts: { transparent: true, bundleLookupTimeoutMs: 10_000 } })
    const carol = await loopbackPeer({ contacts: { transparent: true } })
    peers = [alice, bob, carol]
    await bob.node.connect(alice.node.getMultiaddrs()[0])
    await carol.node.connect(alice.node.getMultiaddrs()[0])
    await carol.node.connect(bob.node.getMultiaddrs()[0])
    await waitFor(() => peers.every(p => p.node.routingTableSize() >= 2), 'full DHT routing tables', 20_000)
    await waitFor(async () => alice.contacts.publishNow(), 'alice\'s bundle to be stored in the DHT', 30_000, 500)

    const key = bundleKey(alice.identity.publicIdentity.signingKey)
    const found = decodeBundle(await carol.node.libp2p.contentRouting.get(key, { signal: AbortSignal.timeout(10_000) }))
    expect(found.peers).to.deep.equal([alice.peerId.toString()])

    // a bundle for alice's key signed by someone else: every node refuses it
    const mallory = MessagingIdentity.generate()
    const forged = signBundle(mallory, { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(5), oneTimePrekeys: [], peers: [carol.peerId.toString()], sequence: Date.now() + 1e6 })
    // (kad-dht's put resolves even when every remote refuses; what matters is what others then find)
    await carol.node.libp2p.contentRouting.put(key, forged, { signal: AbortSignal.timeout(10_000) }).catch(() => {})
    const stillAlice = decodeBundle(await bob.node.libp2p.contentRouting.get(key, { signal: AbortSignal.timeout(10_000) }))
    expect(stillAlice.peers).to.deep.equal([alice.peerId.toString()])
    expect(stillAlice.identity.signingKey).to.deep.equal(alice.identity.publicIdentity.signingKey)

    // bob holds a card naming no peer: the bundle (and where alice is) comes from the DHT
    const card = decodeCard(await alice.contacts.card())
    await bob.contacts.add(encodeCard({ ...card, peers: [] }), { name: 'alice' })
    const got: string[] = []
    alice.contacts.addEventListener('message', (e) => { got.push(e.detail.message.content) })
    const sent = await bob.contacts.send('alice', 'found you through the DHT')
    expect(sent.via).to.equal('live')
    await waitFor(() => got.length === 1, 'alice to get the message', 10_000)
    expect(got).to.deep.equal(['found you through the DHT'])
  })
})
