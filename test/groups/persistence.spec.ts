import { expect } from 'aegir/chai'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { connectAll, waitForMembers, waitForTopic } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'

describe('groups across a restart', function () {
  this.timeout(120_000)

  it('keeps groups, keys, members and timelines in the home, and goes on talking after a restart', async () => {
    const homes = [await tempDir(), await tempDir()]
    let peers: Murmur[] = []
    try {
      peers = await Promise.all(homes.map(async (h, i) => loopbackPeer({ home: h.dir, name: `h${i}` })))
      await connectAll(peers)
      const [alice, bob] = peers
      const group = await alice.groups.create('durable', { displayName: 'alice' })
      await bob.groups.join(await alice.groups.invite(group.id), { displayName: 'bob' })
      await waitForTopic(peers, group.topic)
      await waitForMembers(peers, group.id)
      const first = await alice.groups.send(group.id, 'before the restart')
      await waitFor(async () => (await bob.groups.read(group.id)).entries.length === 1, 'bob to get the first message')
      await bob.groups.react(group.id, first.id, ':tada:')
      await waitFor(async () => ((await alice.groups.read(group.id)).entries[0]?.reactions[':tada:'] ?? []).length === 1, 'alice to see the reaction')
      const before = await Promise.all(peers.map(async p => ({ info: await p.groups.get(group.id), read: await p.groups.read(group.id) })))
      await stopAll(peers)

      peers = await Promise.all(homes.map(async (h, i) => loopbackPeer({ home: h.dir, name: `h${i}` })))
      await connectAll(peers)
      for (const [i, p] of peers.entries()) {
        expect(await p.groups.get(group.id)).to.deep.equal(before[i].info)
        expect(await p.groups.read(group.id)).to.deep.equal(before[i].read)
      }
      const [alice2, bob2] = peers
      await waitForTopic(peers, group.topic)
      const second = await bob2.groups.send(group.id, 'after the restart')
      await waitFor(async () => (await alice2.groups.read(group.id)).entries.length === 2, 'alice to get a message after the restart')
      const { entries, cursor } = await alice2.groups.read(group.id, { since: before[0].read.cursor })
      expect(entries.map(e => e.id)).to.deep.equal([second.id])
      expect(cursor > before[0].read.cursor).to.equal(true)
    } finally {
      await stopAll(peers)
      await Promise.all(homes.map(async h => h.cleanup()))
    }
  })

  it('a message sent while no member is reachable survives a crash of its sender and goes out after the restart', async () => {
    const homes = [await tempDir(), await tempDir()]
    let peers: Murmur[] = []
    try {
      peers = await Promise.all(homes.map(async (h, i) => loopbackPeer({ home: h.dir, name: `o${i}` })))
      await connectAll(peers)
      const [alice, bob] = peers
      const group = await alice.groups.create('outbox')
      await bob.groups.join(await alice.groups.invite(group.id))
      await waitForTopic(peers, group.topic)
      await waitForMembers(peers, group.id)
      // alice loses every connection (as in a crash) just before she sends: the send succeeds into her outbox
      for (const conn of alice.node.libp2p.getConnections()) { conn.abort(new Error('gone')) }
      const sent = await alice.groups.send(group.id, 'nobody heard this yet')
      expect((await alice.groups.read(group.id)).entries.map(e => e.id)).to.include(sent.id)
      await alice.stop()

      peers[0] = await loopbackPeer({ home: homes[0].dir, name: 'o0' })
      await connectAll(peers)
      await waitFor(async () => (await bob.groups.read(group.id)).entries.some(e => e.id === sent.id), 'bob to get the message alice sent before her crash', 20_000)
      // once: the outbox does not send it again after it went out
      await peers[0].stop()
      peers[0] = await loopbackPeer({ home: homes[0].dir, name: 'o0' })
      await connectAll(peers)
      await waitForTopic(peers, group.topic)
      await new Promise(resolve => setTimeout(resolve, 1_500))
      expect((await bob.groups.read(group.id)).entries.filter(e => e.id === sent.id)).to.have.length(1)
    } finally {
      await stopAll(peers)
      await Promise.all(homes.map(async h => h.cleanup()))
    }
  })
})
