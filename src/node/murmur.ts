import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { prefixLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { sha256 } from '@noble/hashes/sha2.js'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import { InvalidInitError, InvalidMultiaddrError, NotStartedError, PeerNotFoundError } from './errors.ts'
import { DEFAULT_LISTEN, DHT_PROTOCOL, ROLES } from './index.ts'
import { silentLogger } from './logger.ts'
import { loadOrCreateStoredPeerKey } from './peer-key-store.ts'
import { homeDatastore, loadOrCreatePeerKey, mdnsDiscovery, platformTransports, prometheus } from './platform.ts'
import { VERSION } from './version.ts'
import type { FindPeerOptions, MurmurNode, MurmurEvents, NodeInit, MurmurServices, NodeStatus, PeerSummary, Role } from './index.ts'
import type { Logger, MurmurLogger } from './logger.ts'
import type { Connection, Libp2p, PeerId, PeerInfo, PrivateKey, TypedEventTarget } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { ServiceFactoryMap } from 'libp2p'
import type { Registry } from 'prom-client'

/** How many known peers a restarted node redials, those from its DHT routing table first */
const REDIAL_KNOWN_PEERS = 20
const REDIAL_TIMEOUT_MS = 10_000

/**
 * A node short of connections looks itself up in the DHT and dials what it
 * finds. kad-dht runs its first self-query one second after start and the next
 * five minutes later: a node whose bootstrap connection came up after that
 * first query knew nobody but the bootstrap node until then (the `gossip
 * --topology bootstrap` benchmark lost 4 % of deliveries to such nodes).
 */
const TOP_UP_INTERVAL_MS = 15_000
/** How soon after a new connection a node still short of peers tops up */
const TOP_UP_DEBOUNCE_MS = 500
const TOP_UP_TIMEOUT_MS = 20_000

interface Parts {
  init: NodeInit
  key: PrivateKey
  datastore: Datastore
  ownsDatastore: boolean
  roles: Set<Role>
}

export class DefaultMurmurNode extends TypedEventEmitter<MurmurEvents> implements MurmurNode {
  readonly peerId: PeerId
  readonly roles: ReadonlySet<Role>
  readonly libp2p: Libp2p<MurmurServices>
  readonly logger: MurmurLogger
  readonly metricsRegistry?: Registry
  private readonly log: Logger
  readonly datastore: Datastore
  readonly home?: string
  private readonly ownsDatastore: boolean
  private readonly minConnections: number
  private readonly bootstrapList: Multiaddr[]
  private readonly dhtClientMode: boolean
  private startedAt = 0
  private started = false
  private topUpTimer?: ReturnType<typeof setTimeout>
  private topUpInterval?: ReturnType<typeof setInterval>
  private topUpRunning?: AbortController

  static async create (init: NodeInit): Promise<DefaultMurmurNode> {
    const roles = validateInit(init)
    let datastore = init.datastore
    let ownsDatastore = false
    if (datastore == null) {
      ownsDatastore = true
      datastore = init.home != null ? homeDatastore(init.home) : new MemoryDatastore()
    }
    const key = init.privateKey ?? await loadOrCreateNodeKey(init)

    const parts: Parts = { init, key, datastore, ownsDatastore, roles }
    const libp2p = await createLibp2p(libp2pOptions(parts))
    return new DefaultMurmurNode(parts, libp2p)
  }

  private constructor (parts: Parts, libp2p: Libp2p<MurmurServices>) {
    super()
    const { init } = parts
    this.libp2p = libp2p
    this.peerId = libp2p.peerId
    this.roles = parts.roles
    this.datastore = parts.datastore
    this.home = init.home
    this.ownsDatastore = parts.ownsDatastore
    this.minConnections = init.minConnections ?? 8
    this.bootstrapList = (init.bootstrap ?? []).map(a => multiaddr(a))
    this.dhtClientMode = init.dhtClientMode ?? false
    this.metricsRegistry = init.metricsRegistry
    const base = init.logger ?? silentLogger()
    const name = init.name ?? this.peerId.toString().slice(-6)
    const root = base.root.child({ node: name })
    this.logger = { root, forComponent: (component) => root.child({ component }) }
    this.log = this.logger.forComponent('node')

    this.onPeerConnect = this.onPeerConnect.bind(this)
    this.onPeerDisconnect = this.onPeerDisconnect.bind(this)
    this.onPeerDiscovery = this.onPeerDiscovery.bind(this)
    this.onRoutingTablePeer = this.onRoutingTablePeer.bind(this)
    this.registerMetrics()
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    if (this.ownsDatastore && this.datastore instanceof LevelDatastore) {
      await this.datastore.open()
    }
    this.libp2p.addEventListener('peer:connect', this.onPeerConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.addEventListener('peer:discovery', this.onPeerDiscovery)
    this.routingTable().addEventListener('peer:add', this.onRoutingTablePeer)
    await this.libp2p.start()
    if (this.libp2p.services.dht.getMode() !== 'server' && this.dhtServes()) {
      // kad-dht stays a client until it believes it is publicly dialable; a
      // Murmur node that listens serves from the start, on LAN and loopback too
      await this.libp2p.services.dht.setMode('server')
    }
    this.started = true
    this.startedAt = Date.now()
    this.log.info({ peerId: this.peerId.toString(), addresses: this.getMultiaddrs().map(String), roles: [...this.roles] }, 'node started')
    void this.redialKnownPeers().catch(err => { this.log.debug({ err }, 'redialling known peers failed') })
    if (this.minConnections > 0) {
      this.topUpInterval = setInterval(() => { this.scheduleTopUp(0) }, TOP_UP_INTERVAL_MS)
      this.topUpInterval.unref?.()
    }
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    clearInterval(this.topUpInterval)
    clearTimeout(this.topUpTimer)
    this.topUpTimer = undefined
    this.topUpRunning?.abort()
    this.libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.removeEventListener('peer:discovery', this.onPeerDiscovery)
    this.routingTable().removeEventListener('peer:add', this.onRoutingTablePeer)
    await this.libp2p.stop()
    if (this.ownsDatastore && this.datastore instanceof LevelDatastore) {
      await this.datastore.close()
    }
    this.log.info('node stopped')
  }

  getMultiaddrs (): Multiaddr[] {
    return this.libp2p.getMultiaddrs()
  }

  routingTableSize (): number {
    return this.routingTable().size
  }

  /** kad-dht's routing table class is an event emitter; its exported interface does not say so */
  private routingTable (): SingleKadDHT['routingTable'] & TypedEventTarget<{ 'peer:add': CustomEvent<PeerId> }> {
    return (this.libp2p.services.dht as unknown as SingleKadDHT).routingTable as any
  }

  async status (): Promise<NodeStatus> {
    return {
      peerId: this.peerId.toString(),
      version: VERSION,
      roles: [...this.roles],
      addresses: this.getMultiaddrs().map(String),
      connections: this.libp2p.getConnections().length,
      peers: this.libp2p.getPeers().length,
      knownPeers: (await this.libp2p.peerStore.all()).length,
      routingTable: this.routingTableSize(),
      dhtMode: this.libp2p.services.dht.getMode(),
      uptimeSeconds: this.started ? Math.round((Date.now() - this.startedAt) / 1000) : 0,
      startedAt: new Date(this.startedAt).toISOString()
    }
  }

  peers (): PeerSummary[] {
    const byPeer = new Map<string, Connection[]>()
    for (const conn of this.libp2p.getConnections()) {
      const key = conn.remotePeer.toString()
      byPeer.set(key, [...(byPeer.get(key) ?? []), conn])
    }
    return [...byPeer.values()].map(conns => summarize(conns))
  }

  async connect (addr: string | Multiaddr, options: { signal?: AbortSignal } = {}): Promise<PeerSummary> {
    this.assertStarted()
    const ma = parseDialable(addr)
    const conn = await this.libp2p.dial(ma, { signal: options.signal ?? AbortSignal.timeout(30_000) })
    return summarize(this.libp2p.getConnections(conn.remotePeer))
  }

  async findPeer (peer: PeerId | string, options: FindPeerOptions = {}): Promise<{ peerId: string, addresses: string[] }> {
    this.assertStarted()
    let id: PeerId
    try {
      id = typeof peer === 'string' ? peerIdFromString(peer) : peer
    } catch (err: any) {
      throw new InvalidInitError('peerId', `not a peer id: ${err.message}`)
    }
    const signal = options.signal ?? AbortSignal.timeout(30_000)
    if (options.useCache !== false) {
      const known = await this.libp2p.peerStore.get(id, { signal }).catch(() => undefined)
      // a peer store entry can exist without addresses (an inbound peer not yet
      // identified): that is no answer, so ask the network
      if (known != null && known.addresses.length > 0) {
        return { peerId: id.toString(), addresses: known.addresses.map(a => a.multiaddr.toString()) }
      }
    }
    for await (const event of this.libp2p.services.dht.findPeer(id, { signal, useCache: false })) {
      if (event.name === 'FINAL_PEER' && event.peer.multiaddrs.length > 0) {
        return { peerId: event.peer.id.toString(), addresses: event.peer.multiaddrs.map(String) }
      }
    }
    throw new PeerNotFoundError(`Peer ${id.toString()} was not found in the DHT`)
  }

  private dhtServes (): boolean {
    return !this.dhtClientMode && this.libp2p.getMultiaddrs().length > 0
  }

  private assertStarted (): void {
    if (!this.started) {
      throw new NotStartedError()
    }
  }

  private onPeerConnect (evt: CustomEvent<PeerId>): void {
    this.safeDispatchEvent('peer:connect', { detail: { peerId: evt.detail.toString() } })
  }

  /** The first DHT peers are what a top-up needs: look around as soon as they come */
  private onRoutingTablePeer (): void {
    this.scheduleTopUp(TOP_UP_DEBOUNCE_MS)
  }

  private onPeerDisconnect (evt: CustomEvent<PeerId>): void {
    this.safeDispatchEvent('peer:disconnect', { detail: { peerId: evt.detail.toString() } })
  }

  /** libp2p no longer dials what discovery finds; a node short of peers does */
  private onPeerDiscovery (evt: CustomEvent<PeerInfo>): void {
    const { id } = evt.detail
    if (!this.started || id.equals(this.peerId) || this.libp2p.getConnections().length >= this.minConnections ||
      this.libp2p.getConnections(id).length > 0) {
      return
    }
    this.libp2p.dial(id, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) }).catch(err => {
      this.log.debug({ peer: id.toString(), err: err.message }, 'dialling a discovered peer failed')
    })
  }

  private shortOfPeers (): boolean {
    return this.libp2p.getPeers().length < this.minConnections
  }

  private scheduleTopUp (delayMs: number): void {
    if (!this.started || this.topUpTimer != null || this.topUpRunning != null || !this.shortOfPeers()) {
      return
    }
    this.topUpTimer = setTimeout(() => {
      this.topUpTimer = undefined
      this.topUp().catch(err => { this.log.debug({ err: err.message }, 'topping up connections failed') })
    }, delayMs)
  }

  /**
   * Looks this node up in the DHT and dials the closest peers it is not
   * connected to, until it has enough. A node alone (its bootstrap dial failed,
   * or every peer went away) dials its bootstrap list again first: the
   * bootstrap module dials once, and a node that is nobody's neighbour is
   * found by nobody.
   */
  private async topUp (): Promise<void> {
    if (!this.started || !this.shortOfPeers()) {
      return
    }
    const controller = new AbortController()
    this.topUpRunning = controller
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(TOP_UP_TIMEOUT_MS)])
    const dials: Array<Promise<unknown>> = []
    try {
      if (this.libp2p.getPeers().length === 0 && this.bootstrapList.length > 0) {
        this.log.debug({ bootstrap: this.bootstrapList.length }, 'alone: dialling the bootstrap list again')
        await Promise.allSettled(this.bootstrapList.map(async ma => this.libp2p.dial(ma, { signal: AbortSignal.any([signal, AbortSignal.timeout(REDIAL_TIMEOUT_MS)]) })))
      }
      if (this.routingTableSize() === 0) {
        return
      }
      for await (const event of this.libp2p.services.dht.getClosestPeers(this.peerId.toMultihash().bytes, { signal })) {
        if (event.name !== 'FINAL_PEER' || event.peer.id.equals(this.peerId) || this.libp2p.getConnections(event.peer.id).length > 0) {
          continue
        }
        if (this.libp2p.getPeers().length + dials.length >= this.minConnections) {
          break
        }
        dials.push(this.libp2p.dial(event.peer.id, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) }).catch(err => {
          this.log.debug({ peer: event.peer.id.toString(), err: err.message }, 'dialling a close peer failed')
        }))
      }
      await Promise.all(dials)
      this.log.debug({ dialled: dials.length, peers: this.libp2p.getPeers().length }, 'topped up connections')
    } finally {
      this.topUpRunning = undefined
    }
  }

  /** A restarted node goes back to the peers it knew, DHT neighbours first */
  private async redialKnownPeers (): Promise<void> {
    const known = await this.libp2p.peerStore.all()
    const candidates = known
      .filter(p => !p.id.equals(this.peerId) && p.addresses.length > 0 && this.libp2p.getConnections(p.id).length === 0)
      .sort((a, b) => Number(b.tags.has('kad-close')) - Number(a.tags.has('kad-close')))
      .slice(0, REDIAL_KNOWN_PEERS)
    if (candidates.length === 0) {
      return
    }
    this.log.debug({ count: candidates.length }, 'redialling known peers')
    await Promise.allSettled(candidates.map(async p => this.libp2p.dial(p.id, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) })))
  }

  private registerMetrics (): void {
    const metrics = (this.libp2p as any).metrics as import('@libp2p/interface').Metrics | undefined
    if (metrics == null) {
      return
    }
    metrics.registerMetric('murmur_routing_table_size', {
      help: 'Peers in the DHT routing table',
      calculate: () => this.routingTableSize()
    })
    metrics.registerMetric('murmur_peers_connected', {
      help: 'Peers with at least one open connection',
      calculate: () => this.libp2p.getPeers().length
    })
    metrics.registerMetric('murmur_uptime_seconds', {
      help: 'Seconds since the node started',
      calculate: () => this.started ? (Date.now() - this.startedAt) / 1000 : 0
    })
  }
}

function summarize (conns: Connection[]): PeerSummary {
  const [first] = conns
  return {
    peerId: first.remotePeer.toString(),
    addresses: [...new Set(conns.map(c => c.remoteAddr.toString()))],
    protocols: [...new Set(conns.flatMap(c => c.streams.map(s => s.protocol ?? '').filter(p => p !== '')))],
    direction: first.direction
  }
}

/** A multiaddr string or object that names a peer (`…/p2p/<peer id>`) */
export function parseDialable (addr: string | Multiaddr): Multiaddr {
  let ma: Multiaddr
  try {
    ma = typeof addr === 'string' ? multiaddr(addr) : addr
  } catch (err: any) {
    throw new InvalidMultiaddrError(`Invalid multiaddr "${String(addr)}": ${err.message}`)
  }
  if (ma.getComponents().find(c => c.name === 'p2p') == null) {
    throw new InvalidMultiaddrError(`Multiaddr "${ma.toString()}" has no /p2p/<peer id>`)
  }
  return ma
}

/**
 * The peer key: from the home's `peer.key`; without a home, from the datastore
 * the caller handed in (a browser page keeps its peer id in IndexedDB); else a
 * fresh one
 */
export async function loadOrCreateNodeKey (init: Pick<NodeInit, 'home' | 'datastore'>): Promise<PrivateKey> {
  if (init.home != null) {
    return (await loadOrCreatePeerKey(init.home)).key
  }
  if (init.datastore != null) {
    return (await loadOrCreateStoredPeerKey(init.datastore)).key
  }
  return generateKeyPair('Ed25519')
}

function validateInit (init: NodeInit): Set<Role> {
  const roles = new Set<Role>()
  for (const role of init.roles ?? []) {
    if (!ROLES.includes(role)) {
      throw new InvalidInitError('roles', `unknown role "${String(role)}" (known: ${ROLES.join(', ')})`)
    }
    roles.add(role)
  }
  for (const field of ['listen', 'announce'] as const) {
    for (const addr of init[field] ?? []) {
      try {
        multiaddr(addr)
      } catch (err: any) {
        throw new InvalidInitError(field, `invalid multiaddr "${addr}": ${err.message}`)
      }
    }
  }
  for (const addr of init.bootstrap ?? []) {
    try {
      parseDialable(addr)
    } catch (err: any) {
      throw new InvalidInitError('bootstrap', err.message)
    }
  }
  if (init.minConnections != null && !(Number.isInteger(init.minConnections) && init.minConnections >= 0)) {
    throw new InvalidInitError('minConnections', 'must be a non-negative integer')
  }
  return roles
}

function libp2pOptions ({ init, key, datastore, roles }: Parts): Parameters<typeof createLibp2p<MurmurServices>>[0] {
  const name = init.name ?? peerIdFromPrivateKey(key).toString().slice(-6)
  const rtcConfiguration = { iceServers: init.iceServers ?? [] }
  const { scoreParams, scoreThresholds, ...gossipsubRest } = init.gossipsub ?? {}

  const services: ServiceFactoryMap<MurmurServices> = {
    identify: identify(),
    // layers register their protocols after the node has started and connected: peers learn of them by a push
    identifyPush: identifyPush(),
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: init.dhtClientMode ?? false,
      peerInfoMapper: init.dhtPublicAddressesOnly === true ? removePrivateAddressesMapper : passthroughMapper,
      validators: { ...init.dhtValidators },
      selectors: { ...init.dhtSelectors },
      logPrefix: 'libp2p:murmur:kad',
      metricsPrefix: 'murmur_kad'
    }),
    pubsub: gossipsub({
      // Group envelopes carry their own signatures inside the ciphertext, so
      // libp2p's message signing (which would name the author) stays off and a
      // message's id is the hash of its bytes
      globalSignaturePolicy: StrictNoSign,
      msgIdFn: (msg) => sha256(msg.data),
      scoreParams: { ...scoreParams },
      scoreThresholds: { ...scoreThresholds },
      ...gossipsubRest
    })
  }
  if (init.relayServer ?? roles.has('relay')) {
    services.relay = circuitRelayServer()
  }

  const peerDiscovery = []
  if ((init.bootstrap ?? []).length > 0) {
    peerDiscovery.push(bootstrap({ list: init.bootstrap ?? [], timeout: init.bootstrapDelayMs ?? 1000 }))
  }
  if (init.mdns === true) {
    peerDiscovery.push(mdnsDiscovery())
  }

  return {
    privateKey: key,
    datastore,
    start: false,
    logger: prefixLogger(`murmur:${name}`),
    addresses: {
      listen: init.listen ?? [...DEFAULT_LISTEN],
      announce: init.announce ?? []
    },
    transports: platformTransports(rtcConfiguration),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: init.connectionManager,
    peerDiscovery,
    metrics: init.metricsRegistry != null ? prometheus(init.metricsRegistry) : undefined,
    connectionGater: init.connectionGater,
    services
  }
}
