import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { Body, completeBody, sealBody } from '../../src/groups/codec.ts'
import { parseInvite } from '../../src/groups/index.ts'
import { stopAll, waitFor } from '../fixtures/nodes.ts'
import { connectedPeers, waitForMembers, waitForTopic } from './fixtures.ts'
import type { Murmur } from '../../src/app/index.ts'

async function rejections (registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('murmur_groups_envelopes_total')?.get()
  const out: Record<string, number> = {}
  for (const v of metric?.values ?? []) {
    out[`${v.labels.result}:${v.labels.reason}`] = v.value
  }
  return out
}

describe('group envelope validation', function () {
  this.timeout(120_000)
  let peers: Murmur[] = []

  afterEach(async () => {
    await stopAll(peers)
    peers = []
  })

  it('rejects tampered, truncated, oversized, replayed, stale, future and unknown-epoch envelopes, counts them, and keeps running', async () => {
    const registry = new Registry()
    // alice and bob are members; mallory is not, and publishes on the topic
    peers = await connectedPeers(3, (i) => i === 1 ? { metricsRegistry: registry } : {})
    const [alice, bob, mallory] = peers
    const group = await alice.groups.create('guarded')
    const invite = await alice.groups.invite(group.id)
    await bob.groups.join(invite)
    await waitForTopic([alice, bob], group.topic)
    await waitForMembers([alice, bob], group.id)
    const epochKey = parseInvite(invite).epochKey
    const pubsub = mallory.node.libp2p.services.pubsub
    await waitFor(() => pubsub.getSubscribers(group.topic).length === 2, 'mallory to see both members on the topic')

    const sealAt = (timestamp: number, epoch = 0): Uint8Array =>
      sealBody(alice.identity, group.id, epoch, epochKey, completeBody({ type: Body.Type.MESSAGE, channel: 'general', content: 'crafted', timestamp: BigInt(timestamp) }))

    // a valid envelope of alice's, relayed by mallory: accepted once
    const valid = (await alice.groups.sealEnvelope(group.id, { type: 'message', content: 'genuine' })).envelope
    await pubsub.publish(group.topic, valid)
    await waitFor(async () => (await bob.groups.read(group.id)).entries.length === 1, 'bob to accept the genuine envelope')

    const tampered = valid.slice()
    tampered[tampered.length - 1] ^= 1
    const replayed = new Uint8Array([...valid, 0x78, 0x01]) // an unknown field: new bytes, same message
    const attacks: Array<[string, Uint8Array]> = [
      ['reject:decrypt', tampered],
      ['reject:malformed', valid.subarray(0, valid.length - 7)],
      ['reject:oversized', new Uint8Array(65 * 1024).fill(7)],
      ['reject:replayed', replayed],
      ['reject:stale', sealAt(Date.now() - 3600_000)],
      ['reject:future', sealAt(Date.now() + 3600_000)],
      ['reject:unknown_epoch', sealAt(Date.now(), 5)]
    ]
    for (const [, data] of attacks) {
      await pubsub.publish(group.topic, data)
    }
    await waitFor(async () => {
      const counts = await rejections(registry)
      return attacks.every(([label]) => (counts[label] ?? 0) >= 1)
    }, 'every attack to be rejected and counted', 20_000)
    const counts = await rejections(registry)
    expect(counts['accept:ok']).to.be.at.least(1)

    // nothing crafted reached the timeline, and bob still works
    expect((await bob.groups.read(group.id)).entries.map(e => e.content)).to.deep.equal(['genuine'])
    await alice.groups.send(group.id, 'still here?')
    await waitFor(async () => (await bob.groups.read(group.id)).entries.length === 2, 'bob to get a message after the attacks')
    expect(bob.node.isStarted()).to.equal(true)
    // the forwarder of rejected envelopes lost score at bob
    const scores = bob.node.libp2p.services.pubsub as unknown as { getScore(peer: string): number }
    await waitFor(() => scores.getScore(mallory.peerId.toString()) < 0, 'mallory\'s score at bob to fall below zero', 10_000)
  })

  it('ingestEnvelope takes a day-old envelope from history once, and refuses what is not of the group', async () => {
    peers = await connectedPeers(1)
    const [alice] = peers
    const group = await alice.groups.create('history')
    const epochKey = parseInvite(await alice.groups.invite(group.id)).epochKey
    const old = sealBody(alice.identity, group.id, 0, epochKey, completeBody({ type: Body.Type.MESSAGE, channel: 'general', content: 'from yesterday', timestamp: BigInt(Date.now() - 24 * 3600_000) }))
    expect(await alice.groups.ingestEnvelope(group.topic, old)).to.deep.equal({ result: 'accept' })
    expect(await alice.groups.ingestEnvelope(group.topic, old)).to.deep.equal({ result: 'ignore', reason: 'duplicate' })
    expect((await alice.groups.ingestEnvelope(group.topic, new Uint8Array([1, 2, 3]))).result).to.equal('reject')
    const ancient = sealBody(alice.identity, group.id, 0, epochKey, completeBody({ type: Body.Type.MESSAGE, channel: 'general', content: 'too old', timestamp: BigInt(Date.now() - 8 * 24 * 3600_000) }))
    expect(await alice.groups.ingestEnvelope(group.topic, ancient)).to.include({ result: 'reject', reason: 'stale' })
    const { entries } = await alice.groups.read(group.id)
    expect(entries.map(e => e.content)).to.deep.equal(['from yesterday'])
    expect(entries[0].self).to.equal(true)
    await expect(alice.groups.ingestEnvelope('/murmur/1/g/00', old)).to.be.rejectedWith(/No group/)

    // history out of order: an edit and a reaction before their message wait for it
    const message = await alice.groups.sealEnvelope(group.id, { type: 'message', content: 'first draft' })
    const edit = await alice.groups.sealEnvelope(group.id, { type: 'edit', target: message.messageId, content: 'final' })
    const react = await alice.groups.sealEnvelope(group.id, { type: 'react', target: message.messageId, reaction: ':eyes:' })
    for (const e of [edit, react, message]) {
      expect(await alice.groups.ingestEnvelope(e.topic, e.envelope)).to.deep.equal({ result: 'accept' })
    }
    const late = (await alice.groups.read(group.id)).entries.find(e => e.id === message.messageId)
    expect(late).to.include({ content: 'final', edited: true })
    expect(late?.reactions[':eyes:']).to.deep.equal([alice.identity.id])
  })
})
