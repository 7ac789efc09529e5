import { expect } from 'aegir/chai'
import { Key } from 'interface-datastore'
import { createMurmur } from '../../src/app/index.ts'
import { loopbackProfile } from '../../src/node/index.ts'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import { recordMessages, waitForMembers, waitForTopic } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { StorePeer } from '../store/fixtures.ts'

const MISSED = 50

for (const STORES of [1, 3]) {
  describe(`groups: history from ${STORES} store node(s)`, function () {
    this.timeout(150_000)
    const stores: StorePeer[] = []
    let alice: Murmur | undefined
    let bob: Murmur | undefined
    let bobHome: Awaited<ReturnType<typeof tempDir>>

    before(async () => {
      for (let i = 0; i < STORES; i++) {
        stores.push(await storePeer({ name: `s${i}` }))
      }
      bobHome = await tempDir()
      alice = await loopbackPeer({ name: 'alice' })
      bob = await loopbackPeer({ name: 'bob', home: bobHome.dir })
      await mesh([...stores.map(s => s.murmur), alice, bob])
    })

    after(async () => {
      await stopAll([bob, alice, ...stores.map(s => s.murmur)])
      for (const s of stores) {
        await s.cleanup()
      }
      await bobHome?.cleanup()
    })

    it(`a member offline during ${MISSED} messages gets each of them once when it returns, and its cursor is kept`, async () => {
      const group = await alice!.groups.create('night-shift', { displayName: 'alice' })
      await bob!.groups.join(await alice!.groups.invite(group.id), { displayName: 'bob' })
      await waitForTopic([alice!, bob!], group.topic)
      await waitForMembers([alice!, bob!], group.id)
      // store nodes follow the topic because members subscribe to it; they never learn the group id
      await waitFor(() => stores.every(s => s.murmur.store.status()?.followedTopics.includes(group.topic) === true), 'every store node to follow the group topic', 20_000)
      for (const s of stores) {
        expect(s.murmur.store.status()?.followedTopics.join(' ')).to.not.include(group.id)
      }
      const seesAlice = (s: StorePeer): boolean => s.murmur.node.libp2p.services.pubsub.getSubscribers(group.topic).some(p => p.equals(alice!.peerId))
      await waitFor(() => stores.every(seesAlice), 'the store nodes to see alice on the topic', 20_000)

      await bob!.stop()
      const sent: string[] = []
      for (let i = 0; i < MISSED; i++) {
        sent.push((await alice!.groups.send(group.id, `missed ${i}`)).id)
      }
      await waitFor(async () => {
        const kept = await Promise.all(stores.map(async s => (await s.murmur.store.history(group.topic)).envelopes.length))
        return kept.every(n => n >= MISSED)
      }, 'every store node to keep the 50 envelopes', 30_000)
      // past gossipsub's message cache (5 heartbeats of 1 s): a returning peer can no longer get them by IWANT
      await new Promise(resolve => setTimeout(resolve, 6_000))

      // bob returns (same home) and meets only the store nodes: nothing can reach it live
      bob = await createMurmur({ name: 'bob', home: bobHome.dir, listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile() })
      const got = recordMessages(bob)
      let viaHistory = 0
      const ingest = bob.groups.ingestEnvelope.bind(bob.groups)
      bob.groups.ingestEnvelope = async (topic, envelope) => {
        const verdict = await ingest(topic, envelope)
        viaHistory += verdict.result === 'accept' ? 1 : 0
        return verdict
      }
      await bob.start()
      for (const s of stores) {
        await bob.node.connect(s.murmur.node.getMultiaddrs()[0])
      }
      const missed = (): string[] => got.filter(e => e.content.startsWith('missed ')).map(e => e.id)
      await waitFor(() => missed().length >= MISSED, () => `bob to get the ${MISSED} missed messages (has ${missed().length})`, 60_000)
      // the 50 (and any membership message bob had not seen) came from the store nodes, not from gossip
      expect(viaHistory, 'envelopes taken from the store nodes').to.be.at.least(MISSED)
      // a second sync (another store node appearing) adds nothing
      const again = await bob.groupHistory.sync()
      expect(again.accepted[group.id] ?? 0).to.equal(0)
      // once each (gossip and the store keep their own order, so compare as sets)
      expect([...missed()].sort()).to.deep.equal([...sent].sort())
      const timeline = (await bob.groups.read(group.id)).entries.filter(e => e.content.startsWith('missed '))
      expect(timeline.map(e => e.id).sort()).to.deep.equal([...sent].sort())
      expect(timeline.every(e => !e.self && e.author === alice!.identity.id)).to.equal(true)
      expect(await bob.node.datastore.has(new Key(`/murmur/group-history/${group.id}`))).to.equal(true)
    })
  })
}
