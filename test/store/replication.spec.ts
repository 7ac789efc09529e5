import { expect } from 'aegir/chai'
import { DirectTransport, StoreProtocolClient, generateMailboxKey, mailboxName, signProof, envelopeId } from '../../src/store/index.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from './fixtures.ts'
import type { StorePeer } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { ReplicaState } from '../../src/store/index.ts'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

function held (peer: StorePeer, mailbox: Uint8Array): number {
  return peer.murmur.store.server?.db.mailboxes.get(Buffer.from(mailbox).toString('hex'))?.messages ?? 0
}

describe('store replication', function () {
  this.timeout(120_000)
  const stores: StorePeer[] = []
  const others: Murmur[] = []

  afterEach(async () => {
    await stopAll([...others, ...stores.map(s => s.murmur)])
    await Promise.all(stores.map(async s => s.cleanup()))
    stores.length = 0
    others.length = 0
  })

  it('delivers 100 messages to a peer that was offline, once each and in order, after the sender left and a store node died', async () => {
    stores.push(await storePeer(), await storePeer(), await storePeer())
    const alice = await loopbackPeer()
    others.push(alice)
    await mesh([...stores.map(s => s.murmur), alice])

    const bobKey = generateMailboxKey()
    const bobMailbox = mailboxName(bobKey.publicKey)
    for (let i = 0; i < 100; i++) {
      const receipt = await alice.store.deposit(bobMailbox, bytes(`message ${i}`))
      expect(receipt.storedOn.length).to.be.at.least(2)
    }
    await alice.stop()
    // the first store node Alice used dies
    const [dead, ...alive] = stores
    await dead.murmur.stop()

    const bob = await loopbackPeer()
    others.push(bob)
    for (const s of alive) {
      await bob.node.connect(s.murmur.node.getMultiaddrs()[0])
    }
    await waitFor(async () => (await bob.store.storeNodes(bobMailbox)).length === 2, 'Bob to learn the two live store nodes', 10_000)

    const messages = await bob.store.fetch(bobKey)
    expect(messages.map(m => text(m.payload))).to.deep.equal(Array.from({ length: 100 }, (_, i) => `message ${i}`))
    await bob.store.ack(bobKey, messages.map(m => m.id))
    expect(await bob.store.fetch(bobKey)).to.deep.equal([])
  })

  it('never takes a client that deposited for a store node, even after a restart (libp2p lists a protocol for every peer that opens a stream of it)', async () => {
    stores.push(await storePeer(), await storePeer(), await storePeer())
    const alice = await loopbackPeer()
    others.push(alice)
    await mesh([...stores.map(s => s.murmur), alice])
    const mailbox = mailboxName(generateMailboxKey().publicKey)
    await alice.store.deposit(mailbox, bytes('hello'))
    await alice.store.fetch(generateMailboxKey()).catch(() => {})
    const ids = (peers: Array<{ toString(): string }>): string[] => peers.map(p => p.toString()).sort()
    const storeIds = (but: StorePeer): string[] => ids(stores.filter(s => s !== but).map(s => s.murmur.peerId))
    for (const s of stores) {
      expect(ids(await s.murmur.store.storePeers()), 'the store peers a store node knows').to.deep.equal(storeIds(s))
      expect(ids(await s.murmur.store.storeNodes(mailbox))).to.not.include(alice.peerId.toString())
    }
    // the same after a restart, from what the peer store kept
    const [s1] = stores
    await s1.murmur.stop()
    const back = await storePeer({}, s1.home)
    stores[0] = { ...back, cleanup: s1.cleanup }
    expect(ids(await back.murmur.store.storePeers()), 'what a restarted store node remembers').to.deep.equal(storeIds(stores[0]))
    await mesh([...stores.map(s => s.murmur), alice])
    await alice.store.deposit(mailbox, bytes('again'))
    expect(ids(await back.murmur.store.storePeers())).to.deep.equal(storeIds(stores[0]))
  })

  it('brings a store node that was down up to date, and spreads an ack to every replica, one that was down included', async () => {
    stores.push(await storePeer(), await storePeer(), await storePeer())
    const alice = await loopbackPeer()
    others.push(alice)
    await mesh([...stores.map(s => s.murmur), alice])
    const [s1, s2, s3] = stores
    const key = generateMailboxKey()
    const mailbox = mailboxName(key.publicKey)

    // s3 is down during the deposits
    await s3.murmur.stop()
    const payloads = Array.from({ length: 50 }, (_, i) => bytes(`catch-up ${i}`))
    for (const p of payloads) {
      await alice.store.deposit(mailbox, p)
    }
    expect(held(s1, mailbox)).to.equal(50)
    expect(held(s2, mailbox)).to.equal(50)

    const back = await storePeer({}, s3.home)
    stores[2] = { ...back, cleanup: s3.cleanup }
    await mesh([s1.murmur, s2.murmur, back.murmur])
    await waitFor(() => held(stores[2], mailbox) === 50, 'the restarted store node to catch up by anti-entropy', 20_000)
    // replicas that agree (once identify has given both the same view of who stores) exchange bucket digests only
    let round: ReplicaState | undefined
    const rounds: ReplicaState[] = []
    await waitFor(async () => {
      round = await s1.murmur.store.server!.syncWith(back.murmur.peerId)
      rounds.push(round)
      return round.lastResult === 'in-sync'
    }, () => `a sync round between agreeing replicas to find nothing to repair (last rounds: ${JSON.stringify(rounds.slice(-5))}; held: ${stores.map(s => held(s, mailbox)).join(', ')})`, 20_000, 200)
    expect(round).to.include({ differingBuckets: 0 })
    expect(round).to.not.have.property('pushed')
    // and the status shows it: the round in sync, not the repair before it
    expect(s1.murmur.store.server!.status().replicas.find(r => r.peer === back.murmur.peerId.toString())).to.include({ lastResult: 'in-sync', differingBuckets: 0 })

    // s2 is down while the owner acks 10 messages on s1 only
    await s2.murmur.stop()
    const core = new StoreProtocolClient(new DirectTransport(alice.node.libp2p), s1.murmur.peerId)
    const storePeerBytes = Uint8Array.from(s1.murmur.peerId.toMultihash().bytes)
    const ids = payloads.slice(0, 10).map(p => envelopeId(p))
    const challenge = await core.challenge()
    const body = new Uint8Array(ids.length * 32)
    ids.forEach((id, i) => { body.set(id, i * 32) })
    expect(await core.ack({ mailbox, ids, storePeer: storePeerBytes, proof: signProof(key, 'ack', storePeerBytes, challenge, body) })).to.equal(10)
    await waitFor(() => held(stores[2], mailbox) === 40, 'the ack to reach the live replica', 10_000)

    const s2back = await storePeer({}, s2.home)
    stores[1] = { ...s2back, cleanup: s2.cleanup }
    expect(held(stores[1], mailbox)).to.equal(50)
    await mesh([s1.murmur, s2back.murmur, stores[2].murmur, alice])
    await waitFor(() => held(stores[1], mailbox) === 40, 'the ack to reach the replica that was down', 20_000)
    // and no replica brings the acked messages back
    await new Promise(resolve => setTimeout(resolve, 1500))
    for (const s of stores) {
      expect(held(s, mailbox)).to.equal(40)
    }
    const messages = await alice.store.fetch(key)
    expect(messages.map(m => text(m.payload))).to.deep.equal(payloads.slice(10).map(text))
  })

  it('re-replicates a mailbox to the next closest live store node when one of its store nodes dies', async () => {
    stores.push(await storePeer(), await storePeer(), await storePeer(), await storePeer())
    const alice = await loopbackPeer()
    others.push(alice)
    await mesh([...stores.map(s => s.murmur), alice])
    const key = generateMailboxKey()
    const mailbox = mailboxName(key.publicKey)
    const responsible = await alice.store.storeNodes(mailbox)
    expect(responsible).to.have.length(3)
    const spare = stores.find(s => !responsible.some(p => p.equals(s.murmur.peerId)))!
    for (let i = 0; i < 20; i++) {
      await alice.store.deposit(mailbox, bytes(`kept ${i}`))
    }
    await waitFor(() => stores.filter(s => held(s, mailbox) === 20).length === 3, 'the three responsible store nodes to hold the mailbox', 10_000)
    expect(held(spare, mailbox)).to.equal(0)

    const victim = stores.find(s => s.murmur.peerId.equals(responsible[0]))!
    await victim.murmur.stop()
    await waitFor(() => held(spare, mailbox) === 20, 'the spare store node to take the dead one\'s place', 20_000)
    const messages = await alice.store.fetch(key)
    expect(messages.map(m => text(m.payload))).to.deep.equal(Array.from({ length: 20 }, (_, i) => `kept ${i}`))
  })
})
