import { expect } from 'aegir/chai'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackOnionNet, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import { inbox } from './fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { StorePeer } from '../store/fixtures.ts'

const NET: MurmurInit = loopbackOnionNet({ ackTimeoutMs: 1_500, retries: 1 })

describe('contacts: offline delivery through the store layer\'s mailboxes (the default)', function () {
  this.timeout(120_000)
  let stores: StorePeer[] = []
  let alice: Murmur | undefined
  let bob: Murmur | undefined
  let bobHome: Awaited<ReturnType<typeof tempDir>>

  before(async () => {
    bobHome = await tempDir()
    // three peers that keep mailboxes and relay onion packets: enough for 3-hop routes and k = 3 replicas
    for (let i = 0; i < 3; i++) {
      stores.push(await storePeer({ ...NET, roles: ['store', 'relay'] }))
    }
  })

  after(async () => {
    await stopAll([alice, bob, ...stores.map(s => s.murmur)])
    for (const s of stores) { await s.cleanup() }
    stores = []
    await bobHome.cleanup()
  })

  it('B offline: A\'s 5 messages wait in B\'s mailboxes; B returns after A left and gets all 5, once each, in order', async () => {
    alice = await loopbackPeer({ ...NET, contacts: { sendTimeoutMs: 4_000 } })
    bob = await loopbackPeer({ ...NET, home: bobHome.dir, contacts: { sendTimeoutMs: 4_000 } })
    const all = [...stores.map(s => s.murmur), alice, bob]
    await mesh(all)
    await waitFor(() => all.every(p => p.directory.descriptors().length === all.length), 'every peer to know every descriptor', 60_000, 250)

    await alice.contacts.add(await bob.contacts.card(), { name: 'bob' })
    const first = await alice.contacts.send('bob', 'before you go')
    expect(first.via).to.equal('live')
    // bob's receipt tells alice the mailbox he minted for her alone
    await waitFor(async () => (await alice?.contacts.inbox({ contact: 'bob' }))?.[0]?.delivered === true, 'bob\'s receipt', 15_000)
    const bobId = bob.peerId.toString()
    await bob.stop()

    for (let i = 1; i <= 5; i++) {
      const sent = await alice.contacts.send('bob', `offline ${i}`)
      expect(sent.via).to.equal('mailbox')
      expect(sent.message.delivered).to.equal(false)
    }
    await alice.stop()
    alice = undefined

    // the same peer (same home): it fetches its mailboxes once connected, polling often for the test
    bob = await loopbackPeer({ ...NET, home: bobHome.dir, contacts: { mailboxPollMs: 500 } })
    expect(bob.peerId.toString()).to.equal(bobId)
    const got = inbox(bob)
    for (const s of stores) {
      await bob.node.connect(s.murmur.node.getMultiaddrs()[0])
    }
    await waitFor(() => got.length >= 5, () => `bob to get 5 messages from the store nodes (got ${got.length})`, 30_000, 200)
    // a few more polls: acked items are gone from every replica, nothing comes twice
    await new Promise(resolve => setTimeout(resolve, 2_000))
    expect(got.map(m => m.content)).to.deep.equal(['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5'])
    const conversation = await bob.contacts.inbox()
    expect(conversation.map(m => m.content)).to.deep.equal(['before you go', 'offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5'])
    expect(await bob.contacts.fetchMailboxes()).to.equal(0)
  })
})
