import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { NotMessageAuthorError } from '../../src/groups/index.ts'
import { waitFor, stopAll } from '../fixtures/nodes.ts'
import { connectedPeers, recordMessages, waitForMembers, waitForTopic } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { GroupInfo, TimelineEntry } from '../../src/groups/index.ts'

describe('groups over gossipsub', function () {
  this.timeout(180_000)
  let peers: Murmur[] = []

  afterEach(async () => {
    await stopAll(peers)
    peers = []
  })

  async function makeGroup (name: string, members: Murmur[]): Promise<GroupInfo> {
    const [admin, ...rest] = members
    const group = await admin.groups.create(name, { displayName: 'admin' })
    const invite = await admin.groups.invite(group.id)
    for (const [i, m] of rest.entries()) {
      await m.groups.join(invite, { displayName: `m${i}` })
    }
    await waitForTopic(members, group.topic)
    await waitForMembers(members, group.id)
    return group
  }

  it('10 peers, 3 overlapping groups: every member gets every message of its groups exactly once; a non-member on the topic sees only ciphertext', async () => {
    const net = await connectedPeers(10)
    peers = net
    const layout = [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [6, 7, 8, 9, 0]]
    const events = net.map(p => recordMessages(p))
    const groups: GroupInfo[] = []
    for (const [g, members] of layout.entries()) {
      groups.push(await makeGroup(`group-${g}`, members.map(i => net[i])))
    }

    // peer 8 is no member of group 0: it follows that topic string with plain gossipsub
    const outsider = net[8]
    const raw: Uint8Array[] = []
    const outsiderPubsub = outsider.node.libp2p.services.pubsub
    outsiderPubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic === groups[0].topic) {
        raw.push(evt.detail.data)
      }
    })
    outsiderPubsub.subscribe(groups[0].topic)
    const seesOutsider = (i: number): boolean => net[i].node.libp2p.services.pubsub.getSubscribers(groups[0].topic).map(String).includes(outsider.peerId.toString())
    await waitFor(() => layout[0].every(seesOutsider), 'the members to see the outsider on the topic')

    const sent = new Map<string, Set<string>>()
    for (const [g, members] of layout.entries()) {
      sent.set(groups[g].id, new Set())
      for (const i of members) {
        for (let k = 0; k < 2; k++) {
          const entry = await net[i].groups.send(groups[g].id, `secret g${g} from p${i} #${k}`)
          sent.get(groups[g].id)?.add(entry.id)
        }
      }
    }

    for (const [g, members] of layout.entries()) {
      const expected = [...(sent.get(groups[g].id) ?? [])].sort()
      for (const i of members) {
        await waitFor(async () => (await net[i].groups.read(groups[g].id)).entries.length >= expected.length,
          `p${i} to have the ${expected.length} messages of group ${g}`, 60_000)
      }
    }
    // a moment for any duplicate to show up
    await new Promise(resolve => setTimeout(resolve, 1000))

    for (const [g, members] of layout.entries()) {
      const expected = [...(sent.get(groups[g].id) ?? [])].sort()
      for (const i of members) {
        const { entries } = await net[i].groups.read(groups[g].id)
        expect(entries.map(e => e.id).sort()).to.deep.equal(expected)
        const got = events[i].filter(e => e.groupId === groups[g].id).map(e => e.id)
        expect(got.sort(), `p${i} group ${g}: each message once`).to.deep.equal(expected)
        expect(entries.every(e => e.content.startsWith(`secret g${g} from p`))).to.equal(true)
      }
    }

    // the outsider: ciphertext only, no group, no timeline
    expect(raw.length).to.be.greaterThan(0)
    const text = new TextDecoder()
    for (const data of raw) {
      expect(text.decode(data)).to.not.include('secret')
    }
    expect((await outsider.groups.list()).map(g => g.id)).to.not.include(groups[0].id)
    expect(events[8].filter(e => e.groupId === groups[0].id)).to.have.length(0)
  })

  it('a removed member reads nothing sent afterwards; the others keep talking under the new epoch', async () => {
    peers = await connectedPeers(4)
    const group = await makeGroup('removal', peers)
    const [admin, b, c, removed] = peers
    await b.groups.send(group.id, 'before removal')
    await waitFor(async () => (await removed.groups.read(group.id)).entries.length === 1, 'the last member to get the first message')

    // the removed member keeps listening to the raw topic, as an attacker would
    const raw: Uint8Array[] = []
    removed.node.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic === group.topic) {
        raw.push(evt.detail.data)
      }
    })

    const membership = new Promise<void>(resolve => {
      c.groups.addEventListener('membership', () => { resolve() }, { once: true })
    })
    await admin.groups.remove(group.id, removed.identity.id)
    await membership
    for (const p of [admin, b, c]) {
      await waitFor(async () => (await p.groups.get(group.id)).epoch === 1, 'the remaining members to reach epoch 1')
      expect((await p.groups.members(group.id)).map(m => m.id)).to.not.include(removed.identity.id)
    }
    await waitFor(async () => !removed.node.libp2p.services.pubsub.getTopics().includes(group.topic), 'the removed member to stop following the topic')
    expect((await removed.groups.get(group.id)).epoch).to.equal(0)
    removed.node.libp2p.services.pubsub.subscribe(group.topic)
    await waitForTopic([admin, b, c, removed], group.topic)

    const after = ['after removal 1', 'after removal 2', 'after removal 3']
    await b.groups.send(group.id, after[0])
    await c.groups.send(group.id, after[1])
    await admin.groups.send(group.id, after[2])
    for (const p of [admin, b, c]) {
      await waitFor(async () => (await p.groups.read(group.id)).entries.length === 4, 'the remaining members to get every message')
    }
    await waitFor(() => raw.length >= 3, 'the removed member to see the new envelopes on the wire')
    for (const data of raw) {
      const result = await removed.groups.ingestEnvelope(group.topic, data)
      expect(result.result).to.not.equal('accept')
    }
    const { entries } = await removed.groups.read(group.id)
    expect(entries.map(e => e.content)).to.deep.equal(['before removal'])
    await expect(removed.groups.send(group.id, 'let me in')).to.be.rejected()
  })

  it('a member that leaves is forgotten, and the admin rotates the key behind it', async () => {
    peers = await connectedPeers(3)
    const group = await makeGroup('leaving', peers)
    const [admin, stays, leaves] = peers
    await leaves.groups.leave(group.id)
    expect((await leaves.groups.list()).map(g => g.id)).to.not.include(group.id)
    for (const p of [admin, stays]) {
      await waitFor(async () => (await p.groups.get(group.id)).epoch === 1, 'the key to be rotated after the leave')
      expect((await p.groups.members(group.id)).map(m => m.id).sort()).to.deep.equal([admin.identity.id, stays.identity.id].sort())
    }
    await stays.groups.send(group.id, 'just us now')
    await waitFor(async () => (await admin.groups.read(group.id)).entries.length === 1, 'the admin to read the next message')
  })

  it('applies EDIT, DELETE and REACT; ignores an EDIT or DELETE from anyone but the author', async () => {
    const registry = new Registry()
    peers = await connectedPeers(3, (i) => i === 1 ? { metricsRegistry: registry } : {})
    const group = await makeGroup('ops', peers)
    const [alice, bob, carol] = peers
    const updates: TimelineEntry[] = []
    bob.groups.addEventListener('update', (evt) => { updates.push(evt.detail.entry) })

    const first = await alice.groups.send(group.id, 'hello', { channel: 'ops' })
    const second = await alice.groups.send(group.id, 'to delete')
    await waitFor(async () => (await bob.groups.read(group.id)).entries.length === 2, 'bob to get both messages')
    const reply = await carol.groups.send(group.id, 'hi alice', { replyTo: first.id })

    // carol forges an edit of alice's message: the API refuses, so she seals one herself
    await expect(carol.groups.edit(group.id, first.id, 'forged')).to.be.rejectedWith(NotMessageAuthorError)
    const forged = await carol.groups.sealEnvelope(group.id, { type: 'edit', target: first.id, content: 'forged' })
    await carol.groups.publishEnvelope(forged.topic, forged.envelope)
    const forgedDelete = await carol.groups.sealEnvelope(group.id, { type: 'delete', target: second.id })
    await carol.groups.publishEnvelope(forgedDelete.topic, forgedDelete.envelope)

    await alice.groups.edit(group.id, first.id, 'hello, all')
    await alice.groups.delete(group.id, second.id)
    await bob.groups.react(group.id, first.id, ':+1:')
    await carol.groups.react(group.id, first.id, ':+1:')

    for (const p of peers) {
      await waitFor(async () => {
        const { entries } = await p.groups.read(group.id)
        const e = entries.find(x => x.id === first.id)
        return e?.content === 'hello, all' && (e.reactions[':+1:'] ?? []).length === 2 && entries.find(x => x.id === second.id)?.deleted === true && entries.length === 3
      }, 'edits, deletes and reactions everywhere')
      const { entries } = await p.groups.read(group.id)
      const e = entries.find(x => x.id === first.id)
      expect(e).to.include({ content: 'hello, all', edited: true, deleted: false, channel: 'ops', author: alice.identity.id })
      expect(e?.reactions[':+1:'].sort()).to.deep.equal([bob.identity.id, carol.identity.id].sort())
      expect(entries.find(x => x.id === second.id)).to.include({ deleted: true, content: '' })
      expect(entries.find(x => x.id === reply.id)).to.include({ replyTo: first.id, author: carol.identity.id })
      expect((await p.groups.read(group.id, { channel: 'ops' })).entries.map(x => x.id)).to.deep.equal([first.id])
    }
    expect(updates.some(u => u.content === 'forged')).to.equal(false)
    const ignored = await registry.getSingleMetric('murmur_groups_ignored_operations_total')?.get()
    expect(ignored?.values.find(v => v.labels.reason === 'not_author')?.value).to.be.at.least(2)
  })
})
