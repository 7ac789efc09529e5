/**
 * The policy layer above the protocol core: which store nodes (the k
 * closest store peers to the mailbox), how many must acknowledge a deposit
 * (a quorum, the rest in the background), retries, and merging pages from
 * several replicas into one ordered, de-duplicated backlog.
 */

import { ID_BYTES, MAX_ACK_IDS, MAX_PAGE } from './constants.ts'
import { hex, unhex } from './db.ts'
import { DepositRateLimitError, NoStoreNodesError, QuorumNotReachedError, StaleChallengeError, StoreError, StoreInternalError } from './errors.ts'
import { sha256 } from './hash.ts'
import { ackBody, envelopeId, mailboxName, signProof } from './mailbox.ts'
import { StorePeers } from './peers.ts'
import { StoreProtocolClient } from './protocol.ts'
import type { MailboxKey } from './mailbox.ts'
import type { Envelope, Proof } from './store.ts'
import type { StoreTransport } from './transport.ts'
import type { Logger } from '../node/logger.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

export interface StoreClientInit {
  /**
   * Store nodes per mailbox
   *
   * @default 3
   */
  replicas?: number
  /**
   * Acks a deposit waits for; the remaining replicas are written in the background
   *
   * @default a majority of the replicas found
   */
  quorum?: number
  /**
   * Tries per store node
   *
   * @default 3
   */
  attempts?: number
  /**
   * First retry delay, doubled each time
   *
   * @default 250
   */
  retryDelayMs?: number
  /**
   * Time for one request
   *
   * @default 10000
   */
  requestTimeoutMs?: number
}

export interface StoreClientComponents {
  /** This node, when it serves mailboxes itself: it then counts among the candidates */
  self?: PeerId
  libp2p: Pick<Libp2p, 'peerId' | 'peerStore' | 'dial' | 'getConnections'> & { services: { dht?: { getClosestPeers(key: Uint8Array, options?: AbortOptions): AsyncIterable<any> } } }
  logger: Logger
  /** Who stores, as identify said (one per node: the server shares it) */
  peers?: StorePeers
}

export interface DepositOptions extends AbortOptions {
  /** Keep for this long at most (the store node caps it at its TTL, at most 7 days) */
  ttlMs?: number
  quorum?: number
}

export interface DepositReceipt {
  /** Message ids (hex sha-256 of each payload) */
  ids: string[]
  /** Store nodes that acknowledged before this resolved */
  storedOn: string[]
}

export interface StoredMessage {
  /** hex sha-256 of the payload */
  id: string
  payload: Uint8Array
  /** When the sender deposited it, ms */
  timestamp: number
  /** When the store node forgets it, ms */
  expires: number
  /** Its place in the mailbox or topic (hex timestamp ‖ id): pass as `since` to go on after it */
  cursor: string
}

export interface FetchOptions extends AbortOptions {
  /**
   * Stop after this many messages
   *
   * @default all
   */
  limit?: number
  /**
   * Ask every responsible store node and merge (`all`), or the first that answers
   *
   * @default 'all'
   */
  from?: 'all' | 'first'
}

export interface HistoryOptions extends AbortOptions {
  /** Envelopes after this cursor (from a previous answer) or this time (ms) */
  since?: string | number
  limit?: number
}

export interface HistoryPage {
  envelopes: StoredMessage[]
  /** Pass back as `since` for what comes next */
  cursor: string
}

/** The room asked for the first page of a fetch (a transport with bounded answers sizes its reply room to it) */
const FIRST_PAGE_BYTES = 8 * 1024
/** ... and for any page */
const MAX_PAGE_BYTES = 1024 * 1024

/** How often the client may walk the DHT for store nodes when it knows fewer than k */
const DISCOVERY_INTERVAL_MS = 30_000

/** How long stop() waits for background deposits before aborting them */
const STOP_GRACE_MS = 2_000

function retryable (err: unknown): boolean {
  return !(err instanceof StoreError) || err instanceof DepositRateLimitError || err instanceof StoreInternalError
}

export class StoreClient {
  private readonly components: StoreClientComponents
  private readonly k: number
  private readonly quorum?: number
  private readonly attempts: number
  private readonly retryDelayMs: number
  private readonly timeoutMs: number
  private readonly peers: StorePeers
  private readonly log: Logger
  transport: StoreTransport
  private lastTimestamp = 0n
  private lastDiscovery = 0
  private readonly background = new Set<Promise<unknown>>()
  private readonly controller = new AbortController()

  constructor (components: StoreClientComponents, transport: StoreTransport, init: StoreClientInit = {}) {
    this.components = components
    this.transport = transport
    this.k = init.replicas ?? 3
    this.quorum = init.quorum
    this.attempts = init.attempts ?? 3
    this.retryDelayMs = init.retryDelayMs ?? 250
    this.timeoutMs = init.requestTimeoutMs ?? 10_000
    this.peers = components.peers ?? new StorePeers(components.libp2p)
    this.log = components.logger
  }

  /** Waits briefly for background deposits, then aborts them and refuses new work */
  async stop (): Promise<void> {
    // deposits still going to the other replicas get a moment to finish, not the full retry schedule
    await Promise.race([Promise.allSettled([...this.background]), new Promise(resolve => setTimeout(resolve, STOP_GRACE_MS))])
    this.controller.abort()
  }

  private signal (options: AbortOptions): AbortSignal {
    return AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.timeoutMs), ...(options.signal != null ? [options.signal] : [])])
  }

  /** The store nodes responsible for a mailbox name, closest first; asks the DHT when it knows too few */
  async storeNodes (name: Uint8Array, options: AbortOptions = {}): Promise<PeerId[]> {
    const nodes = await this.peers.responsible(name, this.k, this.components.self)
    // a DHT walk costs seconds: at most one per DISCOVERY_INTERVAL_MS, not one per call; the caller
    // waits for it only when it knows no store node at all, else it goes on with those it knows
    // (store nodes replicate among themselves) and the walk serves the next call
    if (nodes.length < this.k && this.components.libp2p.services.dht != null && Date.now() - this.lastDiscovery > DISCOVERY_INTERVAL_MS) {
      this.lastDiscovery = Date.now()
      const walk = this.discover(name, nodes.length === 0 ? options : {}).then(() => { this.peers.invalidate() })
      if (nodes.length > 0) {
        this.background.add(walk)
        void walk.finally(() => this.background.delete(walk))
        return nodes
      }
      await walk
      return this.peers.responsible(name, this.k, this.components.self)
    }
    return nodes
  }

  /** The store peers this node knows (identify said they serve), itself excluded */
  async storePeers (): Promise<PeerId[]> {
    return this.peers.all()
  }

  /** Meets the peers the DHT knows near the name, so identify tells which of them store */
  private async discover (name: Uint8Array, options: AbortOptions): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(5_000), this.controller.signal, ...(options.signal != null ? [options.signal] : [])])
    const dials: Array<Promise<unknown>> = []
    try {
      for await (const event of this.components.libp2p.services.dht?.getClosestPeers(name, { signal }) ?? []) {
        if (event.name === 'FINAL_PEER' && this.components.libp2p.getConnections(event.peer.id).length === 0 && !event.peer.id.equals(this.components.libp2p.peerId)) {
          dials.push(this.components.libp2p.dial(event.peer.id, { signal }).catch(() => {}))
        }
      }
    } catch (err: any) {
      this.log.debug({ err: err.message }, 'looking for store nodes in the DHT failed')
    }
    await Promise.all(dials)
    // identify answers shortly after the connection opens
    await new Promise(resolve => setTimeout(resolve, dials.length > 0 ? 300 : 0))
  }

  private nextTimestamp (): bigint {
    const now = BigInt(Date.now()) * 1000n
    this.lastTimestamp = now > this.lastTimestamp ? now : this.lastTimestamp + 1n
    return this.lastTimestamp
  }

  private async withRetries<T> (fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    let lastError: unknown
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      try {
        return await fn()
      } catch (err) {
        lastError = err
        if (!retryable(err) || signal.aborted || attempt === this.attempts - 1) {
          break
        }
        await new Promise(resolve => setTimeout(resolve, this.retryDelayMs * 2 ** attempt))
      }
    }
    throw lastError
  }

  /**
   * Deposits sealed payloads in a mailbox (named by the hash of its public
   * key) on its k store nodes; resolves when a quorum acknowledged durable
   * writes. The order of `payloads` is the order the owner fetches them in.
   */
  async deposit (mailbox: Uint8Array, payloads: Uint8Array | Uint8Array[], options: DepositOptions = {}): Promise<DepositReceipt> {
    const list = Array.isArray(payloads) ? payloads : [payloads]
    const name = Uint8Array.from(mailbox)
    const envelopes: Envelope[] = list.map(payload => ({
      mailbox: name,
      id: envelopeId(payload),
      timestamp: this.nextTimestamp(),
      expires: BigInt(options.ttlMs ?? 0),
      payload: Uint8Array.from(payload)
    }))
    const ids = envelopes.map(e => hex(e.id))
    const nodes = await this.storeNodes(name, options)
    if (nodes.length === 0) {
      throw new NoStoreNodesError('No store node is known: connect to the network first')
    }
    const quorum = Math.min(options.quorum ?? this.quorum ?? Math.floor(this.k / 2) + 1, nodes.length)
    const storedOn: string[] = []
    const errors: Error[] = []
    const { promise, resolve, reject } = Promise.withResolvers<DepositReceipt>()
    let settled = 0
    const settle = (): void => {
      settled++
      if (storedOn.length >= quorum) {
        resolve({ ids, storedOn: [...storedOn] })
      } else if (settled === nodes.length) {
        // the same refusal everywhere (a quota, too large) is that refusal, not a quorum problem
        const first = errors[0]
        if (first instanceof StoreError && errors.every(e => e.name === first.name)) {
          reject(first)
        } else {
          reject(new QuorumNotReachedError(`${storedOn.length} of ${quorum} store nodes acknowledged: ${errors.map(e => e.message).join('; ')}`, errors))
        }
      }
    }
    const signal = AbortSignal.any([this.controller.signal, ...(options.signal != null ? [options.signal] : [])])
    nodes.forEach(peer => {
      const client = new StoreProtocolClient(this.transport, peer)
      const attempt = this.withRetries(async () => client.deposit(envelopes, { signal: this.signal({ signal }) }), signal)
        .then(() => { storedOn.push(peer.toString()) }, (err) => { errors.push(err) })
        .finally(settle)
      this.background.add(attempt)
      void attempt.finally(() => this.background.delete(attempt))
    })
    return promise
  }

  private async fetchFrom (peer: PeerId, key: MailboxKey, limit: number, options: AbortOptions): Promise<Envelope[]> {
    const client = new StoreProtocolClient(this.transport, peer)
    const name = mailboxName(key.publicKey)
    const storePeer = peer.toMultihash().bytes
    const prove = async (): Promise<Proof> => signProof(key, 'fetch', storePeer, await client.challenge({ signal: this.signal(options) }))
    let proof = await prove()
    const out: Envelope[] = []
    let cursor = new Uint8Array(0)
    // a transport with bounded answers (onion reply blocks) makes room for the page asked for: small first, so a
    // near-empty mailbox costs little, then twice as much for each full page (the transport caps it)
    let answerBytes = FIRST_PAGE_BYTES
    for (;;) {
      let page
      try {
        page = await client.fetch(name, proof, cursor, Math.min(MAX_PAGE, limit - out.length), { signal: this.signal(options), answerBytes })
      } catch (err) {
        if (!(err instanceof StaleChallengeError)) {
          throw err
        }
        // a long drain (over onion routes) outlives one challenge: prove again and go on from the cursor, once per page
        proof = await prove()
        page = await client.fetch(name, proof, cursor, Math.min(MAX_PAGE, limit - out.length), { signal: this.signal(options), answerBytes })
      }
      out.push(...page.envelopes)
      cursor = page.cursor
      if (!page.more || out.length >= limit) {
        return out
      }
      answerBytes = Math.min(MAX_PAGE_BYTES, answerBytes * 2)
    }
  }

  /**
   * The mailbox's backlog, oldest first, each message once, proving
   * possession of the mailbox key to every store node asked.
   */
  async fetch (key: MailboxKey, options: FetchOptions = {}): Promise<StoredMessage[]> {
    const name = mailboxName(key.publicKey)
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    const nodes = await this.storeNodes(name, options)
    if (nodes.length === 0) {
      throw new NoStoreNodesError('No store node is known: connect to the network first')
    }
    const errors: Error[] = []
    let answers: Envelope[][] = []
    if (options.from === 'first') {
      for (const peer of nodes) {
        try {
          answers = [await this.withRetries(async () => this.fetchFrom(peer, key, limit, options), this.signal(options))]
          break
        } catch (err: any) {
          errors.push(err)
        }
      }
    } else {
      const results = await Promise.allSettled(nodes.map(async peer => this.withRetries(async () => this.fetchFrom(peer, key, limit, options), this.signal(options))))
      for (const r of results) {
        if (r.status === 'fulfilled') {
          answers.push(r.value)
        } else {
          errors.push(r.reason)
        }
      }
    }
    if (answers.length === 0) {
      throw errors[0] instanceof StoreError ? errors[0] : new NoStoreNodesError(`No store node answered: ${errors.map(e => e.message).join('; ')}`)
    }
    return merge(answers).slice(0, limit)
  }

  /** Deletes fetched messages on every replica (each store node gets its own proof) */
  async ack (key: MailboxKey, ids: Array<string | Uint8Array>, options: AbortOptions = {}): Promise<{ storedOn: string[] }> {
    const name = mailboxName(key.publicKey)
    const raw = ids.map(id => typeof id === 'string' ? unhex(id) : Uint8Array.from(id))
    if (raw.some(id => id.length !== ID_BYTES)) {
      throw new StoreInternalError('A message id is 32 bytes (64 hex characters)')
    }
    if (raw.length === 0) {
      return { storedOn: [] }
    }
    const nodes = await this.storeNodes(name, options)
    const storedOn: string[] = []
    const errors: Error[] = []
    await Promise.all(nodes.map(async peer => {
      const client = new StoreProtocolClient(this.transport, peer)
      const storePeer = Uint8Array.from(peer.toMultihash().bytes)
      try {
        for (let i = 0; i < raw.length; i += MAX_ACK_IDS) {
          const chunk = raw.slice(i, i + MAX_ACK_IDS)
          await this.withRetries(async () => {
            const challenge = await client.challenge({ signal: this.signal(options) })
            const proof = signProof(key, 'ack', storePeer, challenge, ackBody(chunk))
            await client.ack({ mailbox: name, ids: chunk, storePeer, proof }, { signal: this.signal(options) })
          }, this.signal(options))
        }
        storedOn.push(peer.toString())
      } catch (err: any) {
        errors.push(err)
      }
    }))
    if (storedOn.length === 0) {
      throw errors[0] ?? new NoStoreNodesError()
    }
    return { storedOn }
  }

  /** A group topic's envelopes kept by the store nodes that follow it, oldest first */
  /**
   * Publishes a signed public record (a prekey bundle) on the k store nodes
   * closest to sha256(key); resolves with those that accepted it, rejects
   * when none did (a forged record: `RecordRejectedError` from each).
   */
  async publishRecord (key: Uint8Array, value: Uint8Array, options: AbortOptions = {}): Promise<{ storedOn: string[] }> {
    const nodes = await this.storeNodes(sha256(key), options)
    if (nodes.length === 0) {
      throw new NoStoreNodesError('No store node is known: connect to the network first')
    }
    const storedOn: string[] = []
    const errors: Error[] = []
    await Promise.all(nodes.map(async peer => {
      const client = new StoreProtocolClient(this.transport, peer)
      try {
        await this.withRetries(async () => { await client.publish(Uint8Array.from(key), Uint8Array.from(value), { signal: this.signal(options) }) }, this.signal(options))
        storedOn.push(peer.toString())
      } catch (err: any) {
        errors.push(err)
      }
    }))
    if (storedOn.length === 0) {
      throw errors[0] ?? new NoStoreNodesError()
    }
    return { storedOn }
  }

  /**
   * The records the k store nodes closest to sha256(key) hold under `key`,
   * one per node that has one (unchecked: the caller validates and picks);
   * empty when none holds it
   */
  async lookupRecord (key: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array[]> {
    const nodes = await this.storeNodes(sha256(key), options)
    if (nodes.length === 0) {
      throw new NoStoreNodesError('No store node is known: connect to the network first')
    }
    const found: Uint8Array[] = []
    const errors: Error[] = []
    await Promise.all(nodes.map(async peer => {
      const client = new StoreProtocolClient(this.transport, peer)
      try {
        const record = await this.withRetries(async () => client.lookup(Uint8Array.from(key), { signal: this.signal(options) }), this.signal(options))
        if (record != null) {
          found.push(record)
        }
      } catch (err: any) {
        errors.push(err)
      }
    }))
    if (found.length === 0 && errors.length === nodes.length) {
      throw errors[0]
    }
    return found
  }

  async history (topic: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    let since = 0n
    let cursor = new Uint8Array(0)
    if (typeof options.since === 'number') {
      since = BigInt(options.since) * 1000n
    } else if (typeof options.since === 'string' && options.since !== '') {
      cursor = unhex(options.since)
      since = new DataView(cursor.buffer, cursor.byteOffset).getBigUint64(0)
    }
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    this.peers.invalidate()
    const self = this.components.self
    const nodes = self != null ? [self, ...await this.peers.all()] : await this.peers.all()
    const answers: Envelope[][] = []
    const errors: Error[] = []
    await Promise.all(nodes.map(async peer => {
      const client = new StoreProtocolClient(this.transport, peer)
      const got: Envelope[] = []
      try {
        let c = cursor
        let answerBytes = FIRST_PAGE_BYTES
        for (;;) {
          const page = await client.history(topic, since, c, Math.min(MAX_PAGE, limit - got.length), { signal: this.signal(options), answerBytes })
          got.push(...page.envelopes)
          c = page.cursor
          if (!page.more || got.length >= limit) {
            break
          }
          answerBytes = Math.min(MAX_PAGE_BYTES, answerBytes * 2)
        }
        answers.push(got)
      } catch (err: any) {
        errors.push(err)
      }
    }))
    if (answers.length === 0) {
      throw errors[0] ?? new NoStoreNodesError('No store node keeps this topic')
    }
    const envelopes = merge(answers).slice(0, limit)
    return { envelopes, cursor: envelopes.at(-1)?.cursor ?? (typeof options.since === 'string' ? options.since : '') }
  }
}

/** Replicas' answers as one list: each id once, by (timestamp, id) */
function merge (answers: Envelope[][]): StoredMessage[] {
  const ts = new Uint8Array(8)
  const view = new DataView(ts.buffer)
  const toMessage = (e: Envelope): StoredMessage => {
    view.setBigUint64(0, e.timestamp)
    const id = hex(e.id)
    // hex(timestamp) ‖ hex(id) sorts as (timestamp, id) does: the store node's own order
    return { id, payload: e.payload, timestamp: Number(e.timestamp / 1000n), expires: Number(e.expires), cursor: hex(ts) + id }
  }
  if (answers.length === 1) {
    // one store node's pages are already in order and without repeats
    return answers[0].map(toMessage)
  }
  const byId = new Map<string, StoredMessage>()
  for (const list of answers) {
    for (const e of list) {
      const m = toMessage(e)
      const seen = byId.get(m.id)
      if (seen == null || m.cursor < seen.cursor) {
        byId.set(m.id, m)
      }
    }
  }
  // cursors are unique (they end in the id), so two never compare equal
  return [...byId.values()].sort((a, b) => a.cursor < b.cursor ? -1 : 1)
}
