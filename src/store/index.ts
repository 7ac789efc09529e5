/**
 * @packageDocumentation
 *
 * Store-and-forward: replicated mailboxes for offline peers, and group
 * history. A mailbox is named by the hash of an Ed25519 mailbox public key;
 * the k (3) store-role peers closest to that name keep it. Senders deposit
 * sealed envelopes (acknowledged once durable on a quorum); the owner proves
 * possession of the mailbox key to fetch and ack; acks delete on every
 * replica; nothing outlives its TTL (at most 7 days).
 *
 * Every peer has the client side; a node with the `store` role also serves.
 * The client reaches store nodes through a `StoreTransport`: direct streams
 * (transparent mode) until the onion layer sets its own with `setTransport`.
 *
 * @example
 *
 * ```TypeScript
 * import { generateMailboxKey, mailboxName } from 'murmur/store'
 *
 * const key = generateMailboxKey()
 * await alice.store.deposit(mailboxName(key.publicKey), sealedEnvelope)
 * // later, on Bob's side
 * const messages = await bob.store.fetch(key)
 * await bob.store.ack(key, messages.map(m => m.id))
 * ```
 */

import { StoreClient } from './client.ts'
import { NotServingError } from './errors.ts'
import { StorePeers } from './peers.ts'
import { StoreServer } from './server.ts'
import { StoreResponse } from './store.ts'
import { DirectTransport } from './transport.ts'
import type { DepositOptions, DepositReceipt, FetchOptions, HistoryOptions, HistoryPage, StoredMessage, StoreClientInit } from './client.ts'
import type { MailboxKey } from './mailbox.ts'
import type { StoreServerInit, StoreServerStatus } from './server.ts'
import type { ExchangeOptions, StoreTransport } from './transport.ts'
import type { MurmurNode } from '../node/index.ts'
import type { AbortOptions, PeerId, Startable } from '@libp2p/interface'

export { STORE_PROTOCOL, MAX_TTL_MS, MAX_PAYLOAD_BYTES, DEFAULT_REPLICAS } from './constants.ts'
export { generateMailboxKey, mailboxName, topicMailbox, envelopeId, signProof, proofMessage } from './mailbox.ts'
export type { MailboxKey, ProofOp } from './mailbox.ts'
export { DirectTransport } from './transport.ts'
export type { StoreTransport, StorePath, ExchangeOptions } from './transport.ts'
export { StoreProtocolClient } from './protocol.ts'
export { StoreClient } from './client.ts'
export type { DepositOptions, DepositReceipt, FetchOptions, HistoryOptions, HistoryPage, StoredMessage, StoreClientInit } from './client.ts'
export { StoreServer, DEFAULT_QUOTAS } from './server.ts'
export type { AnswerOptions, StoreServerInit, StoreServerStatus, ReplicaState, RecordValidator, RecordSelector } from './server.ts'
export { decodeRequest, decodeResponse, recordNamespace } from './codec.ts'
export * from './errors.ts'
export { StoreRequest, StoreResponse, Envelope, Sync } from './store.ts'

export interface StoreInit extends StoreClientInit, Partial<Omit<StoreServerInit, 'path' | 'replicas'>> {
  /**
   * Serve mailboxes (the store node side)
   *
   * @default true when the node has the `store` role
   */
  serve?: boolean

  /**
   * Where the store node keeps its LevelDB
   *
   * @default `<home>/store`
   */
  path?: string
}

export interface StoreComponents {
  node: Pick<MurmurNode, 'libp2p' | 'roles' | 'home' | 'logger' | 'metricsRegistry'>
}

/** Requests this node addresses to itself go straight to its own store server, not over the network */
class LocalFirstTransport implements StoreTransport {
  readonly inner: StoreTransport
  private readonly server: StoreServer
  private readonly self: PeerId

  constructor (inner: StoreTransport, server: StoreServer, self: PeerId) {
    this.inner = inner
    this.server = server
    this.self = self
  }

  async exchange (storeNode: PeerId, request: Uint8Array, options: ExchangeOptions): Promise<Uint8Array> {
    if (storeNode.equals(this.self)) {
      return StoreResponse.encode(await this.server.answer(request, this.self))
    }
    return this.inner.exchange(storeNode, request, options)
  }
}

/** `murmur.store`: the client of every peer, and the store node when it serves */
export class Store implements Startable {
  readonly client: StoreClient
  /** Present when this node serves mailboxes */
  readonly server?: StoreServer
  private readonly self: PeerId
  private started = false

  constructor (components: StoreComponents, init: StoreInit = {}) {
    const { node } = components
    this.self = node.libp2p.peerId
    const direct = new DirectTransport(node.libp2p)
    const logger = node.logger.forComponent('store')
    const serve = init.serve ?? node.roles.has('store')
    // one listener of identify and one peer-store write per answer, for the client and the server alike
    const peers = new StorePeers(node.libp2p)
    this.client = new StoreClient({ libp2p: node.libp2p as any, logger, self: serve ? node.libp2p.peerId : undefined, peers }, direct, init)
    if (serve) {
      const path = init.path ?? (node.home != null ? `${node.home}/store` : undefined)
      if (path == null) {
        throw new NotServingError('A store node needs a home (or store.path) for its durable database')
      }
      this.server = new StoreServer({
        libp2p: node.libp2p as any,
        logger: node.logger.forComponent('store:server'),
        metricsRegistry: node.metricsRegistry,
        transport: direct,
        peers
      }, { ...init, path })
      this.client.transport = new LocalFirstTransport(direct, this.server, node.libp2p.peerId)
    }
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    await this.server?.start()
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    await this.client.stop()
    await this.server?.stop()
  }

  /**
   * Replaces how the client reaches store nodes (the onion layer's TX/RX
   * routes); store nodes keep talking to each other directly
   */
  setTransport (transport: StoreTransport): void {
    this.client.transport = this.server != null ? new LocalFirstTransport(transport, this.server, this.self) : transport
  }

  async deposit (mailbox: Uint8Array, payloads: Uint8Array | Uint8Array[], options?: DepositOptions): Promise<DepositReceipt> {
    return this.client.deposit(mailbox, payloads, options)
  }

  async fetch (key: MailboxKey, options?: FetchOptions): Promise<StoredMessage[]> {
    return this.client.fetch(key, options)
  }

  async ack (key: MailboxKey, ids: Array<string | Uint8Array>, options?: AbortOptions): Promise<{ storedOn: string[] }> {
    return this.client.ack(key, ids, options)
  }

  /** Publishes a signed public record (a prekey bundle) on its store nodes; see `StoreServer.publishRecord` */
  async publishRecord (key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<{ storedOn: string[] }> {
    return this.client.publishRecord(key, value, options)
  }

  /** The records its store nodes hold under `key` (validate before use) */
  async lookupRecord (key: Uint8Array, options?: AbortOptions): Promise<Uint8Array[]> {
    return this.client.lookupRecord(key, options)
  }

  async history (topic: string, options?: HistoryOptions): Promise<HistoryPage> {
    return this.client.history(topic, options)
  }

  async storeNodes (mailbox: Uint8Array, options?: AbortOptions): Promise<PeerId[]> {
    return this.client.storeNodes(mailbox, options)
  }

  /** The store peers this node knows (identify said they serve the store protocol), itself excluded */
  async storePeers (): Promise<PeerId[]> {
    return this.client.storePeers()
  }

  /** Keep this gossipsub topic's envelopes for history (store nodes only) */
  async followTopic (topic: string): Promise<void> {
    if (this.server == null) {
      throw new NotServingError('Only a store node follows topics')
    }
    await this.server.followTopic(topic)
  }

  /** The store node's state, or undefined when it does not serve */
  status (): StoreServerStatus | undefined {
    return this.server?.status()
  }
}

export function createStore (components: StoreComponents, init?: StoreInit): Store {
  return new Store(components, init)
}
