import { expect } from 'aegir/chai'
import { Key } from 'interface-datastore'
import { Registry } from 'prom-client'
import { decodeCard, DeliveryError, ONE_TIME_PREKEY_GRACE_MS, UnknownPrekeyError } from '../../src/contacts/index.ts'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { inbox } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { LiveTransport, MailboxKey, MailboxTransport } from '../../src/contacts/index.ts'

describe('contacts: two peers on loopback, live over /murmur/dm/1.0.0 (transparent mode)', function () {
  this.timeout(90_000)
  let alice: Murmur | undefined
  let bob: Murmur | undefined
  const dirs: Array<{ dir: string, cleanup(): Promise<void> }> = []

  afterEach(async () => {
    await stopAll([alice, bob])
    alice = bob = undefined
    for (const d of dirs.splice(0)) {
      await d.cleanup()
    }
  })

  it('card exchange, a first message through X3DH, replies, edit/react/delete, receipts, and a session that survives a restart', async () => {
    const bobHome = await tempDir()
    dirs.push(bobHome)
    alice = await loopbackPeer({ contacts: { transparent: true } })
    bob = await loopbackPeer({ home: bobHome.dir, contacts: { transparent: true } })
    await alice.node.connect(bob.node.getMultiaddrs()[0])
    const bobGot = inbox(bob)
    const aliceGot = inbox(alice)

    const bobCard = await bob.contacts.card()
    const added = await alice.contacts.add(bobCard, { name: 'bob' })
    expect(added).to.include({ id: bob.identity.id, name: 'bob', session: false })

    const sent = await alice.contacts.send('bob', 'hello bob')
    expect(sent.via).to.equal('live')
    expect(sent.message.delivered).to.equal(true)
    await waitFor(() => bobGot.length === 1, 'bob to get the first message', 10_000)
    expect(bobGot[0]).to.include({ content: 'hello bob', self: false, contact: alice.identity.id })
    // bob learned alice from the card inside the first message: he can answer without having her card
    const bobsView = await bob.contacts.get(alice.identity.id)
    expect(bobsView.peers).to.deep.equal([alice.peerId.toString()])

    const reply = await bob.contacts.send(alice.identity.id, 'hi alice')
    expect(reply.via).to.equal('live')
    await waitFor(() => aliceGot.length === 1, 'alice to get the reply', 10_000)
    expect(aliceGot[0].content).to.equal('hi alice')

    await alice.contacts.edit('bob', sent.message.id, 'hello bob (edited)')
    await bob.contacts.react(alice.identity.id, sent.message.id, '👍')
    await alice.contacts.delete('bob', sent.message.id)
    await waitFor(async () => (await bob?.contacts.inbox({ contact: alice?.identity.id }))?.[0]?.deleted === true, 'the delete to arrive', 10_000)
    const [firstAtBob] = await bob.contacts.inbox({ contact: alice.identity.id })
    expect(firstAtBob).to.include({ edited: true, deleted: true, content: '' })
    expect(firstAtBob.reactions).to.deep.equal({ '👍': [bob.identity.id] })
    // bob's reply got a receipt from alice's node
    await waitFor(async () => (await bob?.contacts.inbox())?.find(m => m.id === reply.message.id)?.delivered === true, 'the receipt for bob\'s reply', 10_000)
    // each side deposits into a mailbox the other minted for it alone (not the one in the card)
    const book = async (m: Murmur, id: string): Promise<{ mailbox: string, pairwiseMailbox: boolean }> => JSON.parse(new TextDecoder().decode(await m.node.datastore.get(new Key(`/murmur/contacts/book/${id}`))))
    const aliceToBob = await book(alice, bob.identity.id)
    const bobToAlice = await book(bob, alice.identity.id)
    expect(aliceToBob.pairwiseMailbox).to.equal(true)
    expect(bobToAlice.pairwiseMailbox).to.equal(true)
    expect(new Set([aliceToBob.mailbox, bobToAlice.mailbox, Buffer.from(decodeCard(bobCard).mailbox).toString('hex')]).size).to.equal(3)
    // only the author edits: bob cannot edit alice's message
    await expect(bob.contacts.edit(alice.identity.id, sent.message.id, 'forged')).to.be.rejectedWith(/No own message/)

    // a group invite through the session
    const invites: string[] = []
    bob.contacts.addEventListener('invite', (e) => { invites.push(e.detail.invite) })
    await alice.contacts.sendInvite('bob', 'murmur-invite:example')
    await waitFor(() => invites.length === 1, 'bob to get the invite', 10_000)
    expect(invites).to.deep.equal(['murmur-invite:example'])
    expect(bobGot[bobGot.length - 1]).to.include({ kind: 'invite', content: 'murmur-invite:example' })

    // bob restarts from his home: same identity, same session, conversation kept
    await bob.stop()
    bob = await loopbackPeer({ home: bobHome.dir, contacts: { transparent: true } })
    const bobGot2 = inbox(bob)
    await alice.node.connect(bob.node.getMultiaddrs()[0])
    await alice.contacts.send('bob', 'still there?')
    await waitFor(() => bobGot2.length === 1, 'bob to get a message after his restart', 10_000)
    expect(bobGot2[0].content).to.equal('still there?')
    const all = await bob.contacts.inbox({ contact: alice.identity.id })
    expect(all.map(m => m.content)).to.deep.equal(['', 'hi alice', 'murmur-invite:example', 'still there?'])
  })

  it('a contact that cannot be reached live and no mailbox transport: DeliveryError, the message kept undelivered', async () => {
    // no mailbox: the store layer's, the composite's default, is left out on purpose
    alice = await loopbackPeer({ contacts: { transparent: true, mailbox: undefined, sendTimeoutMs: 2000, bundleLookupTimeoutMs: 2000 } })
    bob = await loopbackPeer({ contacts: { transparent: true } })
    await alice.node.connect(bob.node.getMultiaddrs()[0])
    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    await alice.contacts.send('bob', 'first')
    await bob.stop()
    await expect(alice.contacts.send('bob', 'into the void')).to.be.rejectedWith(DeliveryError)
    const kept = await alice.contacts.inbox({ contact: 'bob' })
    expect(kept.map(m => [m.content, m.delivered])).to.deep.equal([['first', true], ['into the void', false]])
  })
})

async function onlyKey (m: Murmur, prefix: string): Promise<Key> {
  const keys = []
  for await (const key of m.node.datastore.queryKeys({ prefix })) {
    keys.push(key)
  }
  expect(keys).to.have.length(1)
  return keys[0]
}

async function ephemeralOf (m: Murmur): Promise<string> {
  const keys = []
  for await (const key of m.node.datastore.queryKeys({ prefix: '/murmur/contacts/ephemerals/' })) {
    keys.push(key.baseNamespace())
  }
  expect(keys).to.have.length(1)
  return keys[0]
}

/** Holds what alice sends, for the test to deliver in any order, twice, or not at all */
class HeldLive implements LiveTransport {
  held: Uint8Array[] = []
  async send (_to: unknown, sealed: Uint8Array): Promise<void> {
    this.held.push(sealed)
  }
}

/** The store layer's contract (transport.ts) as an in-memory double, to check the contacts side of it */
class MemoryMailboxes implements MailboxTransport {
  boxes = new Map<string, Array<{ id: string, sealed: Uint8Array }>>()
  private next = 0
  async deposit (mailbox: Uint8Array, sealed: Uint8Array): Promise<void> {
    const k = Buffer.from(mailbox).toString('hex')
    this.boxes.set(k, [...(this.boxes.get(k) ?? []), { id: String(this.next++), sealed }])
  }

  async fetch (key: MailboxKey): Promise<Array<{ id: string, sealed: Uint8Array }>> {
    return this.boxes.get(Buffer.from(key.name).toString('hex')) ?? []
  }

  async ack (key: MailboxKey, ids: string[]): Promise<void> {
    const k = Buffer.from(key.name).toString('hex')
    this.boxes.set(k, (this.boxes.get(k) ?? []).filter(i => !ids.includes(i.id)))
  }
}

class DownLive implements LiveTransport {
  async send (): Promise<void> {
    throw new DeliveryError('offline')
  }

  async fetchBundle (): Promise<undefined> {
    return undefined
  }
}

describe('contacts: delivery order, duplicates and the mailbox contract', function () {
  this.timeout(60_000)
  let peers: Murmur[] = []

  afterEach(async () => {
    await stopAll(peers)
    peers = []
  })

  it('the receiver de-duplicates and takes out-of-order deliveries in session order', async () => {
    const held = new HeldLive()
    const registry = new Registry()
    const bob = await loopbackPeer({ metricsRegistry: registry })
    const alice = await loopbackPeer({ contacts: { live: Object.assign(held, { fetchBundle: async () => bob.contacts.currentBundle() }) } })
    peers.push(alice, bob)
    const got = inbox(bob)
    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    for (const t of ['one', 'two', 'three', 'four']) {
      await alice.contacts.send('bob', t)
    }
    const [m1, m2, m3, m4] = held.held
    await bob.contacts.receive(m3)
    await bob.contacts.receive(m1)
    await bob.contacts.receive(m3)
    await bob.contacts.receive(m4)
    await bob.contacts.receive(m1)
    await bob.contacts.receive(m2)
    expect(got.map(m => m.content)).to.deep.equal(['three', 'one', 'four', 'two'])
    const stored = await bob.contacts.inbox()
    expect(stored).to.have.length(4)
    // a tampered envelope is refused and the next honest one still decrypts
    await alice.contacts.send('bob', 'five')
    const five = held.held[held.held.length - 1]
    const bad = five.slice()
    bad[bad.length - 3] ^= 1
    await expect(bob.contacts.receive(bad)).to.be.rejected()
    await bob.contacts.receive(five)
    expect(got.map(m => m.content)).to.include('five')
    const metrics = await registry.metrics()
    expect(metrics).to.match(/^murmur_contacts_received_total\{type="MESSAGE"\} 5$/m)
    expect(metrics).to.match(/^murmur_contacts_rejected_total\{reason="DuplicateMessageError"\} 2$/m)
    expect(metrics).to.match(/^murmur_contacts_rejected_total\{reason="SealedBoxError"\} 1$/m)
    expect(metrics).to.match(/^murmur_contacts_sessions_total\{role="responder"\} 1$/m)
  })

  it('a duplicate first message is taken silently, a replayed one never resets the session, a used one-time prekey is refused clearly', async () => {
    const held = new HeldLive()
    const bob = await loopbackPeer()
    const alice = await loopbackPeer({ contacts: { live: Object.assign(held, { fetchBundle: async () => bob.contacts.currentBundle() }) } })
    peers.push(alice, bob)
    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    await alice.contacts.send('bob', 'hi')
    await bob.contacts.receive(held.held[0])
    // the same first message again: a duplicate in a known session, nothing shows twice
    await bob.contacts.receive(held.held[0])
    expect(await bob.contacts.inbox()).to.have.length(1)
    // a replayed first message never sets a session up again (X3DH §4.2): bob drops his session, the replay is ignored
    await bob.node.datastore.delete(new Key(`/murmur/contacts/sessions/${alice.identity.id}`))
    await bob.contacts.receive(held.held[0])
    expect((await bob.contacts.get(alice.identity.id)).session).to.equal(false)
    // within the one-time prekey's grace week the remembered ephemeral (kept two weeks) is what refuses a
    // replay; were it not recognised once that week is over, the one-time prekey it names is gone
    await bob.node.datastore.delete(new Key('/murmur/contacts/ephemerals/' + await ephemeralOf(bob)))
    const used = await onlyKey(bob, '/murmur/contacts/prekeys/used/')
    const record = JSON.parse(new TextDecoder().decode(await bob.node.datastore.get(used)))
    await bob.node.datastore.put(used, new TextEncoder().encode(JSON.stringify({ ...record, usedAt: Date.now() - ONE_TIME_PREKEY_GRACE_MS - 1 })))
    await expect(bob.contacts.receive(held.held[0])).to.be.rejectedWith(UnknownPrekeyError, /already used/)
  })

  it('two contacts who picked the same one-time prekey from bob\'s bundle while he was away both reach him', async () => {
    const mailboxes = new MemoryMailboxes()
    const bob = await loopbackPeer({ contacts: { live: new DownLive(), mailbox: mailboxes } })
    // the bundle both fetched while bob was offline: the same signed record, the same one-time prekeys
    const bundle = bob.contacts.currentBundle()
    const away = { live: Object.assign(new DownLive(), { fetchBundle: async () => bundle }), mailbox: mailboxes }
    const alice = await loopbackPeer({ contacts: away })
    const carol = await loopbackPeer({ contacts: away })
    peers.push(alice, bob, carol)
    const got = inbox(bob)
    const random = Math.random
    try {
      // both pick the bundle's first one-time prekey (a random pick among 20 collides often enough in the field)
      Math.random = () => 0
      for (const [m, name] of [[alice, 'alice'], [carol, 'carol']] as const) {
        await m.contacts.add(await bob.contacts.card(), { name: 'bob' })
        for (const i of [1, 2]) {
          expect((await m.contacts.send('bob', `${name} ${i}`)).via).to.equal('mailbox')
        }
      }
    } finally {
      Math.random = random
    }
    expect(await bob.contacts.fetchMailboxes()).to.equal(4)
    expect(got.map(m => m.content).sort()).to.deep.equal(['alice 1', 'alice 2', 'carol 1', 'carol 2'])
    // both sessions go on: bob answers each, and each answer opens
    for (const m of [alice, carol]) {
      const to = inbox(m)
      await bob.contacts.send(m.identity.id, 'welcome')
      await m.contacts.fetchMailboxes()
      expect(to.map(x => x.content)).to.include('welcome')
    }
  })

  it('a mailbox item that fails to open for a passing reason is left for the next fetch; one that can never open is acked away and counted', async () => {
    const mailboxes = new MemoryMailboxes()
    const registry = new Registry()
    const bob = await loopbackPeer({ metricsRegistry: registry, contacts: { mailbox: mailboxes } })
    const alice = await loopbackPeer({ contacts: { live: Object.assign(new DownLive(), { fetchBundle: async () => bob.contacts.currentBundle() }), mailbox: mailboxes } })
    peers.push(alice, bob)
    const got = inbox(bob)
    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    await alice.contacts.send('bob', 'kept through a fault')
    // junk in bob's mailbox: not sealed to him, it never will open
    const [box] = [...mailboxes.boxes.keys()]
    mailboxes.boxes.get(box)?.push({ id: 'junk', sealed: new Uint8Array(300).fill(9) })
    // bob's disk fails while he reads
    const datastore = bob.node.datastore
    const put = datastore.put.bind(datastore)
    let failing = true
    datastore.put = async (...args: Parameters<typeof put>) => {
      if (failing) { throw new Error('disk full') }
      return put(...args)
    }
    try {
      for (let fetches = 1; fetches < 3; fetches++) {
        expect(await bob.contacts.fetchMailboxes()).to.equal(0)
        expect(mailboxes.boxes.get(box)?.map(i => i.id), `after fetch ${fetches}`).to.deep.equal(['0'])
      }
      failing = false
      expect(await bob.contacts.fetchMailboxes()).to.equal(1)
    } finally {
      datastore.put = put
    }
    expect(got.map(m => m.content)).to.deep.equal(['kept through a fault'])
    expect(mailboxes.boxes.get(box)).to.deep.equal([])
    // a message that fails every fetch is acked away after the third, not kept until its TTL
    await alice.contacts.send('bob', 'never readable')
    datastore.put = async () => { throw new Error('disk gone') }
    try {
      for (let fetches = 1; fetches <= 3; fetches++) {
        expect(await bob.contacts.fetchMailboxes()).to.equal(0)
      }
    } finally {
      datastore.put = put
    }
    expect(mailboxes.boxes.get(box)).to.deep.equal([])
    const metrics = await registry.metrics()
    expect(metrics).to.match(/^murmur_contacts_mailbox_dropped_total\{reason="SealedBoxError"\} 1$/m)
    expect(metrics).to.match(/^murmur_contacts_mailbox_dropped_total\{reason="Error"\} 1$/m)
  })

  it('both sides start a session at once: the smaller identity id\'s session wins, and both then talk in it', async () => {
    const toA = new HeldLive()
    const toB = new HeldLive()
    // each one's transport fetches the other's bundle, and each is made before the other exists
    const made: { a?: Murmur, b?: Murmur } = {}
    const a = made.a = await loopbackPeer({ contacts: { live: Object.assign(toB, { fetchBundle: async () => made.b?.contacts.currentBundle() }) } })
    const b = made.b = await loopbackPeer({ contacts: { live: Object.assign(toA, { fetchBundle: async () => made.a?.contacts.currentBundle() }) } })
    peers.push(a, b)
    await a.contacts.add(await b.contacts.card(), { name: 'b' })
    await b.contacts.add(await a.contacts.card(), { name: 'a' })
    await a.contacts.send('b', 'from a')
    await b.contacts.send('a', 'from b')
    const [winner, loser, toWinner, toLoser] = a.identity.id < b.identity.id ? [a, b, toA, toB] : [b, a, toB, toA]
    // the loser's first message is refused by the winner (it is in the losing session) …
    await expect(winner.contacts.receive(toWinner.held[0])).to.be.rejected()
    // … the winner's is taken by the loser, who switches to the winner's session
    await loser.contacts.receive(toLoser.held[0])
    await loser.contacts.send(winner.identity.id, 'loser again')
    // everything held since (the loser's receipt, its new message), in the order it was sent
    await waitFor(() => toWinner.held.length === 3, 'the loser\'s receipt and message', 5000)
    for (const m of toWinner.held.slice(1)) {
      await winner.contacts.receive(m)
    }
    await winner.contacts.send(loser.identity.id, 'winner again')
    await waitFor(() => toLoser.held.length >= 3, 'the winner\'s receipt and message', 5000)
    for (const m of toLoser.held.slice(1)) {
      await loser.contacts.receive(m)
    }
    expect((await winner.contacts.inbox()).filter(m => !m.self).map(m => m.content)).to.deep.equal(['loser again'])
    expect((await loser.contacts.inbox()).filter(m => !m.self).map(m => m.content)).to.deep.equal([winner === a ? 'from a' : 'from b', 'winner again'])
  })

  it('offline: the message goes to the contact\'s mailbox and is delivered when the contact fetches', async () => {
    const mailboxes = new MemoryMailboxes()
    const bob = await loopbackPeer({ contacts: { mailbox: mailboxes } })
    const alice = await loopbackPeer({ contacts: { live: Object.assign(new DownLive(), { fetchBundle: async () => bob.contacts.currentBundle() }), mailbox: mailboxes } })
    peers.push(alice, bob)
    const got = inbox(bob)
    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    const r = await alice.contacts.send('bob', 'while you were away')
    expect(r.via).to.equal('mailbox')
    expect(r.message.delivered).to.equal(false)
    expect(got).to.have.length(0)
    expect(await bob.contacts.fetchMailboxes()).to.equal(1)
    expect(got.map(m => m.content)).to.deep.equal(['while you were away'])
    // acked: nothing left in any mailbox, a second fetch brings nothing twice
    expect([...mailboxes.boxes.values()].flat().length).to.equal(0)
    expect(await bob.contacts.fetchMailboxes()).to.equal(0)
  })
})
