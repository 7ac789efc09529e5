import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { decodePublicIdentity, encodePublicIdentity, IdentityFormatError, loadOrCreateIdentity, MessagingIdentity, open, seal, SealedBoxError, verifySignature } from '../../src/identity/index.ts'
import { tempDir } from '../fixtures/cli.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('messaging identity', () => {
  it('signs and verifies; a changed message or another key does not verify', () => {
    const alice = MessagingIdentity.generate()
    const bob = MessagingIdentity.generate()
    const sig = alice.sign(text('hello'))
    expect(verifySignature(alice.publicIdentity.signingKey, text('hello'), sig)).to.equal(true)
    expect(verifySignature(alice.publicIdentity.signingKey, text('hellO'), sig)).to.equal(false)
    expect(verifySignature(bob.publicIdentity.signingKey, text('hello'), sig)).to.equal(false)
    expect(verifySignature(alice.publicIdentity.signingKey, text('hello'), sig.subarray(1))).to.equal(false)
    expect(verifySignature(new Uint8Array(32).fill(0xff), text('hello'), sig)).to.equal(false)
  })

  it('agrees the same secret from both sides', () => {
    const a = MessagingIdentity.generate()
    const b = MessagingIdentity.generate()
    expect(a.dh(b.publicIdentity.dhKey)).to.deep.equal(b.dh(a.publicIdentity.dhKey))
  })

  it('exports and imports to the same identity; bad exports get a clear error', () => {
    const a = MessagingIdentity.generate()
    const again = MessagingIdentity.import(a.export())
    expect(again.id).to.equal(a.id)
    expect(again.publicIdentity).to.deep.equal(a.publicIdentity)
    expect(() => MessagingIdentity.import(a.export().subarray(1))).to.throw(IdentityFormatError, /65 bytes/)
    const wrongVersion = a.export()
    wrongVersion[0] = 9
    expect(() => MessagingIdentity.import(wrongVersion)).to.throw(IdentityFormatError, /version 9/)
  })

  it('encodes the public identity in 64 bytes and refuses what is not one', () => {
    const a = MessagingIdentity.generate()
    const bytes = encodePublicIdentity(a.publicIdentity)
    expect(bytes).to.have.length(64)
    expect(decodePublicIdentity(bytes)).to.deep.equal(a.publicIdentity)
    expect(() => decodePublicIdentity(bytes.subarray(0, 63))).to.throw(IdentityFormatError)
  })
})

describe('sealed boxes', () => {
  it('only the recipient opens a box, and only with the same associated data', () => {
    const bob = MessagingIdentity.generate()
    const eve = MessagingIdentity.generate()
    const box = seal(bob.publicIdentity.dhKey, text('epoch key'), text('group-1'))
    expect(new TextDecoder().decode(open(bob, box, text('group-1')))).to.equal('epoch key')
    expect(() => open(eve, box, text('group-1'))).to.throw(SealedBoxError)
    expect(() => open(bob, box, text('group-2'))).to.throw(SealedBoxError)
  })

  it('refuses a box changed in any byte, and a truncated one', () => {
    const bob = MessagingIdentity.generate()
    const box = seal(bob.publicIdentity.dhKey, text('x'.repeat(40)))
    for (let i = 0; i < box.length; i += 7) {
      const bad = box.slice()
      bad[i] ^= 0x01
      expect(() => open(bob, bad), `flip at byte ${i}`).to.throw(SealedBoxError)
    }
    expect(() => open(bob, box.subarray(0, 20))).to.throw(SealedBoxError)
  })

  it('two seals of the same message differ (a fresh ephemeral key each time)', () => {
    const bob = MessagingIdentity.generate()
    expect(seal(bob.publicIdentity.dhKey, text('same'))).to.not.deep.equal(seal(bob.publicIdentity.dhKey, text('same')))
  })
})

describe('identity storage', () => {
  it('creates identity.key with mode 0600 in a home and reads the same identity back', async () => {
    const tmp = await tempDir()
    try {
      const first = await loadOrCreateIdentity({ home: tmp.dir })
      expect(first.created).to.equal(true)
      expect((await stat(join(tmp.dir, 'identity.key'))).mode & 0o777).to.equal(0o600)
      const second = await loadOrCreateIdentity({ home: tmp.dir })
      expect(second.created).to.equal(false)
      expect(second.identity.id).to.equal(first.identity.id)
    } finally {
      await tmp.cleanup()
    }
  })

  it('keeps the identity in a datastore when there is no home', async () => {
    const datastore = new MemoryDatastore()
    const first = await loadOrCreateIdentity({ datastore })
    const second = await loadOrCreateIdentity({ datastore })
    expect(second.identity.id).to.equal(first.identity.id)
  })
})
