import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { expect } from 'aegir/chai'
import { loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { connectAll, recordMessages, waitForMembers, waitForTopic } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { TimelineEntry } from '../../src/groups/index.ts'

const RELAYS = 6
const MEMBERS = 4
const MESSAGES = 8

describe('groups: anonymous publish through an onion exit', function () {
  this.timeout(120_000)
  const peers: Murmur[] = []

  before(async () => {
    for (let i = 0; i < RELAYS; i++) {
      peers.push(await loopbackPeer({
        name: `r${i}`,
        roles: ['relay'],
        onion: { diversity: 'none', ackTimeoutMs: 4_000, retries: 4 },
        directory: { republishOnSubscribeMs: 300, dht: false }
      }))
    }
    await connectAll(peers)
    await waitFor(() => peers.every(p => p.directory.descriptors().length === RELAYS), 'every peer to know every relay', 60_000, 250)
  })

  after(async () => { await stopAll(peers) })

  it('every member gets the message, and none gets it first from the author', async () => {
    // members r0..r3 (r0 the author), r4 and r5 only relay: an exit is sometimes a member, sometimes not
    const members = peers.slice(0, MEMBERS)
    const [author] = members
    const group = await author.groups.create('whistle', { displayName: 'author' })
    const invite = await author.groups.invite(group.id)
    for (const m of members.slice(1)) {
      await m.groups.join(invite)
    }
    await waitForTopic(members, group.topic)
    await waitForMembers(members, group.id)

    const timelines = members.map(m => recordMessages(m))
    // what exits published for others (membership messages a member sends itself are not among them)
    const exited = new Map<string, string>()
    for (const p of peers) {
      p.onion.setExitPublisher(async (topic, data) => {
        exited.set(bytesToHex(sha256(data)), p.peerId.toString())
        await p.groups.publishEnvelope(topic, data)
      })
    }
    // the peer each member's gossipsub first got each envelope from
    const firstFrom = members.map(m => {
      const from = new Map<string, string>()
      m.node.libp2p.services.pubsub.addEventListener('gossipsub:message', (evt) => {
        const key = bytesToHex(sha256(evt.detail.msg.data))
        if (evt.detail.msg.topic === group.topic && !from.has(key)) {
          from.set(key, evt.detail.propagationSource.toString())
        }
      })
      return from
    })

    const sent: TimelineEntry[] = []
    for (let i = 0; i < MESSAGES; i++) {
      sent.push(await author.groups.send(group.id, `anon ${i}`, { anonymous: true }))
    }
    expect(sent.every(e => e.self)).to.equal(true)

    const contents = sent.map(e => e.content)
    const authorId = author.identity.id
    const counts = (): number[] => timelines.map(t => new Set(t.map(e => e.content).filter(c => contents.includes(c))).size)
    await waitFor(() => counts().every(n => n === MESSAGES), () => `every member to get all ${MESSAGES}: ${counts().join(',')}`, 60_000)
    for (const [i, m] of members.entries()) {
      const read = (await m.groups.read(group.id)).entries.filter(e => e.content.startsWith('anon'))
      // once each, signed by the author, whoever forwarded it
      expect(read.map(e => e.content).sort()).to.deep.equal([...contents].sort())
      expect(read.every(e => e.author === authorId && e.self === (i === 0))).to.equal(true)
    }

    const authorPeer = author.peerId.toString()
    // every message went out through an exit, never the author itself
    expect(exited.size).to.equal(MESSAGES)
    expect([...exited.values()]).to.not.include(authorPeer)
    const sources = firstFrom.slice(1).flatMap(f => [...exited.keys()].filter(k => f.has(k)).map(k => f.get(k)))
    // a member that was not the exit got each envelope over gossipsub, first from someone other than the author
    expect(sources.length).to.be.at.least(MESSAGES * (MEMBERS - 2))
    expect(sources).to.not.include(authorPeer)
  })

  it('an exit that is a member refuses an envelope its group would reject, instead of spreading it', async () => {
    const [admin, member] = peers
    const group = (await admin.groups.list())[0]
    const forged = crypto.getRandomValues(new Uint8Array(300))
    await expect(member.groups.publishEnvelope(group.topic, forged)).to.eventually.be.rejected.with.property('name', 'EnvelopeRejectedError')
    // a real one, handed to a member exit, lands in that member's own timeline too
    const { topic, envelope, messageId } = await admin.groups.sealEnvelope(group.id, { type: 'message', content: 'through a member exit' })
    await member.groups.publishEnvelope(topic, envelope)
    expect((await member.groups.read(group.id)).entries.map(e => e.id)).to.include(messageId)
  })

  it('a peer without onion routes refuses an anonymous send instead of publishing in the clear', async () => {
    const lone = await loopbackPeer({ name: 'lone', directory: { dht: false } })
    try {
      const group = await lone.groups.create('solo')
      await expect(lone.groups.send(group.id, 'hidden', { anonymous: true })).to.eventually.be.rejected()
      expect((await lone.groups.read(group.id)).entries.filter(e => e.content === 'hidden')).to.be.empty()
    } finally {
      await stopAll([lone])
    }
  })
})
