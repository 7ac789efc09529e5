/**
 * The serving side of a store node: answers the store protocol, keeps
 * envelopes durably (`db.ts`), replicates new deposits and acks to the other
 * responsible store nodes, reconciles with them by bucketed digests
 * (anti-entropy), sweeps expired messages and keeps the history of the group
 * topics it is told to follow.
 */

import { lpStream } from '@libp2p/utils'
import { randomBytes } from '@noble/hashes/utils.js'
import { equals } from 'uint8arrays/equals'
import { checkAckProof, decodeRequest, recordNamespace } from './codec.ts'
import { CHALLENGE_BYTES, CHALLENGE_TTL_MS, MAX_CLOCK_SKEW_MS, MAX_FRAME_BYTES, MAX_PAGE, MAX_PAYLOAD_BYTES, MAX_SYNC_ITEMS, MAX_TTL_MS, STORE_PROTOCOL, SYNC_BUCKETS } from './constants.ts'
import { StoreDb, hex } from './db.ts'
import { DepositRateLimitError, MailboxProofRequiredError, NotServingError, PeerCutOffError, RecordRejectedError, StaleChallengeError, StoreError, StoreInternalError, StoreRequestError, StoreMessageTooLargeError, TooManyStoreStreamsError, WrongMailboxError } from './errors.ts'
import { ackBody, envelopeId, mailboxName, proofMessage, proofSignatureValid, topicMailbox } from './mailbox.ts'
import { StoreMetrics } from './metrics.ts'
import { StorePeers } from './peers.ts'
import { StoreProtocolClient } from './protocol.ts'
import { StoreRequest, StoreResponse, Sync } from './store.ts'
import type { MailboxState, StoreQuotas, StoreTotals } from './db.ts'
import type { ProofOp } from './mailbox.ts'
import type { AckProof, Envelope, Proof, SyncItem } from './store.ts'
import type { StoreTransport } from './transport.ts'
import type { Logger } from '../node/logger.ts'
import type { Message } from '@libp2p/gossipsub'
import type { Connection, IdentifyResult, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Registry } from 'prom-client'

/** Checks a public record (throws when it is forged or misfiled): the DHT's `Validators` shape */
export type RecordValidator = (key: Uint8Array, value: Uint8Array) => void | Promise<void>
/** Picks the record to keep among candidates (index into `records`): the DHT's `Selectors` shape */
export type RecordSelector = (key: Uint8Array, records: Uint8Array[]) => number | Promise<number>

export interface AnswerOptions {
  /** The most bytes the encoded response of a FETCH or HISTORY may take */
  maxBytes?: number
}

/** A page cursor: timestamp (u64) ‖ envelope id */
const CURSOR_BYTES = 8 + 32

/** Verified proofs remembered (~200 bytes each); forgotten all at once when full */
const MAX_VERIFIED_PROOFS = 4096

export interface StoreServerInit extends Partial<StoreQuotas> {
  /**
   * Public records this node keeps, by key namespace (`/<namespace>/...`),
   * with the same validators and selectors the DHT uses for them (the
   * composite passes contacts' prekey bundle ones). A namespace without a
   * validator is refused: a store node keeps no record it cannot check.
   *
   * @default {}
   */
  recordValidators?: Record<string, RecordValidator>
  /**
   * Which record wins when one is published over another (a namespace without
   * one: the newer publish)
   *
   * @default {}
   */
  recordSelectors?: Record<string, RecordSelector>
  /** Where LevelDB keeps the store (a directory in Node, a database name in browsers) */
  path: string
  /**
   * Store nodes per mailbox
   *
   * @default 3
   */
  replicas?: number
  /**
   * Longest and default time a message is kept, in ms (at most 7 days)
   *
   * @default 7 days
   */
  ttlMs?: number
  /**
   * Envelopes per second one peer may deposit
   *
   * @default 1000
   */
  depositRate?: number
  /**
   * How many envelopes one peer may deposit in a burst
   *
   * @default 5000
   */
  depositBurst?: number
  /**
   * Rate-limited requests within `cutOffWindowMs` after which a peer is cut
   * off: it was told to slow down that many times and went on (a client
   * retries a refused deposit a few times, with backoff)
   *
   * @default 100
   */
  cutOffAfter?: number
  /**
   * The window in which `cutOffAfter` refusals cut a peer off, in ms
   *
   * @default 10000
   */
  cutOffWindowMs?: number
  /**
   * How long a cut-off peer's store streams are refused, in ms
   *
   * @default 60000
   */
  cutOffMs?: number
  /**
   * Store streams one peer may hold open at once, over all its connections
   * (each may buffer up to one frame while its request waits)
   *
   * @default 32
   */
  maxStreamsPerPeer?: number
  /**
   * Anti-entropy period in ms
   *
   * @default 60000
   */
  syncIntervalMs?: number
  /**
   * Sweeper period in ms
   *
   * @default 60000
   */
  sweepIntervalMs?: number
  /**
   * How long a challenge stays good
   *
   * @default 30000
   */
  challengeTtlMs?: number
  /**
   * fsync before acknowledging; turning it off is for measuring only
   *
   * @default true
   */
  syncWrites?: boolean
}

export interface StoreServerComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'peerStore' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener' | 'dialProtocol' | 'getConnections'> & { services: { pubsub?: GossipLike } }
  logger: Logger
  metricsRegistry?: Registry
  transport: StoreTransport
  /** Who stores, as identify said (one per node: the client shares it) */
  peers?: StorePeers
}

/** The part of gossipsub the history follower uses */
export interface GossipLike {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  addEventListener(type: 'message', listener: (evt: CustomEvent<Message>) => void): void
  removeEventListener(type: 'message', listener: (evt: CustomEvent<Message>) => void): void
}

export interface ReplicaState {
  peer: string
  lastSync?: string
  lastResult?: 'in-sync' | 'repaired' | 'failed'
  differingBuckets?: number
  pulled?: number
  pushed?: number
  error?: string
}

export interface StoreServerStatus extends StoreTotals {
  oldestMessage: string | null
  maxBytes: number
  ttlMs: number
  followedTopics: string[]
  replicas: ReplicaState[]
}

export const DEFAULT_QUOTAS: StoreQuotas = {
  maxMessagesPerMailbox: 20_000,
  maxBytesPerMailbox: 64 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
  maxMessages: 1_000_000
}

/** A peer's deposit tokens, and how many of its requests were refused for the rate since `window` */
interface Bucket { tokens: number, at: number, refused: number, window: number }

/** What the stream reader may buffer: one largest frame and its length prefix */
const MAX_STREAM_BUFFER = MAX_FRAME_BYTES + 16

/** Errors of `lpStream` when a frame is over the limit (its length prefix, or the bytes buffered) */
const OVERSIZED = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'StreamBufferError'])

export class StoreServer {
  readonly db: StoreDb
  private readonly components: StoreServerComponents
  private readonly log: Logger
  private readonly k: number
  readonly ttlMs: number
  private readonly quotas: StoreQuotas
  private readonly rate: number
  private readonly burst: number
  private readonly syncIntervalMs: number
  private readonly sweepIntervalMs: number
  private readonly challengeTtlMs: number
  private readonly recordValidators: Record<string, RecordValidator>
  private readonly recordSelectors: Record<string, RecordSelector>
  private readonly challenges = new Map<string, number>()
  /**
   * Proofs whose signature verified (key, signature and signed message): a
   * drain proves once and sends the same proof with every page, and an
   * Ed25519 verification costs ~1 ms in JavaScript. What was valid stays so;
   * the challenge's freshness is checked on every request all the same.
   */
  private readonly verifiedProofs = new Set<string>()
  private readonly buckets = new Map<string, Bucket>()
  private readonly cutOffAfter: number
  private readonly cutOffWindowMs: number
  private readonly cutOffMs: number
  private readonly maxStreamsPerPeer: number
  /** Peers cut off, until when */
  private readonly cutOff = new Map<string, number>()
  /** Open store streams by peer */
  private readonly open = new Map<string, Set<Stream>>()
  private readonly peers: StorePeers
  private readonly metrics?: StoreMetrics
  private readonly replicaState = new Map<string, ReplicaState>()
  private readonly pushQueue = new Map<string, { peer: PeerId, envelopes: Envelope[], acks: AckProof[] }>()
  private pushTimer?: ReturnType<typeof setTimeout>
  private syncTimer?: ReturnType<typeof setInterval>
  private sweepTimer?: ReturnType<typeof setInterval>
  private syncing?: Promise<void>
  private lastTopicTs = 0n
  private started = false

  constructor (components: StoreServerComponents, init: StoreServerInit) {
    this.components = components
    this.log = components.logger
    this.k = init.replicas ?? 3
    this.ttlMs = Math.min(init.ttlMs ?? MAX_TTL_MS, MAX_TTL_MS)
    this.quotas = {
      maxMessagesPerMailbox: init.maxMessagesPerMailbox ?? DEFAULT_QUOTAS.maxMessagesPerMailbox,
      maxBytesPerMailbox: init.maxBytesPerMailbox ?? DEFAULT_QUOTAS.maxBytesPerMailbox,
      maxBytes: init.maxBytes ?? DEFAULT_QUOTAS.maxBytes,
      maxMessages: init.maxMessages ?? DEFAULT_QUOTAS.maxMessages
    }
    this.rate = init.depositRate ?? 1000
    this.burst = init.depositBurst ?? 5000
    this.cutOffAfter = init.cutOffAfter ?? 100
    this.cutOffWindowMs = init.cutOffWindowMs ?? 10_000
    this.cutOffMs = init.cutOffMs ?? 60_000
    this.maxStreamsPerPeer = init.maxStreamsPerPeer ?? 32
    this.syncIntervalMs = init.syncIntervalMs ?? 60_000
    this.sweepIntervalMs = init.sweepIntervalMs ?? 60_000
    this.challengeTtlMs = init.challengeTtlMs ?? CHALLENGE_TTL_MS
    this.recordValidators = init.recordValidators ?? {}
    this.recordSelectors = init.recordSelectors ?? {}
    this.db = new StoreDb(init.path, this.quotas, { sync: init.syncWrites ?? true })
    this.peers = components.peers ?? new StorePeers(components.libp2p)
    if (components.metricsRegistry != null) {
      this.metrics = new StoreMetrics(components.metricsRegistry, () => this.db.totals())
    }
    this.onIdentify = this.onIdentify.bind(this)
    this.onGossip = this.onGossip.bind(this)
  }

  private get selfBytes (): Uint8Array {
    return this.components.libp2p.peerId.toMultihash().bytes
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    await this.db.open()
    await this.components.libp2p.handle(STORE_PROTOCOL, (stream, connection) => {
      void this.onStream(stream, connection).catch(err => { this.log.debug({ err: err.message }, 'store stream failed') })
    }, { maxInboundStreams: 256 })
    this.components.libp2p.addEventListener('peer:identify', this.onIdentify)
    const pubsub = this.components.libp2p.services.pubsub
    if (pubsub != null) {
      pubsub.addEventListener('message', this.onGossip)
      for (const topic of this.db.followed) {
        pubsub.subscribe(topic)
      }
    }
    this.started = true
    // a restarted node expires what passed its TTL while it was down, then syncs
    void this.sweep()
    this.sweepTimer = setInterval(() => { void this.sweep() }, this.sweepIntervalMs)
    this.syncTimer = setInterval(() => { void this.antiEntropy() }, this.syncIntervalMs)
    setTimeout(() => { void this.antiEntropy() }, 200)
    this.log.info({ ...this.db.totals(), ttlMs: this.ttlMs, quotas: this.quotas }, 'store node serving')
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    clearInterval(this.sweepTimer)
    clearInterval(this.syncTimer)
    clearTimeout(this.pushTimer)
    this.components.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.components.libp2p.services.pubsub?.removeEventListener('message', this.onGossip)
    await this.components.libp2p.unhandle(STORE_PROTOCOL).catch(() => {})
    await this.syncing?.catch(() => {})
    await this.db.close()
    this.metrics?.remove()
  }

  isStarted (): boolean {
    return this.started
  }

  status (): StoreServerStatus {
    const totals = this.db.totals()
    return {
      ...totals,
      oldestMessage: totals.oldest != null ? new Date(totals.oldest).toISOString() : null,
      maxBytes: this.quotas.maxBytes,
      ttlMs: this.ttlMs,
      followedTopics: [...this.db.followed],
      replicas: [...this.replicaState.values()]
    }
  }

  // --- the protocol -------------------------------------------------------

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer
    const key = remote.toString()
    if (this.isCutOff(key)) {
      this.refuse('cut-off')
      stream.abort(new PeerCutOffError())
      return
    }
    const streams = this.open.get(key) ?? new Set<Stream>()
    if (streams.size >= this.maxStreamsPerPeer) {
      this.refuse('streams')
      stream.abort(new TooManyStoreStreamsError(`At most ${this.maxStreamsPerPeer} store streams per peer`))
      return
    }
    streams.add(stream)
    this.open.set(key, streams)
    try {
      await this.serveStream(stream, remote)
    } finally {
      streams.delete(stream)
      if (streams.size === 0 && this.open.get(key) === streams) {
        this.open.delete(key)
      }
    }
  }

  private async serveStream (stream: Stream, remote: PeerId): Promise<void> {
    // the reader holds at most one largest frame: a larger length prefix, or more bytes sent ahead, reset the stream
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_STREAM_BUFFER })
    while (this.started) {
      let data
      try {
        data = await lp.read({ signal: AbortSignal.timeout(30_000) })
      } catch (err: any) {
        if (OVERSIZED.has(err?.name)) {
          this.refuse('too-large')
          const refusal = new StoreMessageTooLargeError(`A store frame is at most ${MAX_FRAME_BYTES} bytes`)
          // framing is lost: say why (the write hands the frame to the muxer at once), then reset
          lp.write(StoreResponse.encode(errorResponse(refusal))).catch(() => {})
          stream.abort(refusal)
          return
        }
        break
      }
      const response = await this.answer(data.subarray(), remote)
      await lp.write(StoreResponse.encode(response))
      if (this.isCutOff(remote.toString())) {
        // it has had its rate error: now every store stream of it goes
        this.dropStreams(remote.toString())
        return
      }
    }
    await stream.close().catch(() => { stream.abort(new Error('close failed')) })
  }

  private isCutOff (key: string): boolean {
    const until = this.cutOff.get(key)
    if (until == null) {
      return false
    }
    if (until <= Date.now()) {
      this.cutOff.delete(key)
      return false
    }
    return true
  }

  private dropStreams (key: string): void {
    for (const s of this.open.get(key) ?? []) {
      s.abort(new PeerCutOffError())
    }
  }

  private refuse (reason: 'rate-limit' | 'cut-off' | 'streams' | 'too-large'): void {
    this.metrics?.refused.inc({ reason })
  }

  /** One request in, one response out; every failure is a status, never a throw */
  /**
   * Answers one encoded request. `maxBytes` bounds the encoded response of a
   * FETCH or HISTORY: the page holds as many envelopes as fit (at least one),
   * with `more` and the cursor after the last one (an onion answer must fit
   * its reply blocks)
   */
  async answer (data: Uint8Array, remote: PeerId, options: AnswerOptions = {}): Promise<StoreResponse> {
    const response: StoreResponse = { status: StoreResponse.Status.OK, error: '', challenge: new Uint8Array(0), envelopes: [], cursor: new Uint8Array(0), more: false, accepted: 0 }
    let type = 'unknown'
    try {
      const req = decodeRequest(data)
      type = StoreRequest.Type[req.type] ?? 'unknown'
      await this.handle(req, remote, response, options)
    } catch (err: any) {
      const known = err instanceof StoreError ? err : new StoreInternalError()
      if (!(err instanceof StoreError)) {
        this.log.warn({ err: err?.message }, 'store request failed')
      }
      response.status = known.status
      response.error = known.message
    }
    this.metrics?.requests.inc({ type: type.toLowerCase(), status: StoreResponse.Status[response.status].toLowerCase() })
    return response
  }

  private async handle (req: StoreRequest, remote: PeerId, res: StoreResponse, options: AnswerOptions): Promise<void> {
    switch (req.type) {
      case StoreRequest.Type.DEPOSIT:
        res.accepted = await this.deposit(req.deposit?.envelopes ?? [], remote)
        break
      case StoreRequest.Type.CHALLENGE:
        res.challenge = this.newChallenge()
        break
      case StoreRequest.Type.FETCH: {
        const f = req.fetch
        if (f == null) {
          throw new StoreRequestError('A fetch names its mailbox')
        }
        this.checkProof(f.proof, 'fetch', f.mailbox)
        const page = await this.db.page(f.mailbox, { cursor: f.cursor, limit: clampLimit(f.limit), ...envelopeBudget(res, options) })
        res.envelopes = page.envelopes
        res.cursor = page.cursor
        res.more = page.more
        this.metrics?.served.inc(page.envelopes.length)
        break
      }
      case StoreRequest.Type.ACK: {
        const ack = req.ack?.ack
        if (ack == null) {
          throw new StoreRequestError('An ack carries its proof')
        }
        if (!equals(ack.storePeer, this.selfBytes)) {
          throw new MailboxProofRequiredError('The ack was signed for another store node')
        }
        this.checkProof(ack.proof, 'ack', ack.mailbox, ackBody(ack.ids))
        res.accepted = await this.db.ack(ack)
        this.metrics?.acked.inc(res.accepted)
        void this.replicate(ack.mailbox, [], [ack])
        break
      }
      case StoreRequest.Type.SYNC:
        res.sync = await this.onSync(req.sync as Sync, remote)
        break
      case StoreRequest.Type.HISTORY: {
        const h = req.history
        if (h == null || !this.db.followed.has(h.topic)) {
          throw new NotServingError('This store node does not keep that topic\'s history')
        }
        const page = await this.db.page(topicMailbox(h.topic), { cursor: h.cursor, since: h.since, limit: clampLimit(h.limit), ...envelopeBudget(res, options) })
        res.envelopes = page.envelopes
        res.cursor = page.cursor
        res.more = page.more
        break
      }
      case StoreRequest.Type.PUBLISH:
      case StoreRequest.Type.LOOKUP:
        await this.onRecord(req, remote, res)
        break
      default:
        throw new StoreRequestError('Unknown request type')
    }
  }

  private newChallenge (): Uint8Array<ArrayBuffer> {
    const now = Date.now()
    // bounded: a flood of challenge requests evicts the oldest, it cannot grow the map
    if (this.challenges.size >= 10_000) {
      for (const [key, expires] of this.challenges) {
        if (expires <= now || this.challenges.size >= 10_000) {
          this.challenges.delete(key)
        } else {
          break
        }
      }
    }
    const challenge = Uint8Array.from(randomBytes(CHALLENGE_BYTES))
    this.challenges.set(hex(challenge), now + this.challengeTtlMs)
    return challenge
  }

  private checkProof (proof: Proof | undefined, op: ProofOp, mailbox: Uint8Array, body?: Uint8Array): void {
    if (proof == null) {
      throw new MailboxProofRequiredError()
    }
    const expires = this.challenges.get(hex(proof.challenge))
    if (expires == null || expires <= Date.now()) {
      throw new StaleChallengeError()
    }
    if (!equals(mailboxName(proof.mailboxKey), mailbox)) {
      throw new WrongMailboxError()
    }
    const verified = `${hex(proof.mailboxKey)}|${hex(proof.signature)}|${hex(proofMessage(op, this.selfBytes, proof.challenge, mailbox, body))}`
    if (this.verifiedProofs.has(verified)) {
      return
    }
    if (!proofSignatureValid(proof, op, this.selfBytes, mailbox, body)) {
      throw new MailboxProofRequiredError('The signature over the challenge does not verify with the mailbox key')
    }
    if (this.verifiedProofs.size >= MAX_VERIFIED_PROOFS) {
      this.verifiedProofs.clear()
    }
    this.verifiedProofs.add(verified)
  }

  private takeTokens (peer: PeerId, n: number): void {
    const key = peer.toString()
    const now = Date.now()
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now, refused: 0, window: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.rate / 1000)
    bucket.at = now
    if (bucket.tokens < n) {
      if (now - bucket.window > this.cutOffWindowMs) {
        bucket.refused = 0
        bucket.window = now
      }
      bucket.refused++
      this.buckets.set(key, bucket)
      this.refuse('rate-limit')
      // the node's own key stands for every anonymous peer (store requests over onion routes): never cut off
      if (bucket.refused >= this.cutOffAfter && !peer.equals(this.components.libp2p.peerId)) {
        bucket.refused = 0
        this.cutPeerOff(key, now)
      }
      throw new DepositRateLimitError(`At most ${this.rate} deposits per second per peer (burst ${this.burst})`)
    }
    bucket.tokens -= n
    this.buckets.set(key, bucket)
    if (this.buckets.size > 10_000) {
      // full buckets carry no information: drop them
      for (const [k, b] of this.buckets) {
        if (b.tokens >= this.burst || now - b.at > 60_000) {
          this.buckets.delete(k)
        }
      }
    }
  }

  private cutPeerOff (key: string, now: number): void {
    if (this.cutOff.size >= 10_000) {
      for (const [k, until] of this.cutOff) {
        if (until <= now) {
          this.cutOff.delete(k)
        }
      }
    }
    this.cutOff.set(key, now + this.cutOffMs)
    this.log.info({ peer: key, forMs: this.cutOffMs }, 'peer cut off: it went on depositing through its rate errors')
  }

  private async onRecord (req: StoreRequest, remote: PeerId, res: StoreResponse): Promise<void> {
    if (req.type === StoreRequest.Type.LOOKUP) {
      const record = req.lookup != null ? await this.db.getRecord(req.lookup.key) : undefined
      res.record = record != null ? Uint8Array.from(record) : undefined
      return
    }
    if (req.publish == null) {
      throw new StoreRequestError('A publish carries a key and a record')
    }
    this.takeTokens(remote, 1)
    await this.publishRecord(req.publish.key, req.publish.value)
    res.accepted = 1
  }

  /**
   * Keeps a signed public record (a prekey bundle), so a peer can start a
   * session with its owner while the owner is offline and the DHT has lost
   * the record. The namespace's validator (the DHT's own) refuses forged or
   * misfiled records; one record per key, the selector keeps the newer; it
   * lives the store's TTL (at most 7 days) unless republished, which owners
   * do on start, on every change and hourly. Records are not replicated
   * between store nodes: the owner publishes to each of the k responsible.
   */
  async publishRecord (key: Uint8Array, value: Uint8Array): Promise<void> {
    const namespace = recordNamespace(key)
    const validate = this.recordValidators[namespace]
    if (validate == null) {
      throw new RecordRejectedError(`This store node keeps no records of namespace "${namespace}"`)
    }
    try {
      await validate(key, value)
    } catch (err: any) {
      throw new RecordRejectedError(`The record is invalid: ${err?.message ?? err}`)
    }
    const held = await this.db.getRecord(key)
    const select = this.recordSelectors[namespace]
    if (held != null && select != null && await select(key, [Uint8Array.from(held), value]) === 0) {
      if (equals(held, value)) {
        // a republish of the same record refreshes its expiry
        await this.db.putRecord(key, value, Date.now() + this.ttlMs)
        return
      }
      throw new RecordRejectedError('A newer record is already held for this key')
    }
    await this.db.putRecord(key, value, Date.now() + this.ttlMs)
  }

  async deposit (envelopes: Envelope[], remote: PeerId): Promise<number> {
    const now = Date.now()
    const stored: Envelope[] = envelopes.map(e => {
      if (!equals(envelopeId(e.payload), e.id)) {
        throw new StoreRequestError('An envelope id is sha256 of its payload')
      }
      const ts = Number(e.timestamp / 1000n)
      if (Math.abs(ts - now) > MAX_CLOCK_SKEW_MS) {
        throw new StoreRequestError('The envelope timestamp is too far from the store node\'s clock')
      }
      const ttl = e.expires === 0n ? this.ttlMs : Math.min(Number(e.expires), this.ttlMs)
      return { ...e, expires: BigInt(now + ttl) }
    })
    this.takeTokens(remote, envelopes.length)
    try {
      const added = await this.db.put(stored)
      this.metrics?.deposits.inc({ result: 'ok' }, envelopes.length)
      if (added > 0) {
        void this.replicate(stored[0].mailbox, stored, [])
      }
      return envelopes.length
    } catch (err: any) {
      this.metrics?.deposits.inc({ result: err?.name ?? 'error' }, envelopes.length)
      throw err
    }
  }

  // --- replication ------------------------------------------------------

  private async othersResponsible (mailbox: Uint8Array): Promise<PeerId[]> {
    const self = this.components.libp2p.peerId
    const responsible = await this.peers.responsible(mailbox, this.k, self)
    return responsible.filter(p => !p.equals(self))
  }

  /** Background push of new envelopes and acks to the other responsible nodes; anti-entropy repairs what fails */
  private async replicate (mailbox: Uint8Array, envelopes: Envelope[], acks: AckProof[]): Promise<void> {
    try {
      const byMailbox = new Map<string, Envelope[]>()
      for (const e of envelopes) {
        byMailbox.set(hex(e.mailbox), [...(byMailbox.get(hex(e.mailbox)) ?? []), e])
      }
      if (byMailbox.size === 0) {
        byMailbox.set(hex(mailbox), [])
      }
      for (const list of byMailbox.values()) {
        const name = list[0]?.mailbox ?? mailbox
        for (const peer of await this.othersResponsible(name)) {
          const q = this.pushQueue.get(peer.toString()) ?? { peer, envelopes: [], acks: [] }
          q.envelopes.push(...list)
          q.acks.push(...acks.filter(a => equals(a.mailbox, name)))
          this.pushQueue.set(peer.toString(), q)
        }
      }
      this.pushTimer ??= setTimeout(() => { void this.flushPushes() }, 20)
    } catch (err: any) {
      this.log.debug({ err: err.message }, 'queueing replication failed')
    }
  }

  private async flushPushes (): Promise<void> {
    this.pushTimer = undefined
    const queued = [...this.pushQueue.values()]
    this.pushQueue.clear()
    await Promise.all(queued.map(async ({ peer, envelopes, acks }) => {
      const client = new StoreProtocolClient(this.components.transport, peer)
      try {
        for (let i = 0; i < Math.max(envelopes.length, acks.length); i += MAX_PAGE) {
          await client.sync({ step: Sync.Step.PUSH, buckets: [], items: [], envelopes: envelopes.slice(i, i + MAX_PAGE), acks: acks.slice(i, i + MAX_PAGE), peers: [] }, { signal: AbortSignal.timeout(10_000) })
        }
        this.metrics?.replicated.inc({ result: 'ok' }, envelopes.length + acks.length)
      } catch (err: any) {
        this.metrics?.replicated.inc({ result: 'failed' }, envelopes.length + acks.length)
        this.log.debug({ peer: peer.toString(), err: err.message }, 'replication push failed; anti-entropy will repair')
      }
    }))
  }

  /** Accepts a replicated ack only with the mailbox owner's valid signature */
  private ackValid (ack: AckProof): boolean {
    try {
      checkAckProof(ack)
    } catch {
      return false
    }
    const proof = ack.proof as Proof
    return equals(mailboxName(proof.mailboxKey), ack.mailbox) && proofSignatureValid(proof, 'ack', ack.storePeer, ack.mailbox, ackBody(ack.ids))
  }

  private async applyPush (envelopes: Envelope[], acks: AckProof[]): Promise<number> {
    let applied = 0
    for (const ack of acks) {
      if (this.ackValid(ack)) {
        applied += await this.db.ack(ack)
      }
    }
    const now = Date.now()
    // never store something already expired or kept longer than our TTL allows
    const fresh = envelopes
      .filter(e => Number(e.expires) > now && equals(envelopeId(e.payload), e.id) && e.payload.length <= MAX_PAYLOAD_BYTES)
      .map(e => ({ ...e, expires: BigInt(Math.min(Number(e.expires), now + this.ttlMs)) }))
    // one mailbox over quota must not stop the others
    const byMailbox = new Map<string, Envelope[]>()
    for (const e of fresh) {
      byMailbox.set(hex(e.mailbox), [...(byMailbox.get(hex(e.mailbox)) ?? []), e])
    }
    for (const list of byMailbox.values()) {
      try {
        applied += await this.db.put(list)
      } catch (err: any) {
        this.log.debug({ err: err.message }, 'replicated envelopes refused')
      }
    }
    return applied
  }

  private sharedWith (peer: PeerId, responsibleSets: Map<string, PeerId[]>): (state: MailboxState) => boolean {
    return (state) => responsibleSets.get(hex(state.mailbox))?.some(p => p.equals(peer)) ?? false
  }

  private async responsibleSets (): Promise<Map<string, PeerId[]>> {
    const self = this.components.libp2p.peerId
    const sets = new Map<string, PeerId[]>()
    for (const [key, state] of this.db.mailboxes) {
      if (!state.topic) {
        sets.set(key, await this.peers.responsible(state.mailbox, this.k, self))
      }
    }
    return sets
  }

  private async onSync (sync: Sync, remote: PeerId): Promise<Sync> {
    const reply: Sync = { step: sync.step, buckets: [], items: [], envelopes: [], acks: [], peers: [] }
    switch (sync.step) {
      case Sync.Step.SUMMARY: {
        // the initiator may hold mailboxes we do not know at all: count those we share by our own view
        const sets = await this.responsibleSets()
        const include = this.sharedWith(remote, sets)
        const mine = this.db.summary(include)
        const differing = new Set<number>()
        mine.forEach((digest, i) => {
          if (!equals(digest, sync.buckets[i] ?? new Uint8Array(8))) {
            differing.add(i)
          }
        })
        reply.buckets = mine
        reply.items = this.db.itemsIn(differing, include).slice(0, MAX_SYNC_ITEMS)
        break
      }
      case Sync.Step.PULL: {
        for (const item of sync.items.slice(0, MAX_PAGE)) {
          if (item.tombstone) {
            const ack = await this.db.getAckProof(item.mailbox, item.id)
            if (ack != null && !reply.acks.some(a => equals(a.proof?.signature ?? new Uint8Array(0), ack.proof?.signature ?? new Uint8Array(0)))) {
              reply.acks.push(ack)
            }
          } else {
            const e = await this.db.getEnvelope(item.mailbox, item.id)
            if (e != null) {
              reply.envelopes.push(e)
            }
          }
        }
        break
      }
      case Sync.Step.PUSH:
        // a push from a peer that is not a store node is a deposit by another name: same rate limit
        if (sync.envelopes.length > 0 && !(await this.peers.all()).some(p => p.equals(remote))) {
          this.takeTokens(remote, sync.envelopes.length)
        }
        await this.applyPush(sync.envelopes, sync.acks)
        break
      default:
        throw new StoreRequestError('Unknown sync step')
    }
    return reply
  }

  /** One round with every other store peer we share mailboxes with */
  async antiEntropy (): Promise<void> {
    if (!this.started) {
      return
    }
    this.syncing ??= (async () => {
      try {
        this.peers.invalidate()
        const others = await this.peers.all()
        const sets = await this.responsibleSets()
        for (const peer of others) {
          if (!this.started) {
            break
          }
          await this.syncWith(peer, sets)
        }
      } finally {
        this.syncing = undefined
      }
    })()
    return this.syncing
  }

  /** Summary → the items of differing buckets → pull what we lack, push what they lack */
  async syncWith (peer: PeerId, sets?: Map<string, PeerId[]>): Promise<ReplicaState> {
    const state: ReplicaState = { peer: peer.toString(), lastSync: new Date().toISOString() }
    const client = new StoreProtocolClient(this.components.transport, peer)
    const signal = AbortSignal.timeout(30_000)
    try {
      const include = this.sharedWith(peer, sets ?? await this.responsibleSets())
      const summary = this.db.summary(include)
      const res = await client.sync({ step: Sync.Step.SUMMARY, buckets: summary, items: [], envelopes: [], acks: [], peers: [] }, { signal })
      const theirs = res.sync
      if (theirs == null || theirs.buckets.length !== SYNC_BUCKETS) {
        throw new StoreRequestError('The replica answered no summary')
      }
      const differing = new Set<number>()
      summary.forEach((d, i) => {
        if (!equals(d, theirs.buckets[i])) {
          differing.add(i)
        }
      })
      state.differingBuckets = differing.size
      if (differing.size === 0) {
        state.lastResult = 'in-sync'
        this.metrics?.syncRounds.inc({ result: 'in-sync' })
        // recorded like any other round: `store status` showed the last repair or failure forever
        this.replicaState.set(peer.toString(), state)
        return state
      }
      const theirItems = new Map<string, SyncItem>(theirs.items.map(i => [hex(i.mailbox) + hex(i.id), i]))
      const toPull: SyncItem[] = []
      for (const item of theirs.items) {
        const mine = this.db.has(item.mailbox, item.id)
        if (mine == null || (item.tombstone && !mine.tombstone)) {
          toPull.push(item)
        }
      }
      const pushEnvelopes: Envelope[] = []
      const pushAcks: AckProof[] = []
      for (const item of this.db.itemsIn(differing, include)) {
        const other = theirItems.get(hex(item.mailbox) + hex(item.id))
        if (other != null && (other.tombstone || !item.tombstone)) {
          continue
        }
        if (item.tombstone) {
          const ack = await this.db.getAckProof(item.mailbox, item.id)
          if (ack != null && !pushAcks.some(a => equals(a.proof?.signature ?? new Uint8Array(0), ack.proof?.signature ?? new Uint8Array(0)))) {
            pushAcks.push(ack)
          }
        } else {
          const e = await this.db.getEnvelope(item.mailbox, item.id)
          if (e != null) {
            pushEnvelopes.push(e)
          }
        }
      }
      let pulled = 0
      for (let i = 0; i < toPull.length; i += MAX_PAGE) {
        const got = await client.sync({ step: Sync.Step.PULL, buckets: [], items: toPull.slice(i, i + MAX_PAGE), envelopes: [], acks: [], peers: [] }, { signal })
        pulled += await this.applyPush(got.sync?.envelopes ?? [], got.sync?.acks ?? [])
      }
      for (let i = 0; i < Math.max(pushEnvelopes.length, pushAcks.length); i += MAX_PAGE) {
        await client.sync({ step: Sync.Step.PUSH, buckets: [], items: [], envelopes: pushEnvelopes.slice(i, i + MAX_PAGE), acks: pushAcks.slice(i, i + MAX_PAGE), peers: [] }, { signal })
      }
      state.pulled = pulled
      state.pushed = pushEnvelopes.length + pushAcks.length
      state.lastResult = 'repaired'
      this.metrics?.syncRounds.inc({ result: 'repaired' })
    } catch (err: any) {
      state.lastResult = 'failed'
      state.error = err.message
      this.metrics?.syncRounds.inc({ result: 'failed' })
    }
    this.replicaState.set(peer.toString(), state)
    return state
  }

  /**
   * A store peer (re)appeared or started serving (identify and identify-push
   * both end here): reconcile with it now rather than at the next period.
   * Not on `peer:update`: libp2p lists a protocol on a peer's record as soon
   * as that peer opens a stream of it, so every depositing client would look
   * like a store node there.
   */
  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    if (this.started && evt.detail.protocols.includes(STORE_PROTOCOL)) {
      this.syncSoon(evt.detail.peerId)
    }
  }

  private syncSoon (peer: PeerId): void {
    this.peers.invalidate()
    setTimeout(() => {
      if (this.started) {
        void this.responsibleSets().then(async sets => this.syncWith(peer, sets)).catch(() => {})
      }
    }, 100)
  }

  // --- expiry -----------------------------------------------------------

  async sweep (): Promise<number> {
    try {
      let total = 0
      let n
      do {
        n = await this.db.sweep()
        total += n
      } while (n > 0 && this.started)
      this.metrics?.expired.inc(total)
      return total
    } catch (err: any) {
      this.log.warn({ err: err.message }, 'sweeping failed')
      return 0
    }
  }

  // --- group history ----------------------------------------------------

  /** Keep the (encrypted) envelopes of a gossipsub topic for up to the TTL */
  async followTopic (topic: string): Promise<void> {
    const pubsub = this.components.libp2p.services.pubsub
    if (pubsub == null) {
      throw new NotServingError('This node has no gossipsub')
    }
    await this.db.follow(topic, topicMailbox(topic))
    pubsub.subscribe(topic)
  }

  private onGossip (evt: CustomEvent<Message>): void {
    const { topic, data } = evt.detail
    if (!this.db.followed.has(topic) || data.length === 0 || data.length > MAX_PAYLOAD_BYTES) {
      return
    }
    // the store node's own clock orders history; strictly increasing so no two share a place
    const now = BigInt(Date.now()) * 1000n
    this.lastTopicTs = now > this.lastTopicTs ? now : this.lastTopicTs + 1n
    const envelope: Envelope = {
      mailbox: topicMailbox(topic),
      id: envelopeId(data),
      timestamp: this.lastTopicTs,
      expires: BigInt(Date.now() + this.ttlMs),
      payload: Uint8Array.from(data)
    }
    this.db.put([envelope], { topic: true }).then(n => {
      this.metrics?.history.inc(n)
    }, err => {
      this.log.debug({ topic, err: err.message }, 'history envelope not kept')
    })
  }
}

/**
 * Bytes left for envelopes in a response of at most `options.maxBytes` with a
 * cursor, and what saying `more` costs on top (exact: a page that fits to the
 * byte must not be cut, nor one byte more be sent)
 */
function envelopeBudget (res: StoreResponse, options: AnswerOptions): { maxBytes?: number, moreBytes?: number } {
  if (options.maxBytes == null) {
    return {}
  }
  const last = StoreResponse.encode({ ...res, envelopes: [], cursor: new Uint8Array(CURSOR_BYTES), more: false }).length
  const more = StoreResponse.encode({ ...res, envelopes: [], cursor: new Uint8Array(CURSOR_BYTES), more: true }).length
  return { maxBytes: Math.max(0, options.maxBytes - last), moreBytes: more - last }
}

function errorResponse (err: StoreError): StoreResponse {
  return { status: err.status, error: err.message, challenge: new Uint8Array(0), envelopes: [], cursor: new Uint8Array(0), more: false, accepted: 0 }
}

function clampLimit (limit: number): number {
  return limit <= 0 ? MAX_PAGE : Math.min(limit, MAX_PAGE)
}
