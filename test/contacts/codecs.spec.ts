import { sha256 } from '@noble/hashes/sha2.js'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import fc from 'fast-check'
import { toString } from 'uint8arrays'
import {
  bundleKey, CARD_PREFIX, ContactCardError, decodeBody, decodeBundle, decodeCard, decodeEnvelope, encodeBody, encodeCard,
  EnvelopeFormatError, MessageFormatError, ONE_TIME_PREKEY_GRACE_MS, ONE_TIME_PREKEYS_TARGET, PrekeyBundleError, PrekeyStore, selectBundleRecord, signBundle,
  SIGNED_PREKEY_ROTATION_MS, validateBundleRecord, WireError
} from '../../src/contacts/index.ts'
import { encodeEnvelope } from '../../src/contacts/messages.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/contacts/transport.ts'
import { encodePublicIdentity, MessagingIdentity } from '../../src/identity/index.ts'
import type { Body } from '../../src/contacts/index.ts'

const SEED = 0x6d75726d
const PEER = '12D3KooWGRUVh2upP8UdHhqLu5B6nz1cpcvRxWGJdmBJ3QmpKZ9a'

function card (): string {
  return encodeCard({ identity: MessagingIdentity.generate().publicIdentity, mailbox: new Uint8Array(32).fill(7), peers: [PEER] })
}

/** Re-encodes a card body with a correct checksum, to test what lies behind it */
function withChecksum (body: Uint8Array): string {
  const out = new Uint8Array(body.length + 4)
  out.set(body)
  out.set(sha256(body).subarray(0, 4), body.length)
  return CARD_PREFIX + toString(out, 'base58btc')
}

describe('contacts: contact cards', () => {
  it('round-trips identity, mailbox and peers', () => {
    const id = MessagingIdentity.generate()
    const text = encodeCard({ identity: id.publicIdentity, mailbox: new Uint8Array(32).fill(1), peers: [PEER] })
    expect(text.startsWith(CARD_PREFIX)).to.equal(true)
    const back = decodeCard(`  ${text}\n`)
    expect(encodePublicIdentity(back.identity)).to.deep.equal(encodePublicIdentity(id.publicIdentity))
    expect(back.mailbox).to.deep.equal(new Uint8Array(32).fill(1))
    expect(back.peers).to.deep.equal([PEER])
  })

  it('a wrong checksum, a truncated card, a wrong version, a missing prefix: each a clear ContactCardError', () => {
    const text = card()
    const body = text.slice(CARD_PREFIX.length)
    // change one base58 digit in the middle
    const i = Math.floor(body.length / 2)
    const altered = CARD_PREFIX + body.slice(0, i) + (body[i] === '2' ? '3' : '2') + body.slice(i + 1)
    expect(() => decodeCard(altered)).to.throw(ContactCardError, /checksum/)
    expect(() => decodeCard(text.slice(0, text.length - 10))).to.throw(ContactCardError, /checksum|truncated/)
    expect(() => decodeCard(text.slice(0, 20))).to.throw(ContactCardError, /truncated/)
    const raw = decodeRaw(text)
    const v2 = raw.slice(0, raw.length - 4)
    v2[0] = 2
    expect(() => decodeCard(withChecksum(v2))).to.throw(ContactCardError, /version 2 is not supported/)
    expect(() => decodeCard(body)).to.throw(ContactCardError, /starts with "murmur:"/)
    expect(() => decodeCard(CARD_PREFIX + '0OIl')).to.throw(ContactCardError, /base58/)
    const trailing = new Uint8Array(raw.length - 4 + 1)
    trailing.set(raw.subarray(0, raw.length - 4))
    expect(() => decodeCard(withChecksum(trailing))).to.throw(ContactCardError, /trailing/)
  })

  it('fuzz: any string, and any mutation of a valid card, decodes or throws ContactCardError', () => {
    const valid = card()
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      expectOnly(ContactCardError, () => decodeCard(s))
      expectOnly(ContactCardError, () => decodeCard(CARD_PREFIX + s))
    }), { seed: SEED, numRuns: 300 })
    fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), fc.nat({ max: valid.length }), (at, ch, cut) => {
      expectOnly(ContactCardError, () => decodeCard(valid.slice(0, at) + ch + valid.slice(at + 1)))
      expectOnly(ContactCardError, () => decodeCard(valid.slice(0, cut)))
    }), { seed: SEED, numRuns: 300 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expectOnly(ContactCardError, () => decodeCard(withChecksum(bytes)))
    }), { seed: SEED, numRuns: 300 })
  })
})

function decodeRaw (text: string): Uint8Array {
  // base58 via the card codec's own dependency
  return Uint8Array.from(Buffer.from(toHexFromBase58(text.slice(CARD_PREFIX.length)), 'hex'))
}

function toHexFromBase58 (s: string): string {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let n = 0n
  for (const c of s) {
    n = n * 58n + BigInt(alphabet.indexOf(c))
  }
  let hex = n.toString(16)
  if (hex.length % 2 === 1) {
    hex = '0' + hex
  }
  const zeros = s.match(/^1*/)?.[0].length ?? 0
  return '00'.repeat(zeros) + hex
}

function expectOnly (cls: new (...args: any[]) => Error, fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof cls)) {
      throw new Error(`expected only ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`)
    }
  }
}

describe('contacts: message and envelope decoders', () => {
  const body: Body = { type: 'MESSAGE', id: 'ab'.repeat(16), timestamp: 1_700_000_000_000, content: 'héllo ✓', replyTo: 'cd'.repeat(8), receipts: [], mailbox: new Uint8Array(32).fill(3) }

  it('bodies round-trip, and bad ones are refused clearly', () => {
    expect(decodeBody(encodeBody(body))).to.deep.equal({ ...body, target: undefined, card: undefined })
    const r = { type: 'RECEIPT' as const, id: '', timestamp: 1, content: '', receipts: ['aa', 'bb'] }
    expect(decodeBody(encodeBody(r)).receipts).to.deep.equal(['aa', 'bb'])
    expect(() => decodeBody(encodeBody({ ...body, type: 'EDIT' }))).to.throw(MessageFormatError, /needs the id/)
    expect(() => decodeBody(encodeBody({ ...body, id: 'XYZ' }))).to.throw(MessageFormatError, /hex/)
    const bytes = encodeBody(body)
    expect(() => decodeBody(bytes.subarray(0, bytes.length - 1))).to.throw(MessageFormatError, /Truncated/)
    const bad = bytes.slice(); bad[0] = 9
    expect(() => decodeBody(bad)).to.throw(MessageFormatError, /Unknown direct message type/)
  })

  it('fuzz: body, envelope, bundle and live-protocol decoders throw only their own errors', () => {
    const valid = encodeBody(body)
    const id = MessagingIdentity.generate()
    const env = encodeEnvelope({ sender: encodePublicIdentity(id.publicIdentity), header: new Uint8Array(40), ciphertext: new Uint8Array(20), init: { identity: id.publicIdentity, ephemeral: new Uint8Array(32).fill(9), signedPrekeyId: 1, oneTimePrekeyId: 2 } }, encodePublicIdentity)
    expect(decodeEnvelope(env).init?.oneTimePrekeyId).to.equal(2)
    const bundle = signBundle(id, { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(1), oneTimePrekeys: [{ id: 2, key: new Uint8Array(32).fill(2) }], peers: [PEER], sequence: 5 })
    const mutate = (base: Uint8Array): fc.Arbitrary<Uint8Array> => fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => { const b = base.slice(); b[at] ^= x; return b }),
      fc.nat({ max: base.length }).map(n => base.slice(0, n))
    )
    fc.assert(fc.property(mutate(valid), (b) => { expectOnly(MessageFormatError, () => decodeBody(b)) }), { seed: SEED, numRuns: 500 })
    fc.assert(fc.property(mutate(env), (b) => { expectOnly(EnvelopeFormatError, () => decodeEnvelope(b)) }), { seed: SEED, numRuns: 500 })
    fc.assert(fc.property(mutate(bundle), (b) => {
      expectOnly(PrekeyBundleError, () => decodeBundle(b))
    }), { seed: SEED, numRuns: 300 })
    const req = encodeRequest({ sealed: new Uint8Array(10) })
    const res = encodeResponse({ ok: false, error: 'x', bundle: new Uint8Array(3) })
    expect(decodeResponse(res)).to.deep.equal({ ok: false, error: 'x', bundle: new Uint8Array(3) })
    fc.assert(fc.property(mutate(req), mutate(res), (a, b) => {
      expectOnly(Error, () => decodeRequest(a))
      expectOnly(WireError, () => decodeResponse(b))
    }), { seed: SEED, numRuns: 300 })
  })
})

describe('contacts: prekey bundles and the prekey store', () => {
  it('a bundle verifies; a forged or misfiled one is refused by the DHT validator; the newest wins', async () => {
    const id = MessagingIdentity.generate()
    const other = MessagingIdentity.generate()
    const contents = { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(1), oneTimePrekeys: [], peers: [PEER], sequence: 10 }
    const b1 = signBundle(id, contents)
    const b2 = signBundle(id, { ...contents, sequence: 20 })
    await validateBundleRecord(bundleKey(id.publicIdentity.signingKey), b1)
    await expect(validateBundleRecord(bundleKey(other.publicIdentity.signingKey), b1)).to.be.rejectedWith(PrekeyBundleError, /another identity/)
    // a signed prekey swapped in by someone else
    const forged = b1.slice()
    forged[1 + 64 + 4] ^= 1
    await expect(validateBundleRecord(bundleKey(id.publicIdentity.signingKey), forged)).to.be.rejectedWith(PrekeyBundleError, /not signed/)
    expect(selectBundleRecord(bundleKey(id.publicIdentity.signingKey), [b1, b2, forged])).to.equal(1)
  })

  it('rotates the signed prekey weekly, keeps the old one for a grace week, replenishes one-time prekeys', async () => {
    let now = 1_000_000
    const store = new PrekeyStore(new MemoryDatastore(), () => now)
    expect(await store.maintain()).to.equal(true)
    const first = await store.contents()
    expect(first.oneTimePrekeys).to.have.length(ONE_TIME_PREKEYS_TARGET)
    expect(await store.maintain()).to.equal(false)
    now += SIGNED_PREKEY_ROTATION_MS
    expect(await store.maintain()).to.equal(true)
    const second = await store.contents()
    expect(second.signedPrekeyId).to.not.equal(first.signedPrekeyId)
    expect(await store.signedPrekey(first.signedPrekeyId)).to.not.equal(undefined)
    now += 2 * SIGNED_PREKEY_ROTATION_MS
    await store.maintain()
    expect(await store.signedPrekey(first.signedPrekeyId)).to.equal(undefined)
    for (const k of second.oneTimePrekeys.slice(0, 15)) {
      expect(await store.useOneTime(k.id)).to.equal(true)
    }
    expect((await store.contents()).oneTimePrekeys).to.have.length(5)
    expect(await store.maintain()).to.equal(true)
    expect((await store.contents()).oneTimePrekeys).to.have.length(ONE_TIME_PREKEYS_TARGET)
  })

  it('a used one-time prekey leaves the bundle at once and opens other first messages for a grace week, its first use counting', async () => {
    let now = 1_000_000
    const store = new PrekeyStore(new MemoryDatastore(), () => now)
    await store.maintain()
    const [k] = (await store.contents()).oneTimePrekeys
    const secret = (await store.oneTime(k.id))?.secretKey
    expect(await store.useOneTime(k.id)).to.equal(true)
    expect((await store.contents()).oneTimePrekeys.map(o => o.id)).to.not.include(k.id)
    // a second contact picked the same key from the same bundle while its owner was away
    now += ONE_TIME_PREKEY_GRACE_MS - 1
    expect(await store.useOneTime(k.id)).to.equal(false)
    expect((await store.oneTime(k.id))?.secretKey).to.deep.equal(secret)
    await store.maintain()
    expect(await store.oneTime(k.id)).to.not.equal(undefined)
    // the second use did not restart the grace: a week after the first, the secret is gone
    now += 2
    expect(await store.oneTime(k.id)).to.equal(undefined)
    await store.maintain()
    now -= 2
    expect(await store.oneTime(k.id)).to.equal(undefined)
  })
})
