/**
 * The systems a benchmark compares. Each one makes a `PubsubPeer`: a started
 * libp2p node that can subscribe, publish bytes and hand received bytes back.
 * A scenario drives peers only through this interface, so a later system
 * (Murmur's encrypted groups: publish = seal an envelope, receive = open it)
 * plugs in beside these two without touching the scenarios that compare it
 * with the baseline.
 */

import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Role } from '../../src/node/index.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'

export const SYSTEM_NAMES = ['murmur', 'baseline', 'groups'] as const
export type SystemName = typeof SYSTEM_NAMES[number]

export interface PeerInit {
  /** position of the node in the benchmark network, for log names */
  index: number
  /** 32 bytes: the Ed25519 key seed, so peer ids repeat with the run's seed */
  keySeed: Uint8Array
  /** multiaddrs (with /p2p/) of bootstrap peers; only systems with discovery use them */
  bootstrap?: string[]
  /** run the DHT as a client (Murmur only) */
  dhtClientMode?: boolean
  /** dial discovered peers while below this many connections (Murmur only) */
  minConnections?: number
  roles?: Role[]
}

export interface PubsubPeer {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  subscribe(topic: string): void
  /** publishes and answers how many peers the message was sent to */
  publish(topic: string, data: Uint8Array): Promise<number>
  /** calls `handler` with the application bytes of every message received on a subscribed topic */
  onMessage(handler: (topic: string, data: Uint8Array) => void): void
  /** peers in this node's gossipsub mesh for `topic` */
  meshPeers(topic: string): number
  stop(): Promise<void>
}

export interface SystemSpec {
  name: SystemName
  /** one line for reports */
  description: string
  /** whether the system finds peers itself from a bootstrap list (otherwise the harness dials a given graph) */
  discovers: boolean
  /** loads the system's modules (a node host does it before measuring its memory without nodes) */
  load(): Promise<void>
  create(init: PeerInit): Promise<PubsubPeer>
}

/** Everything listens on 127.0.0.1 only: benchmark traffic never leaves the host */
export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0']

// Modules are imported when a system is used, so that a host of one system
// does not load (and count the memory of) the other
async function loadMurmur (): Promise<typeof import('../../src/node/index.ts')> {
  return import('../../src/node/index.ts')
}

async function loadBaseline (): Promise<[
  typeof import('@chainsafe/libp2p-noise'),
  typeof import('@chainsafe/libp2p-yamux'),
  typeof import('@libp2p/gossipsub'),
  typeof import('@libp2p/identify'),
  typeof import('@libp2p/tcp'),
  typeof import('libp2p'),
  typeof import('../../src/node/profiles.ts')
]> {
  return Promise.all([
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-yamux'),
    import('@libp2p/gossipsub'),
    import('@libp2p/identify'),
    import('@libp2p/tcp'),
    import('libp2p'),
    // profiles.ts imports nothing but types: loading it does not load the Murmur node
    import('../../src/node/profiles.ts')
  ])
}

async function loadGroups (): Promise<[
  typeof import('../../src/node/index.ts'),
  typeof import('../../src/groups/index.ts'),
  typeof import('../../src/identity/index.ts')
]> {
  // the node, identity and groups boxes only, not the whole app: the
  // measurement is of the groups layer on a Murmur node
  return Promise.all([
    import('../../src/node/index.ts'),
    import('../../src/groups/index.ts'),
    import('../../src/identity/index.ts')
  ])
}

class GossipPeer implements PubsubPeer {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  private readonly stopper: () => Promise<void>

  constructor (libp2p: Libp2p<{ pubsub: GossipSub }>, stopper: () => Promise<void>) {
    this.libp2p = libp2p
    this.stopper = stopper
  }

  subscribe (topic: string): void {
    this.libp2p.services.pubsub.subscribe(topic)
  }

  async publish (topic: string, data: Uint8Array): Promise<number> {
    const result = await this.libp2p.services.pubsub.publish(topic, data)
    return result.recipients.length
  }

  onMessage (handler: (topic: string, data: Uint8Array) => void): void {
    this.libp2p.services.pubsub.addEventListener('message', (evt) => {
      handler(evt.detail.topic, evt.detail.data)
    })
  }

  meshPeers (topic: string): number {
    // getMeshPeers is on the implementation, not on the GossipSub interface
    const pubsub = this.libp2p.services.pubsub as GossipSub & { getMeshPeers?(topic: string): string[] }
    return pubsub.getMeshPeers?.(topic).length ?? pubsub.getSubscribers(topic).length
  }

  async stop (): Promise<void> {
    await this.stopper()
  }
}

/**
 * A Murmur node as `createNode` builds it (gossipsub with StrictNoSign,
 * message id = sha256(data), peer scoring; Murmur's DHT; every transport),
 * listening on loopback TCP, with the loopback profile (no per-IP inbound
 * limit, no gossipsub IP-colocation penalty) that many nodes on one host need.
 */
export const murmurSystem: SystemSpec = {
  name: 'murmur',
  description: 'Murmur node (createNode): gossipsub StrictNoSign, msg id = sha256(data), peer scoring, Murmur Kad-DHT; loopback profile',
  discovers: true,
  async load () {
    await loadMurmur()
  },
  async create (init) {
    const { createNode, loopbackProfile } = await loadMurmur()
    const node = await createNode({
      privateKey: await generateKeyPairFromSeed('Ed25519', init.keySeed),
      listen: LOOPBACK_LISTEN,
      ...loopbackProfile(),
      bootstrap: init.bootstrap ?? [],
      dhtClientMode: init.dhtClientMode ?? false,
      minConnections: init.minConnections,
      roles: init.roles ?? [],
      name: `m${init.index}`
    })
    await node.start()
    return new GossipPeer(node.libp2p, async () => { await node.stop() })
  }
}

/**
 * The baseline: a bare libp2p node with tcp, noise, yamux, identify and
 * `@libp2p/gossipsub` at its defaults (StrictSign, message id = from+seqno),
 * payloads in the clear. The same loopback relaxations as Murmur's, and
 * nothing else, so that the difference measured is Murmur's.
 */
export const baselineSystem: SystemSpec = {
  name: 'baseline',
  description: 'plain libp2p 3 + @libp2p/gossipsub defaults (StrictSign), tcp/noise/yamux/identify, unencrypted payloads; loopback profile',
  discovers: false,
  async load () {
    await loadBaseline()
  },
  async create (init) {
    const [{ noise }, { yamux }, { gossipsub }, { identify }, { tcp }, { createLibp2p }, { loopbackProfile }] = await loadBaseline()
    const profile = loopbackProfile()
    const libp2p = await createLibp2p({
      privateKey: await generateKeyPairFromSeed('Ed25519', init.keySeed),
      addresses: { listen: LOOPBACK_LISTEN },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: profile.connectionManager,
      services: {
        identify: identify(),
        pubsub: gossipsub({ ...profile.gossipsub })
      }
    })
    return new GossipPeer(libp2p, async () => { await libp2p.stop() })
  }
}

/**
 * A Murmur node with its groups layer: the benchmark topic is a group every
 * node joins with the same invite (derived from the topic, so that nodes in
 * other processes agree on it; node 0 holds the admin identity and answers
 * the JOINs). Publishing is `groups.send` — seal (sign, encrypt), add to the
 * own timeline, publish — and receiving is the `message` event of the
 * timeline, after validation (decrypt, verify, freshness, replay) and the
 * datastore write. The benchmark payload travels base64-encoded as the
 * message text, since group messages carry text.
 */
class GroupsPeer implements PubsubPeer {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>
  private readonly groups: import('../../src/groups/index.ts').GroupsLayer
  private readonly inviteFor: (topic: string) => { invite: string, groupTopic: string, groupId: string }
  private readonly joined = new Map<string, { groupTopic: string, groupId: string }>()
  private readonly stopper: () => Promise<void>

  constructor (libp2p: Libp2p<{ pubsub: GossipSub }>, groups: GroupsPeer['groups'], inviteFor: GroupsPeer['inviteFor'], stopper: () => Promise<void>) {
    this.libp2p = libp2p
    this.groups = groups
    this.inviteFor = inviteFor
    this.stopper = stopper
  }

  subscribe (topic: string): void {
    const { invite, groupTopic, groupId } = this.inviteFor(topic)
    this.joined.set(topic, { groupTopic, groupId })
    // the harness then waits for mesh peers on the group's topic
    void this.groups.join(invite).catch(() => { this.joined.delete(topic) })
  }

  async publish (topic: string, data: Uint8Array): Promise<number> {
    const group = this.joined.get(topic)
    if (group == null) {
      throw new Error(`not subscribed to ${topic}`)
    }
    await this.groups.send(group.groupId, Buffer.from(data).toString('base64'))
    // floodPublish sends to every subscriber of the group's topic
    return this.libp2p.services.pubsub.getSubscribers(group.groupTopic).length
  }

  onMessage (handler: (topic: string, data: Uint8Array) => void): void {
    this.groups.addEventListener('message', (evt) => {
      const { groupId, entry } = evt.detail
      if (entry.self) {
        return
      }
      for (const [topic, group] of this.joined) {
        if (group.groupId === groupId) {
          handler(topic, new Uint8Array(Buffer.from(entry.content, 'base64')))
        }
      }
    })
  }

  meshPeers (topic: string): number {
    const group = this.joined.get(topic)
    const pubsub = this.libp2p.services.pubsub as GossipSub & { getMeshPeers?(topic: string): string[] }
    return group == null ? 0 : (pubsub.getMeshPeers?.(group.groupTopic).length ?? pubsub.getSubscribers(group.groupTopic).length)
  }

  async stop (): Promise<void> {
    await this.stopper()
  }
}

/** Seeds of the benchmark group's admin identity: a fixed, public test key, never a real one */
const BENCH_ADMIN_SECRET = new Uint8Array(65).map((_, i) => i === 0 ? 1 : (i * 37 + 11) & 0xff)

export const groupsSystem: SystemSpec = {
  name: 'groups',
  description: 'Murmur node + groups layer: every message sealed (Ed25519 signature inside XChaCha20-Poly1305 with the epoch key), validated and stored in the timeline; payload base64 in the message text; loopback profile',
  discovers: false,
  async load () {
    await loadGroups()
  },
  async create (init) {
    const [{ createNode, loopbackProfile }, { groups, groupTopic, encodeInvite }, { MessagingIdentity }] = await loadGroups()
    const { sha256 } = await import('@noble/hashes/sha2.js')
    const { bytesToHex } = await import('@noble/hashes/utils.js')
    const admin = MessagingIdentity.import(BENCH_ADMIN_SECRET)
    const node = await createNode({
      privateKey: await generateKeyPairFromSeed('Ed25519', init.keySeed),
      listen: LOOPBACK_LISTEN,
      ...loopbackProfile(),
      bootstrap: init.bootstrap ?? [],
      dhtClientMode: init.dhtClientMode ?? false,
      minConnections: init.minConnections,
      roles: init.roles ?? [],
      name: `g${init.index}`
    })
    const layer = groups()({
      pubsub: node.libp2p.services.pubsub,
      datastore: node.datastore,
      logger: node.logger,
      identity: init.index === 0 ? admin : MessagingIdentity.generate()
    })
    await node.start()
    await layer.start()
    const text = new TextEncoder()
    const inviteFor = (topic: string): { invite: string, groupTopic: string, groupId: string } => {
      const groupId = bytesToHex(sha256(text.encode(`murmur-bench-group:${topic}`)))
      const invite = encodeInvite({ groupId, name: topic, epoch: 0, epochKey: sha256(text.encode(`murmur-bench-key:${topic}`)), admin: admin.publicIdentity, adminName: 'bench' })
      return { invite, groupTopic: groupTopic(groupId), groupId }
    }
    return new GroupsPeer(node.libp2p, layer, inviteFor, async () => {
      await layer.stop()
      await node.stop()
    })
  }
}

export const SYSTEMS: Record<SystemName, SystemSpec> = {
  murmur: murmurSystem,
  baseline: baselineSystem,
  groups: groupsSystem
}

export function systemSpec (name: string): SystemSpec {
  const spec = SYSTEMS[name as SystemName]
  if (spec == null) {
    throw new Error(`unknown system "${name}" (known: ${SYSTEM_NAMES.join(', ')})`)
  }
  return spec
}
