import { expect } from 'aegir/chai'
import { bundleKey, decodeBundle, signBundle } from '../../src/contacts/index.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'
import { RecordRejectedError } from '../../src/store/index.ts'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackOnionNet, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { DirectMessage } from '../../src/contacts/index.ts'
import type { StorePeer } from '../store/fixtures.ts'

const NET: MurmurInit = loopbackOnionNet({ ackTimeoutMs: 1_500, retries: 1 })

describe('contacts: prekey bundles on the owner\'s store nodes', function () {
  this.timeout(120_000)
  let stores: StorePeer[] = []
  let alice: Murmur | undefined
  let bob: Murmur | undefined
  let aliceHome: Awaited<ReturnType<typeof tempDir>>

  before(async () => {
    aliceHome = await tempDir()
    for (let i = 0; i < 3; i++) {
      stores.push(await storePeer({ ...NET, roles: ['store', 'relay'] }))
    }
  })

  after(async () => {
    await stopAll([alice, bob, ...stores.map(s => s.murmur)])
    for (const s of stores) { await s.cleanup() }
    stores = []
    await aliceHome.cleanup()
  })

  it('A publishes and leaves, with no DHT record; B starts a session from the store nodes\' copy; A returns and reads it; a forged bundle is refused', async () => {
    // publishBundle: false keeps alice's bundle out of the DHT: the store nodes are the only copy once she is gone
    alice = await loopbackPeer({ ...NET, home: aliceHome.dir, contacts: { publishBundle: false } })
    const all = [...stores.map(s => s.murmur), alice]
    await mesh(all)
    await waitFor(async () => (await alice?.contacts.publishNow('stores')) === true, 'alice\'s bundle on the store nodes', 20_000, 300)
    const card = await alice.contacts.card()
    const published = alice.contacts.currentBundle() as Uint8Array
    const aliceId = alice.identity.id
    await alice.stop()
    alice = undefined

    bob = await loopbackPeer({ ...NET, contacts: { sendTimeoutMs: 4_000, bundleLookupTimeoutMs: 5_000 } })
    await mesh([...stores.map(s => s.murmur), bob])
    await waitFor(() => [...stores.map(s => s.murmur), bob as Murmur].every(p => p.directory.descriptors().length >= 4), 'every peer to know the relays', 60_000, 250)
    const key = bundleKey(decodeBundle(published).identity.signingKey)
    // neither alice's node nor the DHT has it
    await expect(bob.node.libp2p.contentRouting.get(key, { signal: AbortSignal.timeout(5_000) })).to.eventually.be.rejected()
    expect((await bob.store.lookupRecord(key)).some(r => r.length === published.length && r.every((b, i) => b === published[i]))).to.equal(true)

    // a bundle for alice's key signed by mallory: every store node refuses it, alice's stays
    const mallory = MessagingIdentity.generate()
    const forged = signBundle(mallory, { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(5), oneTimePrekeys: [], peers: [bob.peerId.toString()], sequence: Date.now() + 1e6 })
    await expect(bob.store.publishRecord(key, forged)).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    for (const r of await bob.store.lookupRecord(key)) {
      expect(decodeBundle(r).identity.signingKey).to.deep.equal(decodeBundle(published).identity.signingKey)
    }

    await bob.contacts.add(card, { name: 'alice' })
    const sent = await bob.contacts.send('alice', 'found your bundle on your store nodes')
    expect(sent.via).to.equal('mailbox')

    // alice comes back (same home, same identity and prekeys) and reads it from her mailbox
    alice = await loopbackPeer({ ...NET, home: aliceHome.dir, contacts: { publishBundle: false, mailboxPollMs: 500 } })
    expect(alice.identity.id).to.equal(aliceId)
    const got: DirectMessage[] = []
    alice.contacts.addEventListener('message', (e) => { got.push(e.detail.message) })
    for (const s of stores) {
      await alice.node.connect(s.murmur.node.getMultiaddrs()[0])
    }
    await waitFor(() => got.length >= 1, 'alice to read bob\'s first message from her mailbox', 30_000, 200)
    expect(got.map(m => m.content)).to.deep.equal(['found your bundle on your store nodes'])
    const contacts = await alice.contacts.list()
    expect(contacts.map(c => c.id)).to.include(bob.identity.id)
  })
})
