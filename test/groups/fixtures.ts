import { loopbackPeer, waitFor } from '../fixtures/nodes.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { TimelineEntry } from '../../src/groups/index.ts'

/** Peers on loopback, every pair connected (gossipsub only forwards between subscribers, so members must meet directly) */
export async function connectedPeers (n: number, init: (i: number) => MurmurInit = () => ({})): Promise<Murmur[]> {
  const peers = await Promise.all(Array.from({ length: n }, async (_, i) => loopbackPeer({ name: `p${i}`, ...init(i) })))
  await connectAll(peers)
  return peers
}

export async function connectAll (peers: Murmur[]): Promise<void> {
  const dials: Array<Promise<unknown>> = []
  for (let i = 0; i < peers.length; i++) {
    for (let j = i + 1; j < peers.length; j++) {
      dials.push(peers[i].node.connect(peers[j].node.getMultiaddrs()[0]))
    }
  }
  await Promise.all(dials)
}

/** Waits until every member sees every other member subscribed to the topic (so a publish reaches all) */
export async function waitForTopic (members: Murmur[], topic: string): Promise<void> {
  await waitFor(() => members.every(m => {
    const subs = new Set(m.node.libp2p.services.pubsub.getSubscribers(topic).map(String))
    return members.every(o => o === m || subs.has(o.peerId.toString()))
  }), `every member subscribed to ${topic.slice(0, 20)}… as seen by the others`, 30_000)
}

/** Waits until every member knows every other member's identity */
export async function waitForMembers (members: Murmur[], groupId: string): Promise<void> {
  const ids = members.map(m => m.identity.id).sort()
  await waitFor(async () => {
    for (const m of members) {
      const known = (await m.groups.members(groupId)).map(x => x.id)
      if (!ids.every(id => known.includes(id))) {
        return false
      }
    }
    return true
  }, 'every member to know the others', 30_000)
}

/** Records every `message` event of a peer */
export function recordMessages (peer: Murmur): TimelineEntry[] {
  const seen: TimelineEntry[] = []
  peer.groups.addEventListener('message', (evt) => { seen.push(evt.detail.entry) })
  return seen
}
