import { expect } from 'aegir/chai'
import { configFromFlags } from '../../src/daemon/commands/config-flags.ts'
import { ConfigError } from '../../src/daemon/errors.ts'
import { StoreDb } from '../../src/store/db.ts'
import { Envelope as EnvelopeCodec, envelopeId } from '../../src/store/index.ts'
import { tempDir } from '../fixtures/cli.ts'
import type { Envelope } from '../../src/store/index.ts'

const QUOTAS = { maxMessagesPerMailbox: 1e6, maxBytesPerMailbox: 2 ** 40, maxBytes: 2 ** 40, maxMessages: 1e7 }

function envelopes (mailbox: Uint8Array, n: number, tag: number): Envelope[] {
  return Array.from({ length: n }, (_, i) => {
    const payload = Uint8Array.of(tag, i >> 8, i & 0xff, 7)
    return { mailbox: Uint8Array.from(mailbox), id: envelopeId(payload), timestamp: BigInt(Date.now()) * 1000n + BigInt(i), expires: BigInt(Date.now() + 60_000), payload }
  })
}

describe('store database', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const dbs: StoreDb[] = []

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => {
    await Promise.all(dbs.map(async db => db.close()))
    dbs.length = 0
    await tmp.cleanup()
  })

  async function open (name: string): Promise<StoreDb> {
    const db = new StoreDb(`${tmp.dir}/${name}`, QUOTAS)
    await db.open()
    dbs.push(db)
    return db
  }

  it('finds the few differences between mostly equal replicas without listing everything', async () => {
    const mailbox = new Uint8Array(32).fill(3)
    const a = await open('a')
    const b = await open('b')
    const shared = envelopes(mailbox, 2000, 1)
    await a.put(shared)
    await b.put(shared)
    await a.put(envelopes(mailbox, 2, 2))
    const all = (): boolean => true
    const sa = a.summary(all)
    const sb = b.summary(all)
    const differing = new Set(sa.flatMap((d, i) => Buffer.compare(d, sb[i]) !== 0 ? [i] : []))
    expect(differing.size).to.be.within(1, 2)
    // what crosses the wire for the differing buckets is a few dozen items, not 2,002
    const items = a.itemsIn(differing, all)
    expect(items.length).to.be.below(60)
    expect(items.filter(i => b.has(i.mailbox, i.id) == null)).to.have.length(2)
  })

  it('a page bounded in bytes takes the envelopes that fit exactly, and gives one back when saying "more" needs its room', async () => {
    const mailbox = new Uint8Array(32).fill(5)
    const db = await open('p')
    const list = envelopes(mailbox, 10, 4)
    await db.put(list)
    // each envelope as a repeated field of a response: tag, length, bytes
    const sizes = list.map(e => { const n = EnvelopeCodec.encode(e).length; return 1 + (n < 128 ? 1 : 2) + n })
    const three = sizes[0] + sizes[1] + sizes[2]
    const at = await db.page(mailbox, { limit: 100, maxBytes: three })
    expect(at.envelopes.map(e => e.payload)).to.deep.equal(list.slice(0, 3).map(e => e.payload))
    expect(at.more).to.equal(true)
    // one byte less: two
    expect((await db.page(mailbox, { limit: 100, maxBytes: three - 1 })).envelopes).to.have.length(2)
    // exactly three, but "more" costs two bytes that are not there: two, and the cursor after the second
    const cut = await db.page(mailbox, { limit: 100, maxBytes: three, moreBytes: 2 })
    expect(cut.envelopes).to.have.length(2)
    const next = await db.page(mailbox, { cursor: cut.cursor, limit: 1 })
    expect(next.envelopes[0].payload).to.deep.equal(list[2].payload)
    // the last envelopes: no "more", nothing to give back
    const tail = await db.page(mailbox, { cursor: (await db.page(mailbox, { limit: 8 })).cursor, limit: 100, maxBytes: sizes[8] + sizes[9], moreBytes: 2 })
    expect(tail.envelopes).to.have.length(2)
    expect(tail.more).to.equal(false)
    // never an empty page: one envelope larger than the bound still comes
    expect((await db.page(mailbox, { limit: 100, maxBytes: 1 })).envelopes).to.have.length(1)
  })

  it('rebuilds its counts and tombstones after a restart', async () => {
    const mailbox = new Uint8Array(32).fill(4)
    let db = await open('c')
    const list = envelopes(mailbox, 10, 3)
    await db.put(list)
    // the database trusts its caller with acks: the server checks the owner's signature first
    await db.ack({ mailbox, ids: list.slice(0, 3).map(e => e.id), storePeer: Uint8Array.of(1), proof: { mailboxKey: new Uint8Array(32), challenge: new Uint8Array(32), signature: new Uint8Array(64) } })
    await db.close()
    dbs.length = 0
    db = await open('c')
    expect(db.totals()).to.include({ mailboxes: 1, messages: 7, bytes: 28, tombstones: 3 })
    // an acked message deposited again (a late replica) does not come back
    expect(await db.put([list[0]])).to.equal(0)
    expect((await db.page(mailbox, { limit: 100 })).envelopes).to.have.length(7)
  })

  it('an ack and a copy of the same message arriving together leave it acked, on disk as in memory (it never comes back)', async () => {
    const mailbox = new Uint8Array(32).fill(6)
    let db = await open('r')
    const [message] = envelopes(mailbox, 1, 5)
    const proof = { mailboxKey: new Uint8Array(32), challenge: new Uint8Array(32), signature: new Uint8Array(64) }
    // the owner's ack (of a message this replica has not seen yet) is being written when a late
    // replica's copy of that message comes in: a replication push, or an anti-entropy pull
    const acked = db.ack({ mailbox, ids: [message.id], storePeer: Uint8Array.of(1), proof })
    const put = db.put([message])
    await Promise.all([acked, put])
    expect(await put, 'the copy is not stored').to.equal(0)
    expect(db.has(mailbox, message.id)).to.include({ tombstone: true })
    expect((await db.page(mailbox, { limit: 100 })).envelopes, 'served to the owner again').to.deep.equal([])
    expect(db.totals()).to.include({ messages: 0, tombstones: 1, bytes: 0 })
    await db.close()
    dbs.length = 0
    db = await open('r')
    expect((await db.page(mailbox, { limit: 100 })).envelopes, 'served again after a restart').to.deep.equal([])
    expect(db.totals()).to.include({ messages: 0, tombstones: 1, bytes: 0 })
  })
})

describe('store daemon flags', () => {
  it('reads sizes and durations and refuses a TTL above 7 days', () => {
    expect(configFromFlags({ 'store-max-bytes': '1G', 'store-ttl': '36h', 'store-mailbox-messages': '500' })).to.deep.equal({ storeMaxBytes: 1024 ** 3, storeTtl: '36h', storeMailboxMessages: 500 })
    expect(() => configFromFlags({ 'store-ttl': '8d' })).to.throw(ConfigError, /--store-ttl.*7d/)
    expect(() => configFromFlags({ 'store-max-bytes': 'lots' })).to.throw(ConfigError, /--store-max-bytes/)
    expect(() => configFromFlags({ 'store-deposit-rate': '-3' })).to.throw(ConfigError, /--store-deposit-rate/)
  })
})
