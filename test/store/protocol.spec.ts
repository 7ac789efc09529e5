import { peerIdFromString } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { DirectTransport, MailboxProofRequiredError, MailboxQuotaError, StaleChallengeError, StoreProtocolClient, StoreRequest, StoreRequestError, StoreResponse, WrongMailboxError, decodeRequest, envelopeId, generateMailboxKey, mailboxName, signProof, DepositRateLimitError, StoreMessageTooLargeError } from '../../src/store/index.ts'
import { loopbackPeer, stopAll } from '../fixtures/nodes.ts'
import { mesh, storePeer } from './fixtures.ts'
import type { StorePeer } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { Envelope } from '../../src/store/index.ts'

function envelope (mailbox: Uint8Array, payload: Uint8Array, ttlMs = 0): Envelope {
  return { mailbox: Uint8Array.from(mailbox), id: envelopeId(payload), timestamp: BigInt(Date.now()) * 1000n, expires: BigInt(ttlMs), payload: Uint8Array.from(payload) }
}

describe('store protocol against one store node', function () {
  this.timeout(60_000)
  let store: StorePeer
  let client: Murmur
  let core: StoreProtocolClient
  const registry = new Registry()

  before(async () => {
    store = await storePeer({ metricsRegistry: registry, store: { challengeTtlMs: 400, maxMessagesPerMailbox: 5, sweepIntervalMs: 3_600_000, depositRate: 1, depositBurst: 50 } })
    client = await loopbackPeer()
    await mesh([store.murmur, client])
    core = new StoreProtocolClient(new DirectTransport(client.node.libp2p), store.murmur.peerId)
  })

  after(async () => {
    await stopAll([client, store?.murmur])
    await store?.cleanup()
  })

  const storePeerBytes = (): Uint8Array => store.murmur.peerId.toMultihash().bytes

  it('fetches with a proof of possession, and refuses without one', async () => {
    const key = generateMailboxKey()
    const name = mailboxName(key.publicKey)
    await core.deposit([envelope(name, new TextEncoder().encode('hello'))])
    const challenge = await core.challenge()
    const page = await core.fetch(name, signProof(key, 'fetch', storePeerBytes(), challenge), new Uint8Array(0), 10)
    expect(page.envelopes.map(e => new TextDecoder().decode(e.payload))).to.deep.equal(['hello'])

    // no proof at all: a bare FETCH on the wire
    const bare = StoreResponse.decode(await new DirectTransport(client.node.libp2p).exchange(store.murmur.peerId, StoreRequest.encode({ type: StoreRequest.Type.FETCH, fetch: { mailbox: name, cursor: new Uint8Array(0), limit: 10 } }), { path: 'rx' }))
    expect(bare.status).to.equal(StoreResponse.Status.UNAUTHORIZED)
    expect(bare.envelopes).to.be.empty()

    // a signature by another key over a fresh challenge
    const other = generateMailboxKey()
    const forged = { ...signProof(other, 'fetch', storePeerBytes(), await core.challenge()), mailboxKey: Uint8Array.from(key.publicKey) }
    await expect(core.fetch(name, forged, new Uint8Array(0), 10)).to.eventually.be.rejectedWith(MailboxProofRequiredError)

    // a proof made for another store node
    const elsewhere = signProof(key, 'fetch', client.peerId.toMultihash().bytes, await core.challenge())
    await expect(core.fetch(name, elsewhere, new Uint8Array(0), 10)).to.eventually.be.rejectedWith(MailboxProofRequiredError)
  })

  it('a drain that outlives its challenge proves again and goes on from its cursor', async () => {
    // pages of one envelope, 250 ms each, against a challenge that lasts
    // 400 ms: the second page finds it stale (a long drain over onion routes
    // is like this, in minutes against 30 s)
    const key = generateMailboxKey()
    const name = mailboxName(key.publicKey)
    const texts = ['one', 'two', 'three']
    for (const text of texts) {
      await core.deposit([envelope(name, new TextEncoder().encode(text))])
    }
    const direct = new DirectTransport(client.node.libp2p)
    let fetches = 0
    client.store.setTransport({
      exchange: async (peer, bytes, options) => {
        const req = decodeRequest(bytes)
        if (req.type === StoreRequest.Type.FETCH && req.fetch != null) {
          fetches++
          await new Promise(resolve => setTimeout(resolve, 250))
          bytes = StoreRequest.encode({ ...req, fetch: { ...req.fetch, limit: 1 } })
        }
        return direct.exchange(peer, bytes, options)
      }
    })
    try {
      const got = await client.store.fetch(key)
      expect(got.map(m => new TextDecoder().decode(m.payload))).to.deep.equal(texts)
      // some pages were refused as stale and asked again with a fresh proof
      expect(fetches).to.be.above(texts.length)
    } finally {
      client.store.setTransport(direct)
    }
  })

  it('refuses a stale or unknown challenge', async () => {
    const key = generateMailboxKey()
    const name = mailboxName(key.publicKey)
    const challenge = await core.challenge()
    await new Promise(resolve => setTimeout(resolve, 600))
    await expect(core.fetch(name, signProof(key, 'fetch', storePeerBytes(), challenge), new Uint8Array(0), 10)).to.eventually.be.rejectedWith(StaleChallengeError)
    const invented = crypto.getRandomValues(new Uint8Array(32))
    await expect(core.fetch(name, signProof(key, 'fetch', storePeerBytes(), invented), new Uint8Array(0), 10)).to.eventually.be.rejectedWith(StaleChallengeError)
  })

  it('refuses to fetch or ack someone else\'s mailbox', async () => {
    const victim = generateMailboxKey()
    const thief = generateMailboxKey()
    const victimName = mailboxName(victim.publicKey)
    const payload = new TextEncoder().encode('for the victim only')
    await core.deposit([envelope(victimName, payload)])
    const proof = signProof(thief, 'fetch', storePeerBytes(), await core.challenge())
    await expect(core.fetch(victimName, proof, new Uint8Array(0), 10)).to.eventually.be.rejectedWith(WrongMailboxError)

    const ids = [envelopeId(payload)]
    const ackProof = signProof(thief, 'ack', storePeerBytes(), await core.challenge(), ids[0])
    await expect(core.ack({ mailbox: victimName, ids, storePeer: Uint8Array.from(storePeerBytes()), proof: ackProof })).to.eventually.be.rejectedWith(WrongMailboxError)
    // still there for its owner
    const page = await core.fetch(victimName, signProof(victim, 'fetch', storePeerBytes(), await core.challenge()), new Uint8Array(0), 10)
    expect(page.envelopes).to.have.length(1)
  })

  it('never serves an expired message, even before the sweeper runs', async () => {
    const key = generateMailboxKey()
    const name = mailboxName(key.publicKey)
    await core.deposit([envelope(name, new TextEncoder().encode('short-lived'), 300), envelope(name, new TextEncoder().encode('long-lived'))])
    await new Promise(resolve => setTimeout(resolve, 500))
    const page = await core.fetch(name, signProof(key, 'fetch', storePeerBytes(), await core.challenge()), new Uint8Array(0), 10)
    expect(page.envelopes.map(e => new TextDecoder().decode(e.payload))).to.deep.equal(['long-lived'])
    const before = store.murmur.store.status()?.messages ?? 0
    expect(await store.murmur.store.server?.sweep()).to.equal(1)
    expect(store.murmur.store.status()?.messages).to.equal(before - 1)
  })

  it('refuses an over-quota deposit with the quota error and leaves other mailboxes alone', async () => {
    const full = mailboxName(generateMailboxKey().publicKey)
    const fine = generateMailboxKey()
    await core.deposit([1, 2, 3, 4, 5].map(i => envelope(full, Uint8Array.of(i, 9, 9))))
    await expect(core.deposit([envelope(full, Uint8Array.of(6, 9, 9))])).to.eventually.be.rejectedWith(MailboxQuotaError)
    await core.deposit([envelope(mailboxName(fine.publicKey), Uint8Array.of(7, 7))])
    const page = await core.fetch(mailboxName(fine.publicKey), signProof(fine, 'fetch', storePeerBytes(), await core.challenge()), new Uint8Array(0), 10)
    expect(page.envelopes).to.have.length(1)
    // through the policy layer the caller sees the same error
    await expect(client.store.deposit(full, Uint8Array.of(8, 8))).to.eventually.be.rejectedWith(MailboxQuotaError)
  })

  it('refuses bad envelopes with clear errors', async () => {
    const name = mailboxName(generateMailboxKey().publicKey)
    const bad = { ...envelope(name, Uint8Array.of(1)), id: new Uint8Array(32) }
    await expect(core.deposit([bad])).to.eventually.be.rejectedWith(StoreRequestError, /sha256/)
    await expect(core.deposit([envelope(name, new Uint8Array(70_000))])).to.eventually.be.rejectedWith(StoreMessageTooLargeError)
    const stale = { ...envelope(name, Uint8Array.of(2)), timestamp: 1000n }
    await expect(core.deposit([stale])).to.eventually.be.rejectedWith(StoreRequestError, /clock/)
  })

  it('rate-limits deposits per peer', async () => {
    const name = mailboxName(generateMailboxKey().publicKey)
    // the burst is 50 envelopes, refilled at 1 per second: a batch of 60 exceeds it, and nothing of it is kept
    await expect(core.deposit(Array.from({ length: 60 }, (_, i) => envelope(name, Uint8Array.of(i, 1, 2, 3))))).to.eventually.be.rejectedWith(DepositRateLimitError, /per peer/)
    expect(store.murmur.store.server?.db.mailboxes.get(Buffer.from(name).toString('hex'))?.messages ?? 0).to.equal(0)
  })

  it('survives fuzzed requests on the wire and keeps serving', async () => {
    const transport = new DirectTransport(client.node.libp2p)
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      const res = StoreResponse.decode(await transport.exchange(store.murmur.peerId, bytes, { path: 'tx' }))
      expect(Object.values(StoreResponse.Status)).to.include(res.status)
      expect(res.status).to.not.equal(StoreResponse.Status.OK)
    }), { seed: 42, numRuns: 60 })
    expect((await core.challenge()).length).to.equal(32)
  })

  it('counts what it does in murmur_store_* metrics', async () => {
    const text = await registry.metrics()
    expect(text).to.match(/murmur_store_deposits_total\{result="ok"\} \d+/)
    expect(text).to.match(/murmur_store_deposits_total\{result="MailboxQuotaError"\} [1-9]/)
    expect(text).to.match(/murmur_store_requests_total\{type="fetch",status="unauthorized"\} [1-9]/)
    expect(text).to.match(/murmur_store_expired_total [1-9]/)
    expect(text).to.match(/murmur_store_messages [1-9]/)
  })
})

describe('store protocol decoder', () => {
  it('throws only StoreRequestError or StoreMessageTooLargeError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      try {
        decodeRequest(bytes)
      } catch (err) {
        expect(err).to.satisfy((e: unknown) => e instanceof StoreRequestError || e instanceof StoreMessageTooLargeError || e instanceof MailboxProofRequiredError)
      }
    }), { seed: 7, numRuns: 3000 })
  })

  it('throws only store errors on mutated valid requests', () => {
    const key = generateMailboxKey()
    const valid = StoreRequest.encode({
      type: StoreRequest.Type.FETCH,
      fetch: { mailbox: mailboxName(key.publicKey), cursor: new Uint8Array(0), limit: 5, proof: signProof(key, 'fetch', peerIdFromString('12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8').toMultihash().bytes, new Uint8Array(32)) }
    })
    expect(decodeRequest(valid).fetch?.limit).to.equal(5)
    fc.assert(fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length), (at, value, cut) => {
      const mutated = Uint8Array.from(valid)
      mutated[at] = value
      try {
        decodeRequest(mutated.subarray(0, Math.max(cut, at + 1)))
      } catch (err) {
        expect(err).to.satisfy((e: unknown) => e instanceof StoreRequestError || e instanceof StoreMessageTooLargeError || e instanceof MailboxProofRequiredError)
      }
    }), { seed: 11, numRuns: 3000 })
  })

  it('checks PUBLISH / LOOKUP: a "/<namespace>/<rest>" key of bounded size, a bounded non-empty record', () => {
    const key = new TextEncoder().encode('/murmur-prekeys/ab')
    expect(decodeRequest(StoreRequest.encode({ type: StoreRequest.Type.PUBLISH, publish: { key, value: new Uint8Array(10) } })).publish?.key).to.deep.equal(key)
    expect(decodeRequest(StoreRequest.encode({ type: StoreRequest.Type.LOOKUP, lookup: { key } })).lookup?.key).to.deep.equal(key)
    const bad: Array<[StoreRequest, new (...args: any[]) => Error]> = [
      [{ type: StoreRequest.Type.PUBLISH }, StoreRequestError],
      [{ type: StoreRequest.Type.PUBLISH, publish: { key, value: new Uint8Array(0) } }, StoreRequestError],
      [{ type: StoreRequest.Type.PUBLISH, publish: { key: new TextEncoder().encode('no-namespace'), value: new Uint8Array(1) } }, StoreRequestError],
      [{ type: StoreRequest.Type.PUBLISH, publish: { key: new TextEncoder().encode('//x'), value: new Uint8Array(1) } }, StoreRequestError],
      [{ type: StoreRequest.Type.PUBLISH, publish: { key: new Uint8Array(300).fill(0x2f), value: new Uint8Array(1) } }, StoreRequestError],
      [{ type: StoreRequest.Type.PUBLISH, publish: { key, value: new Uint8Array(16 * 1024 + 1) } }, StoreMessageTooLargeError],
      [{ type: StoreRequest.Type.LOOKUP }, StoreRequestError],
      [{ type: StoreRequest.Type.LOOKUP, lookup: { key: new Uint8Array(0) } }, StoreRequestError]
    ]
    for (const [req, ErrorClass] of bad) {
      expect(() => decodeRequest(StoreRequest.encode(req))).to.throw(ErrorClass)
    }
  })
})
