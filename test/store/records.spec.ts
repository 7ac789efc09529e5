import { expect } from 'aegir/chai'
import { bundleKey, decodeBundle, signBundle } from '../../src/contacts/index.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'
import { MAX_TTL_MS, RecordRejectedError } from '../../src/store/index.ts'
import { loopbackPeer, stopAll } from '../fixtures/nodes.ts'
import { mesh, storePeer } from './fixtures.ts'
import type { StorePeer } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'

function bundle (identity: MessagingIdentity, sequence: number, peer = 'p'): Uint8Array {
  return signBundle(identity, { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(7), oneTimePrekeys: [], peers: [peer], sequence })
}

describe('store: signed public records (PUBLISH / LOOKUP)', function () {
  this.timeout(60_000)
  let store: StorePeer | undefined
  let client: Murmur | undefined

  before(async () => {
    store = await storePeer({ store: { transparent: true } })
    client = await loopbackPeer({ store: { transparent: true } })
    await mesh([store.murmur, client])
  })

  after(async () => {
    await stopAll([client, store?.murmur])
    await store?.cleanup()
  })

  it('keeps the newest valid record per key, refuses forged, misfiled, older and unknown-namespace records, and forgets it after the TTL', async () => {
    const c = client as Murmur
    const server = store?.murmur.store.server
    expect(server).to.not.equal(undefined)
    const alice = MessagingIdentity.generate()
    const key = bundleKey(alice.publicIdentity.signingKey)
    const first = bundle(alice, 1_000)

    expect(await c.store.lookupRecord(key)).to.deep.equal([])
    const { storedOn } = await c.store.publishRecord(key, first)
    expect(storedOn).to.deep.equal([store?.murmur.peerId.toString()])
    expect(await c.store.lookupRecord(key)).to.deep.equal([first])

    // a bundle for alice's key signed by mallory: the DHT's validator refuses it on the store node
    const mallory = MessagingIdentity.generate()
    const forged = bundle(mallory, 9_999)
    await expect(c.store.publishRecord(key, forged)).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    // alice's own bundle filed under mallory's key: refused too
    await expect(c.store.publishRecord(bundleKey(mallory.publicIdentity.signingKey), first)).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    // bytes flipped in the signature
    const tampered = Uint8Array.from(first)
    tampered[tampered.length - 1] ^= 1
    await expect(c.store.publishRecord(key, tampered)).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    // a namespace without a validator on the store node: not kept
    await expect(c.store.publishRecord(new TextEncoder().encode('/other/x'), first)).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    expect(await c.store.lookupRecord(key)).to.deep.equal([first])

    // an older bundle does not replace a newer one; a newer one does; the same one again refreshes it
    await expect(c.store.publishRecord(key, bundle(alice, 500))).to.eventually.be.rejected.with.property('name', RecordRejectedError.name)
    const second = bundle(alice, 2_000, 'q')
    await c.store.publishRecord(key, second)
    await c.store.publishRecord(key, second)
    const held = await c.store.lookupRecord(key)
    expect(held).to.have.lengthOf(1)
    expect(decodeBundle(held[0]).peers).to.deep.equal(['q'])
    // one record per key (the peers' own contacts layers publish their bundles here too)
    const id = Buffer.from(key).toString('hex')
    expect([...server?.db.records.keys() ?? []].filter(k => k === id)).to.have.lengthOf(1)

    // a record lives at most the store's TTL (7 days) unless republished; the sweep deletes it
    const later = Date.now() + MAX_TTL_MS + 1_000
    expect(await server?.db.getRecord(key, later)).to.equal(undefined)
    await server?.db.sweep(later)
    expect(server?.db.records.has(id)).to.equal(false)
    expect(await c.store.lookupRecord(key)).to.deep.equal([])
  })
})
