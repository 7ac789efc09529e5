import { readFileSync } from 'node:fs'
import { x25519 } from '@noble/curves/ed25519.js'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { DecryptionError, DoubleRatchet, DuplicateMessageError, kdfCk, kdfRk, TooManySkippedMessagesError, x3dhInitiate, x3dhRespond } from '../../src/contacts/index.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'
import { FIXED, h, hex, runScript, unhex } from './fixed.ts'
import { refPublic, RefRatchet, refX3dh, refDh } from './reference.ts'
import type { KeyPair, KeyPairSource, RatchetOptions } from '../../src/contacts/index.ts'

const vectors = (name: string): any => JSON.parse(readFileSync(new URL(`../vectors/contacts/${name}`, import.meta.url), 'utf8'))

function pair (secret: Uint8Array): KeyPair {
  return { secretKey: secret.slice(), publicKey: x25519.getPublicKey(secret) }
}

function fixedSource (secrets: Uint8Array[]): KeyPairSource {
  const queue = secrets.map(s => s.slice())
  return () => {
    const s = queue.shift()
    if (s == null) {
      throw new Error('out of fixed keys')
    }
    return pair(s)
  }
}

function identity (seed: Uint8Array, dh: Uint8Array): MessagingIdentity {
  const secret = new Uint8Array(65)
  secret[0] = 1
  secret.set(seed, 1)
  secret.set(dh, 33)
  return MessagingIdentity.import(secret)
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** A fresh Alice/Bob pair through X3DH with random keys */
function session (opts: RatchetOptions = {}): { alice: DoubleRatchet, bob: DoubleRatchet } {
  const a = MessagingIdentity.generate()
  const b = MessagingIdentity.generate()
  const spk = pair(x25519.utils.randomSecretKey())
  const initiated = x3dhInitiate(a, { identity: b.publicIdentity, signedPrekeyId: 1, signedPrekey: spk.publicKey })
  const responded = x3dhRespond(b, initiated.init, spk)
  return {
    alice: DoubleRatchet.initAlice(initiated.sharedKey, spk.publicKey, initiated.associatedData, opts),
    bob: DoubleRatchet.initBob(responded.sharedKey, spk, responded.associatedData, opts)
  }
}

describe('contacts: KDF chains and X3DH + Double Ratchet vectors', () => {
  it('KDF_RK and KDF_CK reproduce the vectors', () => {
    const v = vectors('kdf.json')
    for (const c of v.kdfRk) {
      const out = kdfRk(unhex(c.rootKey), unhex(c.dhOut))
      expect(hex(out.rootKey)).to.equal(c.nextRootKey)
      expect(hex(out.chainKey)).to.equal(c.chainKey)
    }
    let chain = unhex(v.kdfCk[0].chainKey)
    for (const c of v.kdfCk) {
      expect(hex(chain)).to.equal(c.chainKey)
      const out = kdfCk(chain)
      expect(hex(out.messageKey)).to.equal(c.messageKey)
      expect(hex(out.chainKey)).to.equal(c.nextChainKey)
      chain = out.chainKey
    }
  })

  it('X3DH on both sides gives the vector\'s shared key and associated data', () => {
    const v = vectors('x3dh-ratchet.json')
    const alice = identity(FIXED.aliceSigningSeed, FIXED.aliceDhSecret)
    const bob = identity(FIXED.bobSigningSeed, FIXED.bobDhSecret)
    expect(hex(new Uint8Array([...alice.publicIdentity.signingKey, ...alice.publicIdentity.dhKey]))).to.equal(v.inputs.aliceIdentity)
    const spk = pair(FIXED.bobSignedPrekey)
    const opk = pair(FIXED.bobOneTimePrekey)
    const initiated = x3dhInitiate(alice, { identity: bob.publicIdentity, signedPrekeyId: 7, signedPrekey: spk.publicKey, oneTimePrekey: { id: 9, key: opk.publicKey } }, pair(FIXED.aliceEphemeral))
    expect(hex(initiated.sharedKey)).to.equal(v.x3dh.sharedKey)
    expect(hex(initiated.associatedData)).to.equal(v.x3dh.associatedData)
    expect(hex(initiated.init.ephemeral)).to.equal(v.inputs.aliceEphemeral)
    expect(initiated.init).to.include({ signedPrekeyId: 7, oneTimePrekeyId: 9 })
    const responded = x3dhRespond(bob, initiated.init, spk, opk)
    expect(hex(responded.sharedKey)).to.equal(v.x3dh.sharedKey)
    expect(hex(responded.associatedData)).to.equal(v.x3dh.associatedData)
  })

  it('the Double Ratchet reproduces every header and ciphertext of the scripted exchange', () => {
    const v = vectors('x3dh-ratchet.json')
    const sk = unhex(v.x3dh.sharedKey)
    const ad = unhex(v.x3dh.associatedData)
    const alice = DoubleRatchet.initAlice(sk, unhex(v.inputs.bobSignedPrekey), ad, { generateKeyPair: fixedSource(FIXED.aliceRatchet) })
    const bob = DoubleRatchet.initBob(sk, pair(FIXED.bobSignedPrekey), ad, { generateKeyPair: fixedSource(FIXED.bobRatchet) })
    const messages = runScript(
      { encrypt: (p) => alice.encrypt(p), decrypt: (header, ciphertext) => alice.decrypt({ header, ciphertext }) },
      { encrypt: (p) => bob.encrypt(p), decrypt: (header, ciphertext) => bob.decrypt({ header, ciphertext }) }
    )
    expect(messages).to.deep.equal(v.messages)
  })

  it('the reference implementation (node:crypto) reproduces the same vectors', () => {
    const v = vectors('x3dh-ratchet.json')
    const spk = refPublic(FIXED.bobSignedPrekey)
    const sk = refX3dh([refDh(FIXED.aliceDhSecret, spk), refDh(FIXED.aliceEphemeral, refPublic(FIXED.bobDhSecret)), refDh(FIXED.aliceEphemeral, spk), refDh(FIXED.aliceEphemeral, refPublic(FIXED.bobOneTimePrekey))])
    expect(hex(sk)).to.equal(v.x3dh.sharedKey)
    const ad = unhex(v.x3dh.associatedData)
    const alice = RefRatchet.initAlice(sk, spk, ad, FIXED.aliceRatchet)
    const bob = RefRatchet.initBob(sk, FIXED.bobSignedPrekey, ad, FIXED.bobRatchet)
    expect(runScript(
      { encrypt: (p) => alice.encrypt(p), decrypt: (hd, c) => alice.decrypt(hd, c) },
      { encrypt: (p) => bob.encrypt(p), decrypt: (hd, c) => bob.decrypt(hd, c) }
    )).to.deep.equal(v.messages)
  })

  it('interoperates with the reference on fresh keys: fast Alice, reference Bob, and the other way', () => {
    for (let round = 0; round < 2; round++) {
      const sk = h(`interop-sk-${round}`)
      const ad = h(`interop-ad-${round}`)
      const bobSpk = h(`interop-spk-${round}`)
      const aSecrets = Array.from({ length: 8 }, (_, i) => h(`interop-a-${round}-${i}`))
      const bSecrets = Array.from({ length: 8 }, (_, i) => h(`interop-b-${round}-${i}`))
      const fastIsAlice = round === 0
      const alice = fastIsAlice
        ? DoubleRatchet.initAlice(sk, refPublic(bobSpk), ad, { generateKeyPair: fixedSource(aSecrets) })
        : RefRatchet.initAlice(sk, refPublic(bobSpk), ad, aSecrets)
      const bob = fastIsAlice
        ? RefRatchet.initBob(sk, bobSpk, ad, bSecrets)
        : DoubleRatchet.initBob(sk, pair(bobSpk), ad, { generateKeyPair: fixedSource(bSecrets) })
      const party = (p: DoubleRatchet | RefRatchet): { encrypt(pt: Uint8Array): { header: Uint8Array, ciphertext: Uint8Array }, decrypt(hd: Uint8Array, c: Uint8Array): Uint8Array } => p instanceof DoubleRatchet
        ? { encrypt: (pt) => p.encrypt(pt), decrypt: (header, ciphertext) => p.decrypt({ header, ciphertext }) }
        : { encrypt: (pt) => p.encrypt(pt), decrypt: (hd, c) => p.decrypt(hd, c) }
      expect(runScript(party(alice), party(bob))).to.have.length(8)
    }
  })
})

describe('contacts: Double Ratchet properties', () => {
  it('forward secrecy: a decrypted message\'s key is gone, and a snapshot of the current state decrypts no earlier message', () => {
    const { alice, bob } = session()
    const sent = ['a', 'b', 'c', 'd'].map(t => alice.encrypt(text(t)))
    // out of order: c first, so a and b are held as skipped keys
    expect(str(bob.decrypt(sent[2]))).to.equal('c')
    expect(bob.skippedKeys).to.equal(2)
    expect(str(bob.decrypt(sent[0]))).to.equal('a')
    expect(bob.skippedKeys).to.equal(1)
    // the key of "a" was used and wiped: decrypting it again fails
    expect(() => bob.decrypt(sent[0])).to.throw(DuplicateMessageError)
    expect(() => bob.decrypt(sent[2])).to.throw(DuplicateMessageError)
    // a reply and an answer move both DH ratchets on
    const reply = bob.encrypt(text('reply'))
    expect(str(alice.decrypt(reply))).to.equal('reply')
    const later = alice.encrypt(text('later'))
    expect(str(bob.decrypt(later))).to.equal('later')
    expect(str(bob.decrypt(sent[1]))).to.equal('b')
    // "d" was still pending (its key held as skipped) until now
    expect(str(bob.decrypt(sent[3]))).to.equal('d')

    // an attacker takes Bob's whole current state and tries every earlier message
    const stolen = DoubleRatchet.deserialize(bob.serialize())
    for (const m of [...sent, later]) {
      expect(() => DoubleRatchet.deserialize(bob.serialize()).decrypt(m)).to.throw()
      expect(() => stolen.decrypt(m)).to.throw()
    }
    // and the state holds no message key any more
    expect(bob.skippedKeys).to.equal(0)
    expect(JSON.parse(bob.serialize()).skipped).to.deep.equal([])
    // Alice's state likewise cannot open Bob's earlier reply
    expect(() => DoubleRatchet.deserialize(alice.serialize()).decrypt(reply)).to.throw()
    // the session itself goes on
    expect(str(bob.decrypt(alice.encrypt(text('still here'))))).to.equal('still here')
  })

  it('out of order and lost messages within MAX_SKIP are delivered; beyond it a clear error, and the session survives', () => {
    const { alice, bob } = session({ maxSkip: 10 })
    const sent = Array.from({ length: 30 }, (_, i) => alice.encrypt(text(`m${i}`)))
    expect(() => bob.decrypt(sent[25])).to.throw(TooManySkippedMessagesError, /at most 10/)
    expect(bob.counters.nr).to.equal(0)
    // m1..m4 lost; m5 arrives first, then m0 late
    expect(str(bob.decrypt(sent[5]))).to.equal('m5')
    expect(str(bob.decrypt(sent[0]))).to.equal('m0')
    for (let i = 15; i >= 6; i--) {
      expect(str(bob.decrypt(sent[i]))).to.equal(`m${i}`)
    }
    for (let i = 16; i < 30; i++) {
      expect(str(bob.decrypt(sent[i]))).to.equal(`m${i}`)
    }
    expect(bob.skippedKeys).to.equal(4)
    // previous chain's gap counted through PN when a new chain starts
    const r = bob.encrypt(text('r'))
    alice.decrypt(r)
    const next = alice.encrypt(text('next chain'))
    expect(str(bob.decrypt(next))).to.equal('next chain')
    expect(str(bob.decrypt(sent[3]))).to.equal('m3')
  })

  it('the skipped-key store is bounded: the oldest keys go first', () => {
    const { alice, bob } = session({ maxSkip: 50, maxSkippedKeys: 8 })
    const sent = Array.from({ length: 21 }, (_, i) => alice.encrypt(text(`m${i}`)))
    bob.decrypt(sent[20])
    expect(bob.skippedKeys).to.equal(8)
    expect(() => bob.decrypt(sent[0])).to.throw(DuplicateMessageError)
    expect(str(bob.decrypt(sent[19]))).to.equal('m19')
  })

  it('a tampered ciphertext or header is rejected and the session still takes the next honest message', () => {
    const { alice, bob } = session()
    bob.decrypt(alice.encrypt(text('warm up')))
    alice.decrypt(bob.encrypt(text('warm up too')))
    const m = alice.encrypt(text('secret'))
    const before = bob.serialize()
    const flips: Array<{ header: Uint8Array, ciphertext: Uint8Array }> = []
    const c = m.ciphertext.slice(); c[0] ^= 1; flips.push({ header: m.header, ciphertext: c })
    const t = m.ciphertext.slice(); t[t.length - 1] ^= 0x80; flips.push({ header: m.header, ciphertext: t })
    for (const at of [0, 31, 35, 39]) {
      const hd = m.header.slice(); hd[at] ^= 1; flips.push({ header: hd, ciphertext: m.ciphertext })
    }
    flips.push({ header: m.header.subarray(0, 39), ciphertext: m.ciphertext })
    flips.push({ header: m.header, ciphertext: m.ciphertext.subarray(0, 8) })
    for (const bad of flips) {
      expect(() => bob.decrypt(bad)).to.throw(DecryptionError)
      expect(bob.serialize()).to.equal(before)
    }
    expect(str(bob.decrypt(m))).to.equal('secret')
    expect(str(bob.decrypt(alice.encrypt(text('next'))))).to.equal('next')
  })

  it('fuzz: any header and ciphertext is refused with a ratchet error and leaves the session as it was', () => {
    const { alice, bob } = session({ maxSkip: 64 })
    bob.decrypt(alice.encrypt(text('warm up')))
    alice.decrypt(bob.encrypt(text('warm up too')))
    const honest = alice.encrypt(text('honest'))
    const before = bob.serialize()
    const mutated = fc.oneof(
      fc.record({ header: fc.uint8Array({ minLength: 0, maxLength: 48 }), ciphertext: fc.uint8Array({ maxLength: 64 }) }),
      fc.tuple(fc.nat({ max: 39 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => { const h = honest.header.slice(); h[at] ^= x; return { header: h, ciphertext: honest.ciphertext } }),
      fc.tuple(fc.nat({ max: honest.ciphertext.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => { const c = honest.ciphertext.slice(); c[at] ^= x; return { header: honest.header, ciphertext: c } })
    )
    fc.assert(fc.property(mutated, (m) => {
      try {
        bob.decrypt(m)
        return false
      } catch (err) {
        return (err instanceof DecryptionError || err instanceof TooManySkippedMessagesError || err instanceof DuplicateMessageError) && bob.serialize() === before
      }
    }), { seed: 0x6d75726d, numRuns: 200 })
    expect(str(bob.decrypt(honest))).to.equal('honest')
  })

  it('a session persisted and restored goes on where it was', () => {
    const { alice, bob } = session()
    const m0 = alice.encrypt(text('0'))
    const m1 = alice.encrypt(text('1'))
    bob.decrypt(m1)
    const restored = DoubleRatchet.deserialize(bob.serialize())
    expect(str(restored.decrypt(m0))).to.equal('0')
    const back = restored.encrypt(text('back'))
    expect(str(DoubleRatchet.deserialize(alice.serialize()).decrypt(back))).to.equal('back')
  })

  it('the responder cannot send before the first message arrives', () => {
    const { bob } = session()
    expect(() => bob.encrypt(text('too early'))).to.throw(DecryptionError)
  })
})
