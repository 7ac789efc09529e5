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

export const SYSTEM_NAMES = ['murmur', 'baseline'] as const
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

export const SYSTEMS: Record<SystemName, SystemSpec> = {
  murmur: murmurSystem,
  baseline: baselineSystem
}

export function systemSpec (name: string): SystemSpec {
  const spec = SYSTEMS[name as SystemName]
  if (spec == null) {
    throw new Error(`unknown system "${name}" (known: ${SYSTEM_NAMES.join(', ')})`)
  }
  return spec
}
