import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { OnionStoreTransport, serveStoreOverOnion } from '../../src/app/onion-store.ts'
import { ANSWER_CHUNK_BYTES } from '../../src/onion/index.ts'
import { generateMailboxKey, mailboxName, signProof, StoreProtocolClient, StoreRequest, StoreResponse } from '../../src/store/index.ts'
import { loopbackOnionNet, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { IncomingMessage, OnionHandler } from '../../src/onion/index.ts'
import type { AnswerOptions } from '../../src/store/index.ts'
import type { StorePeer } from '../store/fixtures.ts'
import type { PeerId } from '@libp2p/interface'

const NET: MurmurInit = loopbackOnionNet({ ackTimeoutMs: 4_000, retries: 2 })

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
    server.answer = async (data: Uint8Array, remote: PeerId, options?: AnswerOptions) => { answered.push(remote.toString()); return answer(data, remote, options) }
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
    // deposit, challenge, fetch, ack, challenge, fetch: answered without a peer behind them. (Carol, transparent
    // on purpose, also shows up here: her contacts layer publishes its prekey bundle to the store node directly.)
    expect(answered.filter(p => p === self).length).to.be.at.least(6)
    expect(answered).to.not.include(alice.peerId.toString())
    expect(answered).to.not.include(bob.peerId.toString())
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
    // three relays cannot make 3-hop deposit and fetch routes that share none: once alice has used one side (it
    // holds every relay), her exchanges on the other fall back to shared relays, counted
    await alice.store.fetch(generateMailboxKey())
    expect((alice.store.client.transport as OnionStoreTransport).counts.shared).to.be.greaterThan(0)
  })

  it('a fetch larger than the reply blocks carry comes in smaller pages', async () => {
    const key = generateMailboxKey()
    const payloads = Array.from({ length: 12 }, (_, i) => enc(`${i}:`.padEnd(700, 'x')))
    await alice.store.deposit(mailboxName(key.publicKey), payloads)
    const got = await bob.store.fetch(key)
    expect(got.map(m => new TextDecoder().decode(m.payload).split(':')[0])).to.deep.equal(payloads.map((_, i) => String(i)))
  })

  it('a page whose answer is exactly at, one byte under or one byte over the reply blocks\' capacity arrives whole', async () => {
    const transport = bob.store.client.transport as OnionStoreTransport
    const client = new StoreProtocolClient(transport, store.murmur.peerId)
    const storePeerBytes = store.murmur.peerId.toMultihash().bytes
    const surbs = 3
    const capacity = surbs * ANSWER_CHUNK_BYTES
    /** Deposits two envelopes, the second `extra` bytes longer, and fetches them as one page over onion routes */
    const page = async (key: ReturnType<typeof generateMailboxKey>, second: number, third?: number): Promise<{ sizes: number[], more: boolean, first: number, rest: number }> => {
      await alice.store.deposit(mailboxName(key.publicKey), [enc('a'.padEnd(1500, 'a')), enc('b'.padEnd(second, 'b')), ...(third != null ? [enc('c'.padEnd(third, 'c'))] : [])])
      const proof = signProof(key, 'fetch', storePeerBytes, await client.challenge())
      const first = await client.fetch(mailboxName(key.publicKey), proof, new Uint8Array(0), 1000, { answerBytes: capacity })
      const rest = first.more ? await client.fetch(mailboxName(key.publicKey), proof, first.cursor, 1000, { answerBytes: capacity }) : undefined
      return { sizes: [...first.envelopes, ...(rest?.envelopes ?? [])].map(e => e.payload.length), more: first.more, first: first.envelopes.length, rest: rest?.envelopes.length ?? 0 }
    }
    // how large the answer of a two-envelope page is, and what the second envelope must weigh to hit the capacity
    const probeKey = generateMailboxKey()
    await page(probeKey, 1500)
    const probeProof = signProof(probeKey, 'fetch', storePeerBytes, await client.challenge())
    const probe = await store.murmur.store.server?.answer(StoreRequest.encode({ type: StoreRequest.Type.FETCH, fetch: { mailbox: mailboxName(probeKey.publicKey), proof: probeProof, cursor: new Uint8Array(0), limit: 1000 } }), store.murmur.peerId)
    if (probe == null) { throw new Error('not a store node') }
    const atCapacity = 1500 + capacity - StoreResponse.encode({ ...probe, more: false }).length
    for (const [what, second] of [['at', atCapacity], ['one byte under', atCapacity - 1]] as const) {
      const got = await page(generateMailboxKey(), second)
      expect(got.sizes, `${what} the capacity: one page`).to.deep.equal([1500, second])
      expect(got.more, what).to.equal(false)
    }
    // one byte over: the page stops before the second envelope, which comes with the next page
    const over = await page(generateMailboxKey(), atCapacity + 1)
    expect(over.sizes).to.deep.equal([1500, atCapacity + 1])
    expect(over.more).to.equal(true)
    expect(over.rest).to.equal(1)
    // at the capacity, but with a third envelope after them: saying "more" takes two bytes the page no longer has.
    // A page filled by size without counting them is two bytes too large for its reply blocks, the onion layer
    // cannot send it, and the answer is lost; here it stops one envelope earlier instead
    const full = await page(generateMailboxKey(), atCapacity, 10)
    expect(full.sizes).to.deep.equal([1500, atCapacity, 10])
    expect(full.more).to.equal(true)
    expect(full.first).to.equal(1)
  })

  it('in transparent mode the store node does see the depositor (what the onion routes hide)', async () => {
    const before = answered.length
    await carol.store.deposit(mailboxName(generateMailboxKey().publicKey), enc('seen'))
    expect(answered.slice(before)).to.include(carol.peerId.toString())
  })
})

describe('app: the RX route to a store node shares no relay with the TX routes of recent deposits', function () {
  this.timeout(180_000)
  const relays: Murmur[] = []
  let store: StorePeer
  let alice: Murmur
  /** Relays that processed an onion packet since the last reset */
  const processed = new Set<string>()

  before(async () => {
    // relays are counted by the packets they process, so the only onion traffic here is alice's store requests:
    // no peer's contacts layer publishes its prekey bundle on the store node or polls mailboxes, and no peer probes
    const net: MurmurInit = { ...NET, onion: { ...NET.onion, hops: 2, probe: false }, contacts: { records: undefined, mailbox: undefined, publishBundle: false } }
    for (let i = 0; i < 7; i++) {
      const relay = await loopbackPeer({ ...net, roles: ['relay'] })
      const receive = relay.onion.receive.bind(relay.onion)
      relay.onion.receive = (packet, from) => { processed.add(relay.peerId.toString()); receive(packet, from) }
      relays.push(relay)
    }
    store = await storePeer({ ...net })
    alice = await loopbackPeer({ ...net })
    const all = [...relays, store.murmur, alice]
    await mesh(all)
    await waitFor(() => all.every(p => p.directory.descriptors().length === all.length), 'every peer to know every descriptor', 60_000, 250)
  })

  after(async () => {
    await stopAll([...relays, store.murmur, alice])
    await store.cleanup()
  })

  it('deposits, then the fetch and ack of the same peer, go through disjoint sets of relays', async () => {
    const transport = alice.store.client.transport as OnionStoreTransport
    const storeId = store.murmur.peerId.toString()
    const key = generateMailboxKey()
    const own = mailboxName(key.publicKey)
    const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 300)) }

    for (let round = 0; round < 2; round++) {
      processed.clear()
      for (let i = 0; i < 5; i++) {
        // to someone else's mailbox and to its own: the store node must not tie the two to one peer
        await alice.store.deposit(i % 2 === 0 ? own : mailboxName(generateMailboxKey().publicKey), enc(`${round}:${i}`))
      }
      await settle()
      const tx = new Set(processed)

      processed.clear()
      const got = await alice.store.fetch(key)
      expect(got.map(m => new TextDecoder().decode(m.payload))).to.deep.equal([`${round}:0`, `${round}:2`, `${round}:4`])
      await alice.store.ack(key, got.map(m => m.id))
      await settle()
      const rx = new Set(processed)

      expect(tx.size, 'relays on deposit routes').to.be.greaterThan(0)
      expect(rx.size, 'relays on fetch routes').to.be.greaterThan(0)
      expect([...tx].filter(r => rx.has(r)), `round ${round}: relays on both sides`).to.deep.equal([])
      // SendResult.relays tells the truth: every relay seen processing was on a route it named
      const namedTx = transport.recentRelays(storeId, 'tx')
      const namedRx = transport.recentRelays(storeId, 'rx')
      expect([...tx].filter(r => !namedTx.has(r))).to.deep.equal([])
      expect([...rx].filter(r => !namedRx.has(r))).to.deep.equal([])
      expect([...namedTx].filter(r => namedRx.has(r))).to.deep.equal([])
    }
    expect(transport.counts.shared).to.equal(0)
    expect(transport.counts.direct).to.equal(0)
  })

  it('a backlog of 2,000 messages drains over onion routes in large pages: all, in order, once each, RX clear of TX', async () => {
    const transport = alice.store.client.transport as OnionStoreTransport
    const storeId = store.murmur.peerId.toString()
    const key = generateMailboxKey()
    const own = mailboxName(key.publicKey)
    const payloads = Array.from({ length: 2_000 }, (_, i) => enc(`${i}:`.padEnd(200, 'x')))
    processed.clear()
    for (let i = 0; i < payloads.length; i += 100) {
      await alice.store.deposit(own, payloads.slice(i, i + 100))
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    const tx = new Set(processed)

    processed.clear()
    const before = transport.counts.onion
    const got = await alice.store.fetch(key)
    const exchanges = transport.counts.onion - before
    expect(got.map(m => new TextDecoder().decode(m.payload).split(':')[0])).to.deep.equal(payloads.map((_, i) => String(i)))
    expect(new Set(got.map(m => m.id)).size).to.equal(payloads.length)
    // a challenge and pages that grow to the most the reply blocks carry, not hundreds of two-block pages
    expect(exchanges).to.be.lessThan(30)
    // acks go in batches of up to 1,000 ids, each with its own proof
    await alice.store.ack(key, got.map(m => m.id))
    expect(await alice.store.fetch(key)).to.deep.equal([])
    await new Promise(resolve => setTimeout(resolve, 300))
    const rx = new Set(processed)

    expect(tx.size).to.be.greaterThan(0)
    expect(rx.size).to.be.greaterThan(0)
    expect([...tx].filter(r => rx.has(r)), 'relays on both sides').to.deep.equal([])
    const namedTx = transport.recentRelays(storeId, 'tx')
    const namedRx = transport.recentRelays(storeId, 'rx')
    expect([...namedTx].filter(r => namedRx.has(r))).to.deep.equal([])
    expect(transport.counts.shared).to.equal(0)
    expect(transport.counts.direct).to.equal(0)
  })
})

describe('app: which relays the TX and RX sides of a store node hold', () => {
  const storeNode = { toString: () => 'store' } as unknown as PeerId
  const ids = Array.from({ length: 12 }, (_, i) => `r${i}`)

  /**
   * An onion layer that routes over the best-scored relays an exchange may take, the least used first (as
   * weighted random choice spreads routes), `width` of them per exchange
   */
  function fakeOnion (scores: Map<string, number>, width: number, before?: () => Promise<void>): { onion: any, avoided: Array<{ side: string, avoid: Set<string> }> } {
    const avoided: Array<{ side: string, avoid: Set<string> }> = []
    const uses = new Map<string, number>()
    const onion = {
      status: () => ({ knownRelays: ids.map(peerId => ({ peerId, reliability: scores.get(peerId) ?? 0.5 })) }),
      ask: async (_to: unknown, data: Uint8Array, opts: { avoidRelays?: Set<string>, onRoute?(relays: string[]): void }) => {
        await before?.()
        const avoid = opts.avoidRelays ?? new Set<string>()
        avoided.push({ side: new TextDecoder().decode(data), avoid: new Set(avoid) })
        const route = ids.filter(id => !avoid.has(id))
          .sort((a, b) => ((scores.get(b) ?? 0) - (scores.get(a) ?? 0)) || ((uses.get(a) ?? 0) - (uses.get(b) ?? 0)))
          .slice(0, width)
        route.forEach(id => uses.set(id, (uses.get(id) ?? 0) + 1))
        opts.onRoute?.(route)
        return data
      }
    }
    return { onion, avoided }
  }
  const transport = (onion: any, recentRouteMs = 600_000): OnionStoreTransport => new OnionStoreTransport({
    onion,
    directory: { get: () => ({}) },
    libp2p: { peerId: { toString: () => 'self' }, dialProtocol: async () => { throw new Error('no direct exchange here') } } as any,
    log: { warn: () => {}, info: () => {} }
  }, { hops: 2, recentRouteMs })
  const exchange = async (t: OnionStoreTransport, side: 'tx' | 'rx'): Promise<void> => { await t.exchange(storeNode, enc(side), { path: side }) }
  const disjoint = (t: OnionStoreTransport): void => {
    const tx = t.recentRelays(storeNode, 'tx')
    expect([...t.recentRelays(storeNode, 'rx')].filter(id => tx.has(id))).to.deep.equal([])
  }

  it('each side takes free relays up to its share of the good ones, then keeps to its own; a side whose relays drop makes up its share from free relays, never from the other side\'s', async () => {
    const scores = new Map(ids.map(id => [id, 0.9]))
    const { onion, avoided } = fakeOnion(scores, 3)
    const t = transport(onion)
    // twelve good relays: a share is six
    await exchange(t, 'tx')
    const tx = t.recentRelays(storeNode, 'tx')
    expect(tx.size).to.equal(6)
    await exchange(t, 'tx')
    await exchange(t, 'tx')
    expect([...t.recentRelays(storeNode, 'tx')].sort(), 'a side with its share takes no free relay').to.deep.equal([...tx].sort())
    for (const a of avoided) {
      expect(ids.filter(id => !a.avoid.has(id)).sort(), 'a side routes over its own relays only').to.deep.equal([...tx].sort())
    }
    await exchange(t, 'rx')
    await exchange(t, 'rx')
    expect([...t.recentRelays(storeNode, 'rx')].sort()).to.deep.equal(ids.filter(id => !tx.has(id)).sort())
    disjoint(t)
    // three of TX's relays turn out to drop: TX has three good ones of a share of four (nine good in all), and
    // every other relay is RX's: it does without rather than take one
    for (const id of [...tx].slice(0, 3)) { scores.set(id, 0.1) }
    await exchange(t, 'tx')
    disjoint(t)
    for (const a of avoided.filter(a => a.side === 'tx').slice(-1)) {
      expect([...t.recentRelays(storeNode, 'rx')].filter(id => !a.avoid.has(id)), 'RX relays open to TX').to.deep.equal([])
    }
    expect(t.counts.shared).to.equal(0)
  })

  it('relays leave a side only after its window without use; the starved side then takes them', async () => {
    const scores = new Map(ids.map(id => [id, 0.9]))
    const { onion } = fakeOnion(scores, 6)
    const t = transport(onion, 300)
    await exchange(t, 'tx')
    await exchange(t, 'rx')
    disjoint(t)
    for (const id of ['r0', 'r1', 'r2', 'r3']) { scores.set(id, 0.1) }
    // RX goes quiet while TX, with two good relays of a share of four, goes on
    for (let i = 0; i < 4; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      await exchange(t, 'tx')
      disjoint(t)
    }
    // RX's leases ran out: TX took free relays to make up its share
    const tx = t.recentRelays(storeNode, 'tx')
    expect([...tx].filter(id => (scores.get(id) ?? 0) >= 0.3).length).to.be.at.least(4)
    await exchange(t, 'rx')
    disjoint(t)
    expect(t.counts.shared).to.equal(0)
  })

  it('a burst of exchanges starting together takes no more than the side\'s share: the other side finds its half', async () => {
    const scores = new Map(ids.map(id => [id, 0.9]))
    // each route is as wide as it may be: without the share leased before routes are chosen, the burst takes all
    const { onion } = fakeOnion(scores, 12, async () => { await new Promise(resolve => setImmediate(resolve)) })
    const t = transport(onion)
    await Promise.all(Array.from({ length: 20 }, async () => exchange(t, 'tx')))
    expect(t.recentRelays(storeNode, 'tx').size).to.equal(6)
    await exchange(t, 'rx')
    expect(t.recentRelays(storeNode, 'rx').size).to.equal(6)
    disjoint(t)
    expect(t.counts.shared).to.equal(0)
  })

  it('two exchanges choosing routes at once never take the same free relay', async () => {
    const scores = new Map(ids.map(id => [id, 0.9]))
    // every ask yields once before choosing its route, as the onion layer looks up the destination first
    // routes of eight of the twelve: without the other side's relays kept off at once, two would overlap
    const { onion } = fakeOnion(scores, 8, async () => { await new Promise(resolve => setImmediate(resolve)) })
    const t = transport(onion)
    await Promise.all([exchange(t, 'tx'), exchange(t, 'rx'), exchange(t, 'tx'), exchange(t, 'rx')])
    disjoint(t)
    expect(t.recentRelays(storeNode, 'tx').size).to.be.greaterThan(0)
    expect(t.recentRelays(storeNode, 'rx').size).to.be.greaterThan(0)
  })
})

describe('app: the store node\'s onion handler on arbitrary bytes', () => {
  it('answers every request with a well-formed StoreResponse in at most its reply blocks, and never throws', async () => {
    let handler: OnionHandler | undefined
    const okResponse = (): StoreResponse => ({ status: StoreResponse.Status.OK, error: '', challenge: new Uint8Array(32), envelopes: [], cursor: new Uint8Array(0), more: false, accepted: 0 })
    const server = { answer: async () => okResponse() }
    serveStoreOverOnion({ handle: (_kind: string, h: OnionHandler) => { handler = h } }, server as any, { toString: () => 'self' } as any)
    const valid = StoreRequest.encode({ type: StoreRequest.Type.CHALLENGE })
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 8 }).map(tail => Uint8Array.from([...valid, ...tail]))),
      async (data) => {
        const answers: Uint8Array[] = []
        const msg: IncomingMessage = {
          messageId: 'm',
          kind: 'murmur/store/1',
          data,
          surbs: 2,
          reply: async () => { throw new Error('the store answers with answer(), which splits over the reply blocks') },
          answer: async (d) => { answers.push(d) }
        }
        await handler?.(msg)
        expect(answers).to.have.length(1)
        // what the onion layer can split over the two reply blocks
        expect(answers[0].length).to.be.at.most(2 * ANSWER_CHUNK_BYTES)
        const res = StoreResponse.decode(answers[0])
        expect(Object.values(StoreResponse.Status)).to.include(res.status)
      }
    ), { seed: 4242, numRuns: 200 })
  })

  it('does not act on a request that carries no reply block', async () => {
    let handler: OnionHandler | undefined
    let answered = 0
    serveStoreOverOnion({ handle: (_kind: string, h: OnionHandler) => { handler = h } }, { answer: async () => { answered++; throw new Error('not reached') } } as any, {} as any)
    await handler?.({ messageId: 'm', kind: 'murmur/store/1', data: new Uint8Array(10), surbs: 0, reply: async () => { throw new Error('no surb') }, answer: async () => { throw new Error('no surb') } })
    expect(answered).to.equal(0)
  })
})
