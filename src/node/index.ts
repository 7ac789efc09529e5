/**
 * @packageDocumentation
 *
 * The Murmur node: one libp2p 3 node with everything the layers above need —
 * tcp, websockets, webrtc-direct, webrtc, circuit-relay-v2, noise, yamux,
 * identify, ping, Murmur's own Kademlia DHT (`/murmur/kad/1.0.0`), bootstrap,
 * optional mDNS and gossipsub with peer scoring.
 *
 * @example
 *
 * ```TypeScript
 * import { createNode } from 'murmur/node'
 *
 * const node = await createNode({
 *   home: '/var/lib/murmur',
 *   listen: ['/ip4/0.0.0.0/tcp/7400'],
 *   bootstrap: ['/ip4/203.0.113.7/tcp/7400/p2p/12D3Koo…']
 * })
 * await node.start()
 * console.info(node.peerId.toString(), node.getMultiaddrs())
 * await node.stop()
 * ```
 */

import { DefaultMurmurNode } from './murmur.ts'
import type { MurmurLogger } from './logger.ts'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { ConnectionGater, PeerId, PrivateKey, Startable, Libp2p, TypedEventTarget } from '@libp2p/interface'
import type { KadDHT, Selectors, Validators } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { ConnectionManagerInit } from 'libp2p'
import type { Registry } from 'prom-client'

export { InvalidInitError, IdentityError, NotStartedError, InvalidMultiaddrError, PeerNotFoundError } from './errors.ts'
export { createLogger, silentLogger, LOG_LEVELS } from './logger.ts'
export type { MurmurLogger, Logger, LogLevel, CreateLoggerInit } from './logger.ts'
export { loopbackProfile } from './profiles.ts'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './platform.ts'
export { loadOrCreateStoredPeerKey } from './peer-key-store.ts'
export { loadOrCreateNodeKey } from './murmur.ts'
export { browserProfile } from './profiles.ts'
export type { BrowserProfileInit } from './profiles.ts'

/** Murmur's DHT protocol: standard Kad-DHT messages on our own id, so Murmur's DHT is not IPFS's */
export const DHT_PROTOCOL = '/murmur/kad/1.0.0'

/** What a node does for others besides taking part */
export type Role = 'relay' | 'store' | 'bootstrap'

export const ROLES: readonly Role[] = ['relay', 'store', 'bootstrap']

/** Default listen addresses of a node that is given none */
export const DEFAULT_LISTEN: readonly string[] = [
  '/ip4/0.0.0.0/tcp/7400',
  '/ip4/0.0.0.0/tcp/7401/ws',
  '/ip4/0.0.0.0/udp/7402/webrtc-direct',
  '/webrtc'
]

export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

export type MurmurServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  relay?: unknown
}

export interface NodeInit {
  /**
   * Data directory: the peer key (`peer.key`) and the datastore (`datastore/`,
   * LevelDB) live here, so a restarted node keeps its peer id and the peers it
   * knew. Without a home the node keeps everything in memory.
   */
  home?: string

  /**
   * A peer key to use instead of the one in `home` (or a fresh one)
   */
  privateKey?: PrivateKey

  /**
   * A datastore to use instead of the one in `home` (or an in-memory one)
   */
  datastore?: Datastore

  /**
   * Multiaddrs to listen on
   *
   * @default DEFAULT_LISTEN
   */
  listen?: string[]

  /**
   * Multiaddrs to announce instead of the listen addresses
   *
   * @default []
   */
  announce?: string[]

  /**
   * Multiaddrs (with `/p2p/<peer id>`) of bootstrap peers
   *
   * @default []
   */
  bootstrap?: string[]

  /**
   * How long after start the bootstrap peers are handed to discovery (and
   * dialled). libp2p waits so that a node's own services are up first.
   *
   * @default 1000
   */
  bootstrapDelayMs?: number

  /**
   * @default []
   */
  roles?: Role[]

  /**
   * Discover peers on the LAN by multicast DNS. It multicasts beyond
   * loopback, so it is off unless asked for.
   *
   * @default false
   */
  mdns?: boolean

  /**
   * Run the DHT as a client only (it then answers no queries). Daemons serve.
   *
   * @default false
   */
  dhtClientMode?: boolean

  /**
   * Keep only public addresses in DHT answers. Off by default so that LAN and
   * loopback networks work; turn it on for a node on the public Internet.
   *
   * @default false
   */
  dhtPublicAddressesOnly?: boolean

  /**
   * DHT record validators by key namespace (`/<namespace>/…`). Layers that
   * publish signed records in the DHT (relay descriptors, prekey bundles)
   * register theirs here, so that every node refuses forged records.
   *
   * @default {}
   */
  dhtValidators?: Validators

  /**
   * DHT record selectors by key namespace: which of several valid records wins
   *
   * @default {}
   */
  dhtSelectors?: Selectors

  /**
   * STUN/TURN servers for WebRTC. None by default: no public STUN server is
   * contacted unless configured.
   *
   * @default []
   */
  iceServers?: IceServer[]

  /**
   * Run the circuit-relay-v2 server, so that peers that cannot be dialled
   * (browsers) can be reached through this node and two browsers can meet
   * and upgrade to a direct WebRTC connection
   *
   * @default true when `roles` includes 'relay'
   */
  relayServer?: boolean

  /**
   * libp2p's connection gater (see `browserProfile`, which lets a page dial
   * `ws://` and private addresses only when told to)
   *
   * @default libp2p's default gater
   */
  connectionGater?: ConnectionGater

  /**
   * Dial peers found by discovery while the node has fewer connections than this
   *
   * @default 8
   */
  minConnections?: number

  /**
   * Collect libp2p and Murmur metrics into this Prometheus registry. No
   * metrics are kept when absent.
   */
  metricsRegistry?: Registry

  /**
   * Overrides for libp2p's connection manager (see `loopbackProfile`)
   */
  connectionManager?: ConnectionManagerInit

  /**
   * Overrides for gossipsub's options (see `loopbackProfile`)
   */
  gossipsub?: Partial<GossipsubOpts>

  /**
   * Structured logger for Murmur's own components
   *
   * @default silent
   */
  logger?: MurmurLogger

  /**
   * A short name for this node in logs (many nodes can share one process)
   *
   * @default the last 6 characters of the peer id
   */
  name?: string
}

export interface PeerSummary {
  peerId: string
  addresses: string[]
  protocols: string[]
  direction: 'inbound' | 'outbound'
  latencyMs?: number
}

export interface NodeStatus {
  peerId: string
  version: string
  roles: Role[]
  addresses: string[]
  connections: number
  peers: number
  knownPeers: number
  routingTable: number
  dhtMode: 'client' | 'server'
  uptimeSeconds: number
  startedAt: string
}

export interface FindPeerOptions {
  signal?: AbortSignal

  /**
   * Answer from the peer store when it knows the peer's addresses; `false`
   * always asks the DHT
   *
   * @default true
   */
  useCache?: boolean
}

export interface MurmurEvents {
  'peer:connect': CustomEvent<{ peerId: string }>
  'peer:disconnect': CustomEvent<{ peerId: string }>
}

export interface MurmurNode extends Startable, TypedEventTarget<MurmurEvents> {
  readonly peerId: PeerId
  readonly roles: ReadonlySet<Role>
  readonly libp2p: Libp2p<MurmurServices>
  readonly logger: MurmurLogger
  readonly metricsRegistry?: Registry

  /**
   * The node's datastore (LevelDB under `home`, or in memory). Layers above
   * keep their state here under their own key prefix (`/murmur/<layer>/…`).
   */
  readonly datastore: Datastore

  /** The data directory, when the node has one */
  readonly home?: string

  isStarted(): boolean

  /** Every address this node can be reached at, ending in `/p2p/<peer id>` */
  getMultiaddrs(): Multiaddr[]

  status(): Promise<NodeStatus>

  /** Peers with an open connection */
  peers(): PeerSummary[]

  /** Dial a multiaddr (with `/p2p/<peer id>`) and wait for the connection */
  connect(addr: string | Multiaddr, options?: { signal?: AbortSignal }): Promise<PeerSummary>

  /** Look a peer up: in the peer store, then through the DHT */
  findPeer(peerId: PeerId | string, options?: FindPeerOptions): Promise<{ peerId: string, addresses: string[] }>

  /** How many peers the DHT routing table holds */
  routingTableSize(): number
}

/**
 * Creates a Murmur node. It is not started: call `start()`.
 */
export async function createNode (init: NodeInit = {}): Promise<MurmurNode> {
  return DefaultMurmurNode.create(init)
}
