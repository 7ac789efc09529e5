import { expect } from 'aegir/chai'
import { NotServingError } from '../../src/store/index.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from './fixtures.ts'
import type { StorePeer } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'

const TOPIC = '/murmur/1/g/3f2a9c0d1e'

describe('store group history', function () {
  this.timeout(90_000)
  let store: StorePeer
  let author: Murmur
  let late: Murmur | undefined

  before(async () => {
    store = await storePeer()
    author = await loopbackPeer()
    await mesh([store.murmur, author])
  })

  after(async () => {
    await stopAll([late, author, store?.murmur])
    await store?.cleanup()
  })

  it('gives a member who was offline the 50 envelopes it missed, in order, and pages by cursor', async () => {
    await store.murmur.store.followTopic(TOPIC)
    const pubsub = author.node.libp2p.services.pubsub
    pubsub.subscribe(TOPIC)
    await waitFor(() => pubsub.getSubscribers(TOPIC).some(p => p.equals(store.murmur.peerId)), 'the store node to join the topic', 20_000)
    // opaque bytes: the store node never reads them
    const sent = Array.from({ length: 50 }, (_, i) => crypto.getRandomValues(new Uint8Array(200 + i)))
    for (const data of sent) {
      await pubsub.publish(TOPIC, data)
    }
    await waitFor(() => (store.murmur.store.server?.db.mailboxes.size ?? 0) > 0 && [...store.murmur.store.server!.db.mailboxes.values()].some(m => m.topic && m.messages === 50), 'the store node to keep all 50', 20_000)

    late = await loopbackPeer()
    await late.node.connect(store.murmur.node.getMultiaddrs()[0])
    await waitFor(async () => (await late!.store.storeNodes(new Uint8Array(32))).length === 1, 'the late member to see the store node', 10_000)
    const all = await late.store.history(TOPIC)
    expect(all.envelopes.map(e => Buffer.from(e.payload).toString('hex'))).to.deep.equal(sent.map(d => Buffer.from(d).toString('hex')))

    const first = await late.store.history(TOPIC, { limit: 20 })
    expect(first.envelopes).to.have.length(20)
    const rest = await late.store.history(TOPIC, { since: first.cursor })
    expect([...first.envelopes, ...rest.envelopes].map(e => e.id)).to.deep.equal(all.envelopes.map(e => e.id))
    expect(await late.store.history(TOPIC, { since: all.cursor })).to.have.property('envelopes').that.is.empty()
  })

  it('does not serve topics it does not follow, and only store nodes follow', async () => {
    await expect(late!.store.history('/murmur/1/g/not-followed')).to.eventually.be.rejectedWith(NotServingError)
    await expect(late!.store.followTopic(TOPIC)).to.eventually.be.rejectedWith(NotServingError)
  })
})
