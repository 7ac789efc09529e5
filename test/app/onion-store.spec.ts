import { expect } from 'aegir/chai'
import { OnionStoreTransport } from '../../src/app/onion-store.ts'
import { generateMailboxKey, mailboxName } from '../../src/store/index.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { StorePeer } from '../store/fixtures.ts'
import type { PeerId } from '@libp2p/interface'

/** Loopback: relays share 127.0.0.1, the directory converges fast without the DHT */
const NET: MurmurInit = {
  onion: { diversity: 'none', hops: 3, ackTimeoutMs: 4_000, retries: 2 },
  directory: { dht: false, republishOnSubscribeMs: 300 }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('app: store requests over onion routes (TX for deposits, RX for fetches and acks)', function () {
  this.timeout(120_000)
  const relays: Murmur[] = []
  let store: StorePeer
  let alice: Murmur
  let bob: Murmur
  let carol: Murmur
  /** Who the store node's server answered (direct streams: the remote peer; onion: itself) */
  const answered: string[] = []
  /** Every peer an onion packet reached the store node from */
  const packetsFrom: string[] = []

  before(async () => {
    for (let i = 0; i < 3; i++) {
      relays.push(await loopbackPeer({ ...NET, roles: ['relay'] }))
    }
    store = await storePeer({ ...NET })
    alice = await loopbackPeer({ ...NET })
    bob = await loopbackPeer({ ...NET })
    // carol is transparent: she shows that the checks below would see a depositor
    carol = await loopbackPeer({ ...NET, store: { transparent: true } })
    const all = [...relays, store.murmur, alice, bob, carol]
    await mesh(all)
    await waitFor(() => all.every(p => p.directory.descriptors().length === all.length), 'every peer to know every descriptor', 60_000, 250)
    const server = store.murmur.store.server
    if (server == null) { throw new Error('not a store node') }
    const answer = server.answer.bind(server)
    server.answer = async (data: Uint8Array, remote: PeerId) => { answered.push(remote.toString()); return answer(data, remote) }
    const receive = store.murmur.onion.receive.bind(store.murmur.onion)
    store.murmur.onion.receive = (packet, from) => { packetsFrom.push(from); receive(packet, from) }
  })

  after(async () => {
    await stopAll([...relays, store.murmur, alice, bob, carol])
    await store.cleanup()
  })

  it('a deposit and a fetch through onion routes; the store node never sees the depositor\'s or the owner\'s peer', async () => {
    const key = generateMailboxKey()
    const mailbox = mailboxName(key.publicKey)
    const receipt = await alice.store.deposit(mailbox, [enc('one'), enc('two')])
    expect(receipt.storedOn).to.deep.equal([store.murmur.peerId.toString()])

    const got = await bob.store.fetch(key)
    expect(got.map(m => new TextDecoder().decode(m.payload))).to.deep.equal(['one', 'two'])
    await bob.store.ack(key, got.map(m => m.id))
    expect(await bob.store.fetch(key)).to.deep.equal([])

    const self = store.murmur.peerId.toString()
    // deposit, challenge, fetch, ack, challenge, fetch: all answered without a peer behind them
    expect(answered.length).to.be.at.least(6)
    expect(answered.every(p => p === self)).to.equal(true)
    expect(packetsFrom.length).to.be.greaterThan(0)
    for (const from of packetsFrom) {
      expect(relays.map(r => r.peerId.toString())).to.include(from)
    }
    for (const m of [alice, bob]) {
      const t = m.store.client.transport as OnionStoreTransport
      expect(t).to.be.instanceOf(OnionStoreTransport)
      expect(t.counts.direct).to.equal(0)
      expect(t.counts.onion).to.be.greaterThan(0)
    }
  })

  it('a fetch larger than the reply blocks carry comes in smaller pages', async () => {
    const key = generateMailboxKey()
    const payloads = Array.from({ length: 12 }, (_, i) => enc(`${i}:`.padEnd(700, 'x')))
    await alice.store.deposit(mailboxName(key.publicKey), payloads)
    const got = await bob.store.fetch(key)
    expect(got.map(m => new TextDecoder().decode(m.payload).split(':')[0])).to.deep.equal(payloads.map((_, i) => String(i)))
  })

  it('in transparent mode the store node does see the depositor (what the onion routes hide)', async () => {
    const before = answered.length
    await carol.store.deposit(mailboxName(generateMailboxKey().publicKey), enc('seen'))
    expect(answered.slice(before)).to.include(carol.peerId.toString())
  })
})
