import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { bytesToHex } from '@noble/hashes/utils.js'
import { buildPacket } from './builder.ts'
import { SURB_SIZE } from './constants.ts'
import { defaultCrypto } from './crypto/index.ts'
import { DeliveryFailedError, DuplicateHandlerError, InvalidSurbError, MessageTooLargeError, NextHopCongestedError, NoRouteError, NoSurbError, OnionNotStartedError, UnknownDestinationError } from './errors.ts'
import { splitByCapacity, Reassembler, MAX_FRAGMENTS } from './fragment.ts'
import { FrameDecoder, ONION_PROTOCOL, encodeFrame, encodeFrames } from './frame.ts'
import { OnionKeyring } from './keyring.ts'
import { dataCapacity, decodeMessage, encodeMessage, MESSAGE_ID_SIZE } from './message.ts'
import { OnionMetrics } from './metrics.ts'
import { destinationMember, ReliabilityTracker, selectPath } from './path.ts'
import { PacketRejectedError, processPacket } from './processor.ts'
import { ReplayCache } from './replay.ts'
import { createSurb, decodeSurb, encodeSurb, openSurbReply, surbReplyPacket } from './surb.ts'
import type { RouteHop } from './builder.ts'
import type { SphinxCrypto } from './crypto/index.ts'
import type { HopKeys } from './keys.ts'
import type { OnionMessage } from './message.ts'
import type { OnionDropReason } from './metrics.ts'
import type { Diversity, RelayCandidate } from './path.ts'
import type { SurbSecret } from './surb.ts'
import type { RelayDescriptor, RelayDirectory } from '../directory/index.ts'
import type { MurmurNode } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import type { PeerId, Startable, Stream } from '@libp2p/interface'

export interface MixingInit {
  /** Mean of the exponential per-hop delay the sender picks (Loopix) */
  meanDelayMs: number
  /** Cap on one hop's delay, at the sender and at the relay (the wire field holds at most 65535) */
  maxDelayMs: number
}

export interface CoverInit {
  /** Mean interval between loop packets (Poisson process) */
  intervalMs: number
}

export interface ProbeInit {
  /**
   * A relay whose score rests on less evidence than this (decayed
   * observations, see ReliabilityTracker) is probed: one never seen, one
   * new to the directory, one not observed for a long while
   *
   * @default 2
   */
  evidence?: number
  /**
   * Probes in flight at once
   *
   * @default 4
   */
  maxInFlight?: number
}

export interface OnionInit {
  /**
   * Relays per route (the destination is one more hop)
   *
   * @default 3
   */
  hops?: number
  /**
   * How long the sender waits for a fragment's ack before trying another route
   * (mixing delays are added on top)
   *
   * @default 10_000
   */
  ackTimeoutMs?: number
  /**
   * Further routes tried per fragment after the first
   *
   * @default 3
   */
  retries?: number
  /**
   * Onion key epoch length
   *
   * @default 3_600_000
   */
  epochMs?: number
  /**
   * How long the previous epoch's key stays live after rotation
   *
   * @default 600_000
   */
  epochOverlapMs?: number
  /**
   * Which relays may not share a route (see `Diversity`); use 'none' on loopback
   *
   * @default 'subnet16'
   */
  diversity?: Diversity
  /**
   * 'private' turns on mixing delays (mean 100 ms, cap 1 s) and loop cover
   * traffic (one loop every 5 s on average); explicit `mixing` / `cover` win
   *
   * @default 'default'
   */
  profile?: 'default' | 'private'
  /**
   * Per-hop mixing delay
   *
   * @default false (off)
   */
  mixing?: MixingInit | false
  /**
   * Loop cover traffic
   *
   * @default false (off)
   */
  cover?: CoverInit | false
  /**
   * Loop probes: packets over routes of relays back to this node, each
   * holding one relay whose reliability is not known yet, so droppers are
   * found before real traffic meets them (at start, every relay is probed a
   * few times within one ack timeout) and relays unobserved for long are
   * measured again. On the wire a probe is a loop packet, as cover traffic
   * is, and looks like any other packet to every relay; no relay can tell a
   * probe from a message and forward only probes.
   *
   * @default { evidence: 2, maxInFlight: 4 }
   */
  probe?: ProbeInit | false
  /**
   * Process and forward other peers' packets. Every onion node is the last
   * hop of its own messages; only relays forward.
   *
   * @default true when the node has the `relay` role
   */
  relay?: boolean
  /**
   * Topic prefixes this node, as an exit, publishes on for others. Only group
   * topics by default: an exit must not be made to speak on the directory
   * topic or any other protocol's.
   *
   * @default ['/murmur/1/g/']
   */
  exitTopicPrefixes?: string[]
  /**
   * Most replay tags per key epoch
   *
   * @default 500_000
   */
  replayCacheSize?: number
  /**
   * The crypto backend
   *
   * @default node:crypto in Node, noble in browsers
   */
  crypto?: SphinxCrypto
}

export interface OnionComponents {
  node: MurmurNode
  directory: RelayDirectory
}

export interface SendOptions {
  /**
   * The destination's handler
   *
   * @default 'default'
   */
  kind?: string
  /** Relays on the route (default: the layer's `hops`) */
  hops?: number
  /**
   * Reply blocks handed to the destination's handler, so it can answer
   *
   * @default 0
   */
  surbs?: number
  retries?: number
  ackTimeoutMs?: number
  signal?: AbortSignal
  /**
   * Relays that may not be on any route of this message: forward routes,
   * retries, the ack's and the reply blocks' routes. Unlike the relays a
   * retry avoids, this is never relaxed: NoRouteError when too few relays
   * remain, so the caller decides what to do instead.
   */
  avoidRelays?: Set<string>
}

export interface SendResult {
  messageId: string
  fragments: number
  /** Routes tried in all, over every fragment */
  attempts: number
  /**
   * Every relay on a route of this message (forward routes of every attempt,
   * ack and reply-block routes), each once: the relays that saw or may see
   * its packets
   */
  relays: string[]
  /** The relays of the reply blocks' routes (with `surbs`): the routes an answer comes back on */
  replyRelays: string[]
}

/** A message as its destination's handler gets it: no sender, only reply blocks */
export interface IncomingMessage {
  messageId: string
  kind: string
  data: Uint8Array
  /** Reply blocks left */
  surbs: number
  /** Answers through one of the message's reply blocks (NoSurbError if none is left) */
  reply(data: Uint8Array): Promise<void>
  /**
   * Answers an `ask` with data of up to `surbs × ANSWER_CHUNK_BYTES` bytes,
   * split over the remaining reply blocks (MessageTooLargeError if it does
   * not fit); the asker puts it back together
   */
  answer(data: Uint8Array): Promise<void>
}

/**
 * Bytes of an answer one reply block carries: all a packet body holds after
 * the end-to-end message header of a reply without a kind (the asker knows
 * what it asked) and the chunk's index and count (one byte each): 1,998.
 * Every byte counts: a drain's pages travel in as many packets, and reply
 * blocks, as their bytes need (it was 1,900, ~5 % more of each).
 */
export const ANSWER_CHUNK_BYTES = dataCapacity({ type: 'reply', id: new Uint8Array(MESSAGE_ID_SIZE), fragment: 0, fragments: 1, kind: '', surbs: [], topic: '' }) - 2

export type OnionHandler = (message: IncomingMessage) => void | Promise<void>

export interface OnionEvents {
  /** An answer to one of this node's messages came back through a reply block (`surbId`: which one) */
  reply: CustomEvent<{ messageId: string, data: Uint8Array, surbId?: string }>
}

export interface OnionStatus {
  epoch: number
  relay: boolean
  onionKey: string
  processed: number
  forwarded: number
  delivered: number
  dropped: Partial<Record<OnionDropReason, number>>
  sent: number
  acked: number
  retried: number
  failed: number
  loops: number
  /** Loop probes of relays (ProbeInit): sent, came back, lost (scored as failures), out now (cover loops count as they come back or not) */
  probes: { sent: number, returned: number, lost: number, inFlight: number }
  replayCacheSize: number
  /** Reply blocks made ahead for the next ask (`AskOptions.prepareNext`), not yet taken */
  spareSurbs: number
  knownRelays: Array<{ peerId: string, epoch: number, load: number, reliability: number }>
}

export interface AskOptions extends SendOptions {
  surbs: number
  signal: AbortSignal
  onSent?(result: SendResult): void
  /**
   * Called as soon as relays are chosen for this ask (a forward route, a
   * reply block's route, reply blocks made ahead and taken now), before any
   * of them is used: a caller that keeps two kinds of exchanges on disjoint
   * relays marks them taken here, so an exchange of the other kind that
   * chooses its routes a moment later (`avoidRelays` is read at each choice)
   * keeps clear of them
   */
  onRoute?(relays: string[]): void
  /**
   * Another ask like this one (same destination, hops and `avoidRelays`)
   * will follow, as a drain's next page does: while this one's answer is on
   * its way, the reply blocks of the next are made (each with its own fresh
   * keys and route, single-use as ever), so the next ask need not make them
   * then. Reply blocks made ahead and not taken expire like any other.
   *
   * @default false
   */
  prepareNext?: boolean
}

/** Reply blocks made ahead for the next ask to one destination over routes of one length */
interface SpareSurb { id: string, surb: Uint8Array, relays: string[] }

/** How many reply blocks are made ahead in one turn of the event loop (answers coming in are taken between turns) */
const SPARE_SURBS_PER_TURN = 4

/** Packets a relay forwards at once, by next hop */
type ForwardBatch = Map<string, { peer: PeerId, packets: Uint8Array[] }>

/**
 * Most packets in one write to a next hop (~320 KB, a third of
 * MAX_UNSENT_BYTES, so one write alone never counts as congestion)
 */
const MAX_PACKETS_PER_WRITE = 128

interface PendingSurb {
  secret: SurbSecret
  /** hex of the α its reply reaches this node with (the key of `ownHops`) */
  alpha: string
  /** the onion public key this node's hop of the SURB was made for */
  onionKey: Uint8Array
  /** Called with the opened message and the reply block's id; ack waiters resolve, reply blocks emit */
  onMessage(message: OnionMessage, surbId: string): void
  expires: number
}

const DEFAULT_KIND = 'default'

/** Longest per-hop delay a relay without its own mixing settings honours */
const RELAY_DELAY_CAP_MS = 5_000

/**
 * Reply blocks per fragment: as many as fit one packet beside the ack's
 * reply block and the kind, leaving the first fragment room for a small
 * request; the first fragment takes the first group
 */
function surbGroups (surbs: Uint8Array[], template: Omit<OnionMessage, 'data' | 'surbs' | 'ackSurb'> & { ackSurb?: Uint8Array }): Uint8Array[][] {
  if (surbs.length === 0) {
    return []
  }
  const room = (n: number): number => {
    try {
      return dataCapacity({ ...template, surbs: surbs.slice(0, n) })
    } catch {
      // the reply blocks alone overflow the packet
      return -1
    }
  }
  let perFragment = 0
  while (perFragment < surbs.length && room(perFragment + 1) >= MIN_FIRST_DATA_BYTES) {
    perFragment++
  }
  if (perFragment === 0) {
    throw new MessageTooLargeError('Kind and reply blocks do not fit a packet')
  }
  const groups: Uint8Array[][] = []
  for (let i = 0; i < surbs.length; i += perFragment) {
    groups.push(surbs.slice(i, i + perFragment))
  }
  return groups
}

/**
 * A message's data and reply blocks cut into fragments: the reply blocks in
 * groups as one packet holds them, the data split by the room each fragment
 * leaves beside its group
 */
function fragmentsOf (data: Uint8Array, surbs: Uint8Array[], template: Omit<OnionMessage, 'data' | 'surbs' | 'ackSurb'> & { ackSurb?: Uint8Array }): { groups: Uint8Array[][], parts: Uint8Array[] } {
  const groups = surbGroups(surbs, template)
  try {
    return { groups, parts: splitByCapacity(data, i => dataCapacity({ ...template, surbs: groups[i] ?? [] }), groups.length) }
  } catch (err: any) {
    throw err instanceof MessageTooLargeError ? err : new MessageTooLargeError(`Kind and reply blocks do not fit a packet: ${err.message}`)
  }
}

/** Asks heard back before their round-trip time decides when an ask goes again */
const ASK_RTT_SAMPLES = 4
/** The least silence after which an ask goes again */
const ASK_MIN_QUIET_MS = 1_000

/** One attempt of an ask: its answer's chunks, its forward relays, its reply blocks' relays and which of them brought a chunk */
interface AskAttempt {
  chunks: Map<number, Uint8Array>
  forward: Set<string>
  surbs: Map<string, string[]>
  delivered: Set<string>
}

/** RFC 6298's update of a smoothed round-trip time and its deviation */
function sampleRtt (r: { srtt: number, rttvar: number, samples: number }, ms: number): void {
  if (r.samples === 0) {
    r.srtt = ms
    r.rttvar = ms / 2
  } else {
    r.rttvar = 0.75 * r.rttvar + 0.25 * Math.abs(r.srtt - ms)
    r.srtt = 0.875 * r.srtt + 0.125 * ms
  }
  r.samples++
}

/**
 * RFC 6298's retransmission timeout from a round-trip estimate, within
 * [floorMs, ceilMs]; `ceilMs` until ASK_RTT_SAMPLES samples are in
 */
function rtoMs (r: { srtt: number, rttvar: number, samples: number }, floorMs: number, ceilMs: number): number {
  return r.samples >= ASK_RTT_SAMPLES ? Math.min(ceilMs, Math.max(floorMs, Math.round(r.srtt + 4 * r.rttvar))) : ceilMs
}

/** Room a fragment with reply blocks keeps for data, so a small request (a store fetch with its proof) rides in the first */
const MIN_FIRST_DATA_BYTES = 256

/**
 * Unsent bytes a stream to one peer may hold (~400 packets). libp2p streams
 * queue whatever is sent; a next hop that stops reading (or a sender that
 * routes a flood through this relay to a peer that never reads) would
 * otherwise grow the queue without end.
 */
export const MAX_UNSENT_BYTES = 1024 * 1024

/** Packets a relay holds for their mixing delay at once (~20 MiB) */
export const MAX_DELAYED_PACKETS = 8192

/** Queues one frame unless the stream already holds MAX_UNSENT_BYTES; waits (10 s at most) while it drains */
async function pushFrame (stream: Stream, frame: Uint8Array): Promise<void> {
  if (stream.writeBufferLength + frame.length > MAX_UNSENT_BYTES) {
    throw new NextHopCongestedError()
  }
  if (!stream.send(frame)) {
    try {
      await stream.onDrain({ signal: AbortSignal.timeout(10_000) })
    } catch (err: any) {
      // stuck for 10 s: let its queue go rather than keep it for a stream that will not move
      stream.abort(err)
      throw err
    }
  }
}

/** Reads a stream to its end, discarding what comes */
async function drain (stream: Stream): Promise<void> {
  try {
    for await (const chunk of stream) {
      void chunk
    }
  } catch {
    // a reset stream is simply gone
  }
}

function hosts (d: RelayDescriptor): string[] {
  const out = new Set<string>()
  for (const addr of d.addrs) {
    for (const c of addr.getComponents()) {
      if ((c.name === 'ip4' || c.name === 'ip6') && c.value != null) { out.add(c.value) }
    }
  }
  return [...out]
}

/**
 * The onion layer: relays process and forward Sphinx packets on
 * `/murmur/onion/1.0.0`; every node sends messages over routes of relays from
 * the verified directory, with an ack per fragment coming back through a SURB,
 * and retries over other routes, scoring down relays whose routes lose packets.
 */
export class Onion extends TypedEventEmitter<OnionEvents> implements Startable {
  private readonly node: MurmurNode
  private readonly directory: RelayDirectory
  private readonly log: Logger
  private readonly crypto: SphinxCrypto
  private readonly hops: number
  private readonly ackTimeoutMs: number
  private readonly retries: number
  private readonly diversity: Diversity
  private readonly mixing?: MixingInit
  private readonly cover?: CoverInit
  private readonly probe?: Required<ProbeInit>
  /** Loop packets out (probes and cover), by message id: the relays on their route */
  private readonly loopsOut = new Map<string, { relays: string[], timer: ReturnType<typeof setTimeout>, sentAt: number }>()
  /** Relays on loops out, and how many each is on: counted as evidence to come, so a relay is not probed twice over */
  private readonly probing = new Map<string, number>()
  /** Relays of exchanges lost just now, and how many probes of their own each is owed */
  private readonly suspects = new Map<string, number>()
  /** When each relay was last the one under test of a probe */
  private readonly lastTested = new Map<string, number>()
  /** How long loops take to come back (RFC 6298, as `askRtt`): a probe is lost after four deviations over the mean */
  private readonly loopRtt = { srtt: 0, rttvar: 0, samples: 0 }
  readonly relay: boolean
  private readonly exitTopicPrefixes: string[]
  /** What an exit publishes with; a layer above may take over (a member exit must see the envelope too) */
  private exitPublisher?: (topic: string, data: Uint8Array) => Promise<void>
  readonly keyring: OnionKeyring
  readonly replay: ReplayCache
  readonly reliability = new ReliabilityTracker()
  readonly metrics: OnionMetrics
  private readonly reassembler = new Reassembler()
  private readonly handlers = new Map<string, OnionHandler>()
  private readonly surbs = new Map<string, PendingSurb>()
  /** Reply blocks made ahead (`AskOptions.prepareNext`), by destination and hops */
  private readonly spareSurbs = new Map<string, SpareSurb[]>()
  private readonly onAskReply = (m: OnionMessage, surbId: string): void => {
    if (m.type === 'reply') {
      this.dispatchEvent(new CustomEvent('reply', { detail: { messageId: bytesToHex(m.id), data: m.data, surbId } }))
    }
  }

  /** α of each pending SURB's reply at this node → its id: the reply's own hop is checked without an X25519 */
  private readonly ownHops = new Map<string, string>()
  private livePublicKeys: Uint8Array[] = []
  private readonly knownKeys = (alpha: Uint8Array): { keys: HopKeys, keyIndex: number } | undefined => {
    const id = this.ownHops.get(bytesToHex(alpha))
    const pending = id == null ? undefined : this.surbs.get(id)
    if (pending == null) {
      return undefined
    }
    const keyIndex = this.livePublicKeys.findIndex(k => k === pending.onionKey || this.crypto.equal(k, pending.onionKey))
    return keyIndex < 0 ? undefined : { keys: pending.secret.own.keys, keyIndex }
  }

  private readonly streams = new Map<string, Promise<Stream>>()
  /** Open outbound streams, for the per-packet fast path (no promise to await) */
  private readonly ready = new Map<string, Stream>()
  /** Next-hop addresses seen recently → peer ids (decoding a key per packet is wasted work) */
  private readonly addressCache = new Map<string, PeerId>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private delayed = 0
  /** Packets to forward at the end of this turn of the event loop, by next hop (`enqueue`) */
  private outbox: ForwardBatch = new Map()
  private flushing = false
  /** Senders waiting for an ack: stop() releases them */
  private readonly waiters = new Set<() => void>()
  private liveKeys: Uint8Array[] = []
  private started = false
  private loadWindow = { since: Date.now(), packets: 0, rate: 0 }
  /**
   * How long asks take to hear back (from sending to the first chunk), as
   * TCP keeps a round-trip time (RFC 6298: smoothed mean and deviation): an
   * ask goes again after four deviations over the mean without a word, not
   * after the whole `ackTimeoutMs`
   */
  private readonly askRtt = { srtt: 0, rttvar: 0, samples: 0 }
  private housekeeping?: ReturnType<typeof setInterval>
  private rotationTimer?: ReturnType<typeof setTimeout>
  private coverTimer?: ReturnType<typeof setTimeout>

  constructor (components: OnionComponents, init: OnionInit = {}) {
    super()
    this.node = components.node
    this.directory = components.directory
    this.log = components.node.logger.forComponent('onion')
    this.crypto = init.crypto ?? defaultCrypto
    this.hops = init.hops ?? 3
    this.ackTimeoutMs = init.ackTimeoutMs ?? 10_000
    this.retries = init.retries ?? 3
    this.diversity = init.diversity ?? 'subnet16'
    const isPrivate = init.profile === 'private'
    const mixing = init.mixing ?? (isPrivate ? { meanDelayMs: 100, maxDelayMs: 1_000 } : false)
    this.mixing = mixing === false ? undefined : { meanDelayMs: mixing.meanDelayMs, maxDelayMs: Math.min(0xffff, mixing.maxDelayMs) }
    const cover = init.cover ?? (isPrivate ? { intervalMs: 5_000 } : false)
    this.cover = cover === false ? undefined : cover
    this.probe = init.probe === false ? undefined : { evidence: init.probe?.evidence ?? 2, maxInFlight: init.probe?.maxInFlight ?? 4 }
    this.relay = init.relay ?? this.node.roles.has('relay')
    this.exitTopicPrefixes = init.exitTopicPrefixes ?? ['/murmur/1/g/']
    this.keyring = new OnionKeyring(this.crypto, init.epochMs ?? 3_600_000, init.epochOverlapMs ?? 600_000, this.node.datastore)
    this.replay = new ReplayCache({ maxEntries: init.replayCacheSize, datastore: this.node.datastore })
    this.metrics = new OnionMetrics(this.node.metricsRegistry)
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    await this.rotate()
    await this.replay.load()
    await this.node.libp2p.handle(ONION_PROTOCOL, (stream, connection) => {
      void this.readStream(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
    this.started = true
    this.housekeeping = setInterval(() => { void this.tick() }, 1_000)
    await this.announce()
    if (this.cover != null) {
      this.scheduleLoop()
    }
    this.pumpProbes()
  }

  async stop (): Promise<void> {
    this.started = false
    clearInterval(this.housekeeping)
    clearTimeout(this.rotationTimer)
    clearTimeout(this.coverTimer)
    for (const t of this.timers) { clearTimeout(t) }
    this.timers.clear()
    this.delayed = 0
    this.outbox = new Map()
    await this.node.libp2p.unhandle(ONION_PROTOCOL)
    for (const pending of this.streams.values()) {
      void pending.then(s => s.abort(new Error('onion layer stopped'))).catch(() => {})
    }
    this.streams.clear()
    this.ready.clear()
    this.surbs.clear()
    this.ownHops.clear()
    this.spareSurbs.clear()
    this.loopsOut.clear()
    this.probing.clear()
    this.suspects.clear()
    this.lastTested.clear()
    for (const release of this.waiters) { release() }
    this.waiters.clear()
    await this.replay.flush()
  }

  /** Registers the handler for messages of `kind` */
  /**
   * Publishes what this node, as an exit, publishes for others through
   * `publisher` instead of straight on gossipsub (the app hands it the groups
   * layer's `publishEnvelope`, as gossipsub never gives a node its own
   * publishes); a publisher that throws means no ack
   */
  setExitPublisher (publisher: ((topic: string, data: Uint8Array) => Promise<void>) | undefined): void {
    this.exitPublisher = publisher
  }

  handle (kind: string, handler: OnionHandler): void {
    if (this.handlers.has(kind)) {
      throw new DuplicateHandlerError(`A handler is already registered for "${kind}"`)
    }
    this.handlers.set(kind, handler)
  }

  unhandle (kind: string): void {
    this.handlers.delete(kind)
  }

  // ---- keys and the descriptor ----

  private async rotate (): Promise<void> {
    const key = await this.keyring.rotate()
    const live = this.keyring.live()
    this.liveKeys = live.map(k => k.privateKey)
    this.livePublicKeys = live.map(k => k.publicKey)
    this.replay.setEpochs(live.map(k => k.epoch))
    const nextBoundary = (key.epoch + 1) * this.keyring.epochMs
    clearTimeout(this.rotationTimer)
    // rotate at the boundary, and again when the previous key's overlap ends
    const overlapEnd = this.keyring.notAfter(key.epoch - 1)
    const next = Math.min(nextBoundary, overlapEnd > Date.now() ? overlapEnd : nextBoundary) - Date.now()
    this.rotationTimer = setTimeout(() => {
      void this.rotate().then(async () => this.announce()).catch(err => { this.log.error({ err: err.message }, 'onion key rotation failed') })
    }, Math.max(1_000, next + 10))
  }

  private async announce (): Promise<void> {
    const key = await this.keyring.rotate()
    if (!this.started) {
      return
    }
    await this.directory.setLocal({
      onionKey: key.publicKey,
      epoch: key.epoch,
      notAfter: this.keyring.notAfter(key.epoch),
      roles: this.relay ? ['relay'] : [],
      load: this.loadWindow.rate
    })
  }

  private async tick (): Promise<void> {
    const now = Date.now()
    const elapsed = now - this.loadWindow.since
    if (elapsed >= 60_000) {
      this.loadWindow = { since: now, packets: 0, rate: Math.round(this.loadWindow.packets * 1000 / elapsed) }
      this.directory.setLoad(this.loadWindow.rate)
    }
    for (const [id, pending] of this.surbs) {
      if (pending.expires <= now) { this.forgetSurb(id, pending) }
    }
    // reply blocks made ahead that expired untaken (a drain's last page made some for nothing)
    for (const [key, spares] of this.spareSurbs) {
      const live = spares.filter(spare => this.surbs.has(spare.id))
      if (live.length === 0) {
        this.spareSurbs.delete(key)
      } else if (live.length < spares.length) {
        this.spareSurbs.set(key, live)
      }
    }
    this.metrics.gauges(this.replay.size, this.directory.descriptors().length, this.keyring.epochAt(now))
    this.pumpProbes()
    try {
      await this.replay.flush()
    } catch (err: any) {
      this.log.warn({ err: err.message }, 'replay cache not persisted')
    }
  }

  // ---- the wire ----

  private async readStream (stream: Stream, from: string): Promise<void> {
    const decoder = new FrameDecoder()
    try {
      for await (const chunk of stream) {
        for (const packet of decoder.push(chunk)) {
          this.receive(packet, from)
        }
      }
    } catch (err: any) {
      if (err instanceof Error && err.name === 'InvalidPacketError') {
        this.metrics.drop('frame')
        this.log.debug({ from, err: err.message }, 'bad onion frame, stream closed')
      }
      stream.abort(err)
    }
  }

  /** Opens (or reuses) the one outbound stream to a peer, dialling it if needed */
  private async outbound (peer: PeerId): Promise<Stream> {
    const id = peer.toString()
    const existing = this.streams.get(id)
    if (existing != null) {
      const stream = await existing.catch(() => undefined)
      if (stream?.status === 'open' && stream.writeStatus === 'writable') {
        return stream
      }
      this.streams.delete(id)
    }
    const opening = this.node.libp2p.dialProtocol(peer, ONION_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    this.streams.set(id, opening)
    try {
      const stream = await opening
      this.ready.set(id, stream)
      stream.addEventListener('close', () => {
        if (this.streams.get(id) === opening) {
          this.streams.delete(id)
        }
        if (this.ready.get(id) === stream) {
          this.ready.delete(id)
        }
      })
      // nothing comes back on an outbound onion stream; drain anything that does
      void drain(stream)
      return stream
    } catch (err) {
      if (this.streams.get(id) === opening) { this.streams.delete(id) }
      throw err
    }
  }

  /** Sends one packet to a peer (one frame); a broken stream is reopened once */
  async sendPacket (peer: PeerId, packet: Uint8Array): Promise<void> {
    await this.sendPackets(peer, [packet])
  }

  /**
   * Sends packets to one peer in one write (their frames back to back: a
   * frame has a fixed size, so the receiver cuts them apart as ever); one
   * write instead of many saves the encryption, muxer and socket work of each
   */
  async sendPackets (peer: PeerId, packets: Uint8Array[]): Promise<void> {
    if (peer.equals(this.node.peerId)) {
      for (const packet of packets) {
        this.receive(packet, peer.toString())
      }
      return
    }
    const frame = packets.length === 1 ? encodeFrame(packets[0]) : encodeFrames(packets)
    const open = this.ready.get(peer.toString())
    if (open?.status === 'open' && open.writeStatus === 'writable') {
      try {
        await pushFrame(open, frame)
        return
      } catch (err) {
        if (err instanceof NextHopCongestedError) {
          throw err
        }
        // the stream broke under us: open a new one below
        this.ready.delete(peer.toString())
      }
    }
    let lastError: unknown
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await pushFrame(await this.outbound(peer), frame)
        return
      } catch (err) {
        if (err instanceof NextHopCongestedError) {
          throw err
        }
        lastError = err
        this.streams.delete(peer.toString())
      }
    }
    throw lastError
  }

  /** One packet from the wire (or from this node itself) */
  receive (packet: Uint8Array, from: string): void {
    let result
    try {
      result = processPacket(this.crypto, this.liveKeys, packet, this.replay, this.knownKeys)
    } catch (err) {
      if (err instanceof PacketRejectedError) {
        this.metrics.drop(err.reason)
        this.log.debug({ from, reason: err.reason }, 'packet dropped')
        return
      }
      throw err
    }
    this.metrics.packet('processed')
    this.loadWindow.packets++
    if (result.type === 'forward') {
      if (!this.relay) {
        this.metrics.drop('not-relay')
        return
      }
      const next = this.peerOf(result.nextHop)
      if (next == null) {
        this.metrics.drop('routing')
        return
      }
      // the sender chooses the delay; the relay caps it, so no one parks packets on it for long
      const delay = Math.min(result.delayMs, this.mixing?.maxDelayMs ?? RELAY_DELAY_CAP_MS)
      if (delay > 0) {
        if (this.delayed >= MAX_DELAYED_PACKETS) {
          this.metrics.drop('congested')
          return
        }
        this.delayed++
        const t = setTimeout(() => { this.timers.delete(t); this.delayed--; this.enqueue(next, result.packet) }, delay)
        this.timers.add(t)
      } else {
        this.enqueue(next, result.packet)
      }
      return
    }
    this.metrics.packet('delivered')
    if (result.command === 'deliver') {
      this.deliver(result.body)
    } else {
      this.openReply(result.surbId, result.payload)
    }
  }

  /**
   * Queues a packet for its next hop until the end of this turn of the
   * event loop: packets read from every stream in one turn that go on to one
   * next hop leave in one write. A write costs the muxer, the transport
   * encryption and a syscall whatever it carries; a relay of a drain got
   * ~4 packets per write when it wrote per chunk read.
   */
  private enqueue (next: PeerId, packet: Uint8Array): void {
    const key = next.toString()
    const entry = this.outbox.get(key)
    if (entry == null) {
      this.outbox.set(key, { peer: next, packets: [packet] })
    } else {
      entry.packets.push(packet)
    }
    if (!this.flushing) {
      this.flushing = true
      setImmediate(this.flush)
    }
  }

  private readonly flush = (): void => {
    this.flushing = false
    const out = this.outbox
    this.outbox = new Map()
    for (const { peer, packets } of out.values()) {
      for (let i = 0; i < packets.length; i += MAX_PACKETS_PER_WRITE) {
        this.forwardNow(peer, packets.slice(i, i + MAX_PACKETS_PER_WRITE))
      }
    }
  }

  private forwardNow (next: PeerId, packets: Uint8Array[]): void {
    this.sendPackets(next, packets).then(() => {
      for (let i = 0; i < packets.length; i++) { this.metrics.packet('forwarded') }
    }, (err: any) => {
      for (let i = 0; i < packets.length; i++) { this.metrics.drop(err instanceof NextHopCongestedError ? 'congested' : 'next-hop-unreachable') }
      this.log.debug({ next: next.toString(), err: err.message }, 'next hop unreachable')
    })
  }

  private peerOf (address: Uint8Array): PeerId | undefined {
    const key = bytesToHex(address)
    let peer = this.addressCache.get(key)
    if (peer == null) {
      try {
        peer = peerIdFromPublicKey(publicKeyFromRaw(address))
      } catch {
        return undefined
      }
      if (this.addressCache.size >= 4096) {
        this.addressCache.clear()
      }
      this.addressCache.set(key, peer)
    }
    return peer
  }

  // ---- the destination ----

  private deliver (body: Uint8Array): void {
    let message: OnionMessage
    try {
      message = decodeMessage(body)
    } catch {
      this.metrics.drop('message')
      return
    }
    if (message.type === 'loop') {
      this.metrics.loops++
      this.loopBack(bytesToHex(message.id))
      return
    }
    if (message.type === 'publish') {
      void this.exitPublish(message)
      return
    }
    if (message.type !== 'data') {
      this.metrics.drop('message')
      return
    }
    this.ack(message)
    const id = bytesToHex(message.id)
    const complete = this.reassembler.add(id, message.fragment, message.fragments, message.kind, message.data, message.surbs)
    if (complete == null) {
      return
    }
    const handler = this.handlers.get(complete.kind)
    if (handler == null) {
      this.log.debug({ kind: complete.kind }, 'no handler for this kind')
      return
    }
    const surbs = [...complete.surbs]
    const incoming: IncomingMessage = {
      messageId: id,
      kind: complete.kind,
      data: complete.data,
      get surbs () { return surbs.length },
      reply: async (data) => {
        const surb = surbs.shift()
        if (surb == null) {
          throw new NoSurbError()
        }
        await this.sendThroughSurb(surb, { type: 'reply', id: message.id, fragment: 0, fragments: 1, kind: complete.kind, data, surbs: [], topic: '' })
      },
      answer: async (data) => {
        const total = Math.max(1, Math.ceil(data.length / ANSWER_CHUNK_BYTES))
        if (total > surbs.length) {
          throw new MessageTooLargeError(`An answer of ${data.length} bytes needs ${total} reply blocks; ${surbs.length} are left`)
        }
        const byHop = new Map<string, { peer: PeerId, packets: Uint8Array[] }>()
        for (let i = 0; i < total; i++) {
          const surb = surbs.shift()
          if (surb == null) {
            throw new NoSurbError()
          }
          // index ‖ count ‖ bytes: the chunks come back in any order, each over its own route
          const chunk = data.subarray(i * ANSWER_CHUNK_BYTES, (i + 1) * ANSWER_CHUNK_BYTES)
          const framed = new Uint8Array(2 + chunk.length)
          framed[0] = i
          framed[1] = total
          framed.set(chunk, 2)
          const { packet, firstHop } = surbReplyPacket(this.crypto, decodeSurb(surb), encodeMessage({ type: 'reply', id: message.id, fragment: 0, fragments: 1, kind: '', data: framed, surbs: [], topic: '' }))
          const key = bytesToHex(firstHop)
          let entry = byHop.get(key)
          if (entry == null) {
            // a relay's address as a peer id: decoding the Ed25519 point per chunk cost the store node ~70 µs a reply
            const peer = this.peerOf(firstHop)
            if (peer == null) {
              throw new InvalidSurbError('A reply block names a first hop that is not a peer')
            }
            entry = { peer, packets: [] }
            byHop.set(key, entry)
          }
          entry.packets.push(packet)
        }
        // the chunks to one first hop leave in one write
        await Promise.all([...byHop.values()].map(async ({ peer, packets }) => this.sendPackets(peer, packets)))
      }
    }
    Promise.resolve().then(async () => handler(incoming)).catch(err => {
      this.log.warn({ kind: complete.kind, err: err.message }, 'onion handler failed')
    })
  }

  /** The generic exit action: publish the bytes on a gossipsub topic from this node, then ack */
  private async exitPublish (message: OnionMessage): Promise<void> {
    if (!this.exitTopicPrefixes.some(prefix => message.topic.startsWith(prefix))) {
      this.metrics.drop('exit-topic')
      return
    }
    try {
      if (this.exitPublisher != null) {
        await this.exitPublisher(message.topic, message.data)
      } else {
        await this.node.libp2p.services.pubsub.publish(message.topic, message.data)
      }
      this.ack(message)
    } catch (err: any) {
      // no ack: the sender tries another exit
      this.log.debug({ topic: message.topic, err: err.message }, 'exit publish failed')
    }
  }

  private ack (message: OnionMessage): void {
    if (message.ackSurb == null) {
      return
    }
    void this.sendThroughSurb(message.ackSurb, { type: 'ack', id: message.id, fragment: message.fragment, fragments: message.fragments, kind: '', data: new Uint8Array(0), surbs: [], topic: '' })
      .catch(err => { this.log.debug({ err: err.message }, 'ack not sent') })
  }

  private async sendThroughSurb (surbBytes: Uint8Array, message: OnionMessage): Promise<void> {
    const surb = decodeSurb(surbBytes)
    const { packet, firstHop } = surbReplyPacket(this.crypto, surb, encodeMessage(message))
    const peer = this.peerOf(firstHop)
    if (peer == null) {
      throw new InvalidSurbError('A reply block names a first hop that is not a peer')
    }
    await this.sendPacket(peer, packet)
  }

  private forgetSurb (id: string, pending: PendingSurb): void {
    this.surbs.delete(id)
    if (this.ownHops.get(pending.alpha) === id) {
      this.ownHops.delete(pending.alpha)
    }
  }

  private openReply (surbId: Uint8Array, payload: Uint8Array): void {
    const id = bytesToHex(surbId)
    const pending = this.surbs.get(id)
    if (pending == null) {
      this.metrics.drop('unknown-surb')
      return
    }
    const body = openSurbReply(this.crypto, pending.secret, payload)
    if (body == null) {
      this.metrics.drop('surb-payload')
      return
    }
    let message: OnionMessage
    try {
      message = decodeMessage(body)
    } catch {
      this.metrics.drop('message')
      return
    }
    // single use: a SURB opened once is forgotten
    this.forgetSurb(id, pending)
    pending.onMessage(message, id)
  }

  // ---- the sender ----

  private candidates (): RelayCandidate[] {
    return this.directory.descriptors()
      .filter(d => d.roles.includes('relay'))
      .map(d => ({ peerId: d.peerId.toString(), load: d.load, hosts: hosts(d) }))
  }

  private delay (): number {
    if (this.mixing == null) {
      return 0
    }
    // exponential with the sender's mean (Loopix), capped
    return Math.min(this.mixing.maxDelayMs, Math.round(-Math.log(1 - Math.random()) * this.mixing.meanDelayMs))
  }

  private routeHops (peerIds: string[]): RouteHop[] {
    return peerIds.map(id => {
      const d = this.directory.get(id)
      if (d == null) {
        throw new NoRouteError(`No descriptor for ${id}`)
      }
      return { address: d.peerKey, onionKey: d.onionKey, delayMs: this.delay() }
    })
  }

  /**
   * A relay route of `hops`, avoiding `avoid` (a retry's) when enough relays
   * remain and `never` (the caller's `avoidRelays`) always
   */
  private path (hops: number, exclude: string[], avoid: Set<string>, never: Set<string> = new Set()): string[] {
    const base = new Set([this.node.peerId.toString(), ...exclude])
    const candidates = this.candidates()
    // a retry keeps clear of every relay of the silent routes while it can; in a small network it cannot for
    // long, so the relays most likely innocent (highest score) are let back first, one at a time, and the
    // likely droppers last
    const kept = [...avoid].sort((a, b) => this.reliability.score(a) - this.reliability.score(b))
    for (;;) {
      try {
        return selectPath(candidates, hops, { exclude: new Set([...base, ...kept]), avoidRelays: never, diversity: this.diversity, reliability: this.reliability })
      } catch (err) {
        if (kept.length === 0 || !(err instanceof NoRouteError)) { throw err }
        kept.pop()
      }
    }
  }

  /** A SURB whose route is `hops` relays and then this node, registered until it is used or expires */
  private makeSurb (hops: number, exclude: string[], avoid: Set<string>, expiresInMs: number, onMessage: (m: OnionMessage, surbId: string) => void, never?: Set<string>): { surb: Uint8Array, relays: string[], id: string } {
    const relays = this.path(hops, exclude, avoid, never)
    const self = this.directory.get(this.node.peerId)
    if (self == null) {
      throw new OnionNotStartedError('This node has no descriptor of its own yet')
    }
    const route = [...this.routeHops(relays), { address: self.peerKey, onionKey: self.onionKey }]
    const { surb, secret } = createSurb(this.crypto, route)
    const id = bytesToHex(secret.id)
    const alpha = bytesToHex(secret.own.alpha)
    this.surbs.set(id, { secret, alpha, onionKey: self.onionKey, onMessage, expires: Date.now() + expiresInMs })
    this.ownHops.set(alpha, id)
    return { surb: encodeSurb(surb), relays, id }
  }

  private async destination (peer: PeerId | string, signal?: AbortSignal): Promise<RelayDescriptor> {
    const d = await this.directory.lookup(peer, { signal })
    if (d == null) {
      throw new UnknownDestinationError(`No verified descriptor for ${peer.toString()}`)
    }
    return d
  }

  /**
   * Sends one fragment over a route and waits for its ack through a SURB;
   * on timeout scores the relays of both routes down and tries new routes
   * that avoid them. Resolves with the number of routes tried.
   */
  private async sendFragment (dest: RelayDescriptor, message: OnionMessage, hops: number, retries: number, ackTimeoutMs: number, signal: AbortSignal | undefined, never: Set<string>, used: Set<string>): Promise<number> {
    const destId = dest.peerId.toString()
    // an exit that publishes is a relay doing a relay's work: scored as one, so a silent exit is chosen less
    const destMember = message.type === 'publish' ? destId : destinationMember(destId)
    const exclude = [destId]
    const avoid = new Set<string>()
    const timeout = ackTimeoutMs + (this.mixing != null ? 2 * (hops + 1) * this.mixing.maxDelayMs : 0)
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (!this.started) { throw new OnionNotStartedError() }
      signal?.throwIfAborted()
      const forward = this.path(hops, exclude, avoid, never)
      let acked!: () => void
      let release!: () => void
      const ack = new Promise<boolean>(resolve => {
        acked = () => { resolve(true) }
        release = () => { resolve(false) }
        const t = setTimeout(() => { this.timers.delete(t); resolve(false) }, timeout)
        this.timers.add(t)
        signal?.addEventListener('abort', release, { once: true })
      })
      this.waiters.add(release)
      void ack.finally(() => this.waiters.delete(release))
      const { surb, relays: back } = this.makeSurb(hops, exclude, avoid, timeout, m => {
        if (m.type === 'ack') { acked() }
      }, never)
      forward.forEach(id => used.add(id))
      back.forEach(id => used.add(id))
      const body = encodeMessage({ ...message, ackSurb: surb })
      const { packet } = buildPacket(this.crypto, [...this.routeHops(forward), { address: dest.peerKey, onionKey: dest.onionKey }], body)
      this.metrics.message(attempt === 0 ? 'sent' : 'retried')
      try {
        await this.sendPacket(peerIdFromString(forward[0]), packet)
      } catch (err: any) {
        this.log.debug({ relay: forward[0], err: err.message }, 'first hop unreachable')
      }
      if (await ack) {
        this.reliability.success([...forward, destMember, ...back])
        this.metrics.message('acked')
        return attempt + 1
      }
      this.reliability.failure([...forward, destMember, ...back])
      this.suspect([...forward, ...back])
      forward.forEach(id => avoid.add(id))
      back.forEach(id => avoid.add(id))
    }
    this.metrics.message('failed')
    throw new DeliveryFailedError(`No ack from ${destId} after ${retries + 1} routes`)
  }

  /**
   * Sends `data` to `destination` over onion routes; resolves when every
   * fragment is acknowledged through a SURB, rejects with DeliveryFailedError
   * after the retries.
   */
  async send (destination: PeerId | string, data: Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    if (!this.started) { throw new OnionNotStartedError() }
    const dest = await this.destination(destination, options.signal)
    const hops = options.hops ?? this.hops
    const kind = options.kind ?? DEFAULT_KIND
    const never = options.avoidRelays ?? new Set<string>()
    const used = new Set<string>()
    const id = this.crypto.randomBytes(MESSAGE_ID_SIZE)
    const messageId = bytesToHex(id)
    const surbs: Uint8Array[] = []
    const replyRelays = new Set<string>()
    for (let i = 0; i < (options.surbs ?? 0); i++) {
      const block = this.makeSurb(hops, [dest.peerId.toString()], new Set(), 10 * 60_000, m => {
        if (m.type === 'reply') {
          this.dispatchEvent(new CustomEvent('reply', { detail: { messageId: bytesToHex(m.id), data: m.data } }))
        }
      }, never)
      block.relays.forEach(r => { used.add(r); replyRelays.add(r) })
      surbs.push(block.surb)
    }
    // more reply blocks than one packet holds ride on further fragments (the destination collects them all)
    const { groups, parts } = fragmentsOf(data, surbs, { type: 'data', id, fragment: 0, fragments: MAX_FRAGMENTS, kind, ackSurb: new Uint8Array(SURB_SIZE), topic: '' })
    const attempts = await Promise.all(parts.map(async (part, i) => this.sendFragment(dest, {
      type: 'data', id, fragment: i, fragments: parts.length, kind, data: part, surbs: groups[i] ?? [], topic: ''
    }, hops, options.retries ?? this.retries, options.ackTimeoutMs ?? this.ackTimeoutMs, options.signal, never, used)))
    return { messageId, fragments: parts.length, attempts: attempts.reduce((a, b) => a + b, 0), relays: [...used], replyRelays: [...replyRelays] }
  }

  /** Sends and resolves with the first reply the destination's handler sends back */
  async request (destination: PeerId | string, data: Uint8Array, options: SendOptions & { replyTimeoutMs?: number } = {}): Promise<Uint8Array> {
    let messageId: string | undefined
    const early = new Map<string, Uint8Array>()
    let resolveReply!: (data: Uint8Array) => void
    const reply = new Promise<Uint8Array>((resolve) => { resolveReply = resolve })
    const listener = (evt: CustomEvent<{ messageId: string, data: Uint8Array }>): void => {
      if (messageId == null) { early.set(evt.detail.messageId, evt.detail.data) } else if (evt.detail.messageId === messageId) { resolveReply(evt.detail.data) }
    }
    this.addEventListener('reply', listener)
    try {
      const result = await this.send(destination, data, { ...options, surbs: Math.max(1, options.surbs ?? 1) })
      messageId = result.messageId
      const got = early.get(messageId)
      if (got != null) { return got }
      const timeout = options.replyTimeoutMs ?? this.ackTimeoutMs
      return await Promise.race([reply, new Promise<never>((_resolve, reject) => {
        const t = setTimeout(() => { this.timers.delete(t); reject(new DeliveryFailedError(`No reply within ${timeout} ms`)) }, timeout)
        this.timers.add(t)
      })])
    } finally {
      this.removeEventListener('reply', listener)
    }
  }

  /**
   * Sends `data` with `surbs` reply blocks and resolves with the handler's
   * `answer`, put back together from its chunks: for answers larger than one
   * reply (a store page, a prekey bundle). Rejects when `signal` aborts, the
   * answer is malformed, or no answer came after the retries.
   *
   * The answer is the acknowledgement: an ask's fragments carry no ack reply
   * block of their own (a third of the packets and reply blocks of a large
   * ask, and room for three reply blocks a fragment instead of two). When
   * nothing comes back for `ackTimeoutMs` (from the send or from the last
   * chunk that came), the whole ask goes again over routes clear of the
   * last ones, with fresh reply blocks, and the relays of the silent routes
   * are scored down; an answer to any attempt is taken (the handler must
   * bear a request twice: store requests do).
   */
  async ask (destination: PeerId | string, data: Uint8Array, options: AskOptions): Promise<Uint8Array> {
    const { signal } = options
    if (!this.started) { throw new OnionNotStartedError() }
    signal.throwIfAborted()
    const dest = await this.destination(destination, signal)
    const destId = dest.peerId.toString()
    const hops = options.hops ?? this.hops
    const kind = options.kind ?? DEFAULT_KIND
    const never = options.avoidRelays ?? new Set<string>()
    const retries = options.retries ?? this.retries
    const mixingMs = this.mixing != null ? 2 * (hops + 1) * this.mixing.maxDelayMs : 0
    const maxQuietMs = (options.ackTimeoutMs ?? this.ackTimeoutMs) + mixingMs
    // a lost ask costs what the network usually takes, not the whole ack timeout: never under ASK_MIN_QUIET_MS
    // (a loaded machine stalls now and then) nor over the ack timeout
    let quietMs = rtoMs(this.askRtt, ASK_MIN_QUIET_MS + mixingMs, maxQuietMs)
    let sentAt = Date.now()
    let firstHeard: number | undefined
    /**
     * Each attempt by message id: its chunks (two attempts' answers are never mixed), its forward relays, its
     * reply blocks' relays and which of them brought a chunk back, for the reliability scores
     */
    const attempts = new Map<string, AskAttempt>()
    let completedBy: string | undefined
    const answer = Promise.withResolvers<Uint8Array>()
    // the answer may be rejected (the signal aborts, a malformed reply) while a send is still going: marked
    // handled now, or that rejection is unhandled and kills the process (seen on a daemon cut off from every
    // relay, by the partition test); `return await answer.promise` still sees it
    answer.promise.catch(() => {})
    let heard = Date.now()
    const take = (messageId: string, reply: Uint8Array, surbId?: string): void => {
      const state = attempts.get(messageId)
      if (state == null) {
        return
      }
      const got = state.chunks
      if (surbId != null) {
        state.delivered.add(surbId)
      }
      heard = Date.now()
      firstHeard ??= heard - sentAt
      if (reply.length < 2 || reply[1] === 0 || reply[0] >= reply[1]) {
        answer.reject(new DeliveryFailedError('A malformed answer came back through a reply block'))
        return
      }
      got.set(reply[0], reply.subarray(2))
      if (got.size === reply[1]) {
        completedBy ??= messageId
        const parts = [...got.entries()].sort((a, b) => a[0] - b[0]).map(e => e[1])
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) {
          out.set(p, at)
          at += p.length
        }
        answer.resolve(out)
      }
    }
    const listener = (evt: CustomEvent<{ messageId: string, data: Uint8Array, surbId?: string }>): void => { take(evt.detail.messageId, evt.detail.data, evt.detail.surbId) }
    const onAbort = (): void => { answer.reject(new DeliveryFailedError(`No answer over onion routes: ${signal.reason?.message ?? 'aborted'}`)) }
    const release = (): void => { answer.reject(new OnionNotStartedError()) }
    this.addEventListener('reply', listener)
    signal.addEventListener('abort', onAbort, { once: true })
    this.waiters.add(release)
    const answered = answer.promise.then(() => true)
    answered.catch(() => {})
    /** True when the answer is complete, false after `quietMs` without a chunk */
    const wait = async (): Promise<boolean> => {
      for (;;) {
        const left = heard + quietMs - Date.now()
        if (left <= 0) {
          return false
        }
        let timer: ReturnType<typeof setTimeout> | undefined
        const quiet = new Promise<boolean>(resolve => {
          timer = setTimeout(() => { resolve(false) }, left)
          this.timers.add(timer)
        })
        try {
          if (await Promise.race([answered, quiet])) {
            return true
          }
        } finally {
          clearTimeout(timer)
          if (timer != null) { this.timers.delete(timer) }
        }
      }
    }
    const avoid = new Set<string>()
    const everyRelay = new Set<string>()
    try {
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (!this.started) { throw new OnionNotStartedError() }
        signal.throwIfAborted()
        const id = this.crypto.randomBytes(MESSAGE_ID_SIZE)
        const messageId = bytesToHex(id)
        const state: AskAttempt = { chunks: new Map<number, Uint8Array>(), forward: new Set<string>(), surbs: new Map<string, string[]>(), delivered: new Set<string>() }
        attempts.set(messageId, state)
        const used = new Set<string>()
        const replyRelays = new Set<string>()
        const surbs: Uint8Array[] = []
        // a retry's reply blocks keep clear of the silent routes: made now
        for (const spare of attempt === 0 ? this.takeSpareSurbs(destId, hops, options.surbs, never) : []) {
          spare.relays.forEach(r => { used.add(r); replyRelays.add(r) })
          options.onRoute?.(spare.relays)
          state.surbs.set(spare.id, spare.relays)
          surbs.push(spare.surb)
        }
        for (let i = surbs.length; i < options.surbs; i++) {
          const block = this.makeSurb(hops, [destId], avoid, 10 * 60_000, this.onAskReply, never)
          block.relays.forEach(r => { used.add(r); replyRelays.add(r) })
          options.onRoute?.(block.relays)
          state.surbs.set(block.id, block.relays)
          surbs.push(block.surb)
        }
        const { groups, parts } = fragmentsOf(data, surbs, { type: 'data', id, fragment: 0, fragments: MAX_FRAGMENTS, kind, topic: '' })
        heard = sentAt = Date.now()
        firstHeard = undefined
        // each fragment over a route of its own; those whose routes start at one relay leave in one write
        const byHop = new Map<string, Uint8Array[]>()
        parts.forEach((part, i) => {
          const forward = this.path(hops, [destId], avoid, never)
          forward.forEach(r => { used.add(r); state.forward.add(r) })
          options.onRoute?.(forward)
          const body = encodeMessage({ type: 'data', id, fragment: i, fragments: parts.length, kind, data: part, surbs: groups[i] ?? [], topic: '' })
          const { packet } = buildPacket(this.crypto, [...this.routeHops(forward), { address: dest.peerKey, onionKey: dest.onionKey }], body)
          const packets = byHop.get(forward[0]) ?? []
          packets.push(packet)
          byHop.set(forward[0], packets)
        })
        await Promise.all([...byHop].map(async ([relay, packets]) => {
          try {
            await this.sendPackets(peerIdFromString(relay), packets)
          } catch (err: any) {
            this.log.debug({ relay, err: err.message }, 'first hop unreachable')
          }
        }))
        this.metrics.message(attempt === 0 ? 'sent' : 'retried')
        if (options.prepareNext === true && attempt === 0) {
          this.prepareSurbs(destId, hops, options.surbs, never)
        }
        used.forEach(r => everyRelay.add(r))
        options.onSent?.({ messageId, fragments: parts.length, attempts: attempt + 1, relays: [...everyRelay], replyRelays: [...replyRelays] })
        if (await wait()) {
          if (firstHeard != null && attempt === 0) {
            this.sampleAskRtt(firstHeard)
          }
          // credit what carried the answer: the forward routes, the destination and the reply blocks that brought
          // a chunk (the others were never used); an earlier attempt's late answer proves nothing of this one
          if (completedBy === messageId) {
            this.creditAnswered(destId, state)
          }
          this.metrics.message('acked')
          return await answer.promise
        }
        this.judgeSilentAsk(destId, state)
        used.forEach(r => avoid.add(r))
        // as TCP backs off: each attempt waits twice as long as the one before, up to the ack timeout
        quietMs = Math.min(maxQuietMs, quietMs * 2)
      }
      this.metrics.message('failed')
      throw new DeliveryFailedError(`No answer from ${destId} after ${retries + 1} routes`)
    } finally {
      this.removeEventListener('reply', listener)
      signal.removeEventListener('abort', onAbort)
      this.waiters.delete(release)
    }
  }

  /**
   * Scores an ask attempt that went quiet: when some chunks came, the forward
   * routes and the destination did their part and those reply blocks did
   * theirs, and the loss lies on the reply blocks that brought nothing; when
   * nothing came, on any member of the exchange
   */
  private judgeSilentAsk (destId: string, state: AskAttempt): void {
    const dest = destinationMember(destId)
    if (state.delivered.size === 0) {
      const relays = [...state.forward, ...[...state.surbs.values()].flat()]
      this.reliability.failure([...relays, dest])
      this.suspect(relays)
      return
    }
    this.creditAnswered(destId, state)
    const silent = [...state.surbs].filter(([s]) => !state.delivered.has(s)).flatMap(([, relays]) => relays)
    this.reliability.failure(silent)
    this.suspect(silent)
  }

  /** An ask attempt was answered: its forward routes, its destination and the reply blocks that brought a chunk did their part */
  private creditAnswered (destId: string, state: AskAttempt): void {
    this.reliability.success([...state.forward, destinationMember(destId), ...[...state.delivered].flatMap(s => state.surbs.get(s) ?? [])])
  }

  /**
   * Relays of an exchange that was lost: each gets probes of its own over
   * routes of relays that score well, so within an ack timeout or two the
   * loss is pinned on the relay that dropped it (its probes are lost too)
   * and the relays beside it are cleared (theirs come back), rather than
   * over many more losses of real traffic. A lost probe makes suspects of
   * its other relays in turn (adaptive group testing: what is known good
   * is not tested again, and no relay is tested more than once per ack
   * timeout that way, so a network that drops everything costs at most
   * `maxInFlight` probes per ack timeout).
   */
  private suspect (relays: string[], probes = 2): void {
    if (this.probe == null) {
      return
    }
    for (const r of relays) {
      this.suspects.set(r, Math.max(this.suspects.get(r) ?? 0, probes))
    }
    this.pumpProbes()
  }

  /**
   * Up to `n` reply blocks made ahead for an ask to `destId` whose routes
   * avoid `never`: those still pending (not expired) and clear of `never`;
   * the others are forgotten
   */
  private takeSpareSurbs (destId: string, hops: number, n: number, never: Set<string>): SpareSurb[] {
    const key = `${destId}/${hops}`
    const spares = this.spareSurbs.get(key)
    if (spares == null) {
      return []
    }
    const taken: SpareSurb[] = []
    const kept: SpareSurb[] = []
    for (const spare of spares) {
      const pending = this.surbs.get(spare.id)
      if (pending == null) {
        continue
      }
      if (spare.relays.some(r => never.has(r))) {
        this.forgetSurb(spare.id, pending)
      } else if (taken.length < n) {
        taken.push(spare)
      } else {
        kept.push(spare)
      }
    }
    if (kept.length > 0) {
      this.spareSurbs.set(key, kept)
    } else {
      this.spareSurbs.delete(key)
    }
    return taken
  }

  /** Makes reply blocks for the next ask a few per turn of the event loop, until there are `n` spare */
  private prepareSurbs (destId: string, hops: number, n: number, never: Set<string>): void {
    const key = `${destId}/${hops}`
    const turn = (): void => {
      if (!this.started) {
        return
      }
      const spares = this.spareSurbs.get(key) ?? []
      this.spareSurbs.set(key, spares)
      try {
        for (let i = 0; i < SPARE_SURBS_PER_TURN && spares.length < n; i++) {
          const block = this.makeSurb(hops, [destId], new Set(), 10 * 60_000, this.onAskReply, never)
          spares.push({ id: block.id, surb: block.surb, relays: block.relays })
        }
      } catch (err: any) {
        // no route now: the next ask makes its own and says why
        this.log.debug({ err: err.message }, 'reply blocks not made ahead')
        return
      }
      if (spares.length < n) {
        setImmediate(turn)
      }
    }
    setImmediate(turn)
  }

  /** RFC 6298's update of the smoothed round-trip time and its deviation */
  private sampleAskRtt (ms: number): void {
    sampleRtt(this.askRtt, ms)
  }

  /**
   * The anonymous publish exit action: `data` is published on gossipsub
   * `topic` by the last hop of an onion route (an exit relay), so the
   * sender's peer is never the message's first gossip hop. Retries with
   * other exits; resolves when an exit acknowledged publishing.
   */
  async publish (topic: string, data: Uint8Array, options: Omit<SendOptions, 'kind' | 'surbs'> = {}): Promise<SendResult> {
    if (!this.started) { throw new OnionNotStartedError() }
    const hops = options.hops ?? this.hops
    const retries = options.retries ?? this.retries
    const id = this.crypto.randomBytes(MESSAGE_ID_SIZE)
    const avoid = new Set<string>()
    const never = options.avoidRelays ?? new Set<string>()
    const used = new Set<string>()
    let attempts = 0
    for (let attempt = 0; attempt <= retries; attempt++) {
      const [exitId] = this.path(1, [], avoid, never)
      const exit = this.directory.get(exitId)
      if (exit == null) { continue }
      attempts++
      try {
        used.add(exitId)
        await this.sendFragment(exit, { type: 'publish', id, fragment: 0, fragments: 1, kind: '', data, surbs: [], topic }, Math.max(1, hops - 1), 0, options.ackTimeoutMs ?? this.ackTimeoutMs, options.signal, never, used)
        return { messageId: bytesToHex(id), fragments: 1, attempts, relays: [...used], replyRelays: [] }
      } catch (err) {
        if (!(err instanceof DeliveryFailedError)) { throw err }
        avoid.add(exitId)
      }
    }
    throw new DeliveryFailedError(`No exit published on ${topic} after ${attempts} tries`)
  }

  private scheduleLoop (): void {
    if (this.cover == null || !this.started) { return }
    const wait = -Math.log(1 - Math.random()) * this.cover.intervalMs
    this.coverTimer = setTimeout(() => {
      void this.sendLoop().finally(() => { this.scheduleLoop() })
    }, wait)
  }

  /** One loop cover packet: a route that ends at this node, indistinguishable on the wire from any other */
  private async sendLoop (): Promise<void> {
    try {
      await this.sendTrackedLoop(this.path(this.hops, [], new Set()))
    } catch (err: any) {
      this.log.debug({ err: err.message }, 'loop packet not sent')
    }
  }

  /**
   * Sends probes while some relay's score rests on too little evidence, the
   * least known first, each over a route that holds it and relays chosen as
   * any route's are (so mostly well-scored ones: a lost probe then points at
   * the relay under test)
   */
  private pumpProbes (): void {
    if (this.probe == null || !this.started) {
      return
    }
    const selfId = this.node.peerId.toString()
    const candidates = this.candidates().filter(c => c.peerId !== selfId)
    if (candidates.length < this.hops || this.directory.get(this.node.peerId) == null) {
      return
    }
    const known = (id: string): number => this.reliability.evidence(id) + (this.probing.get(id) ?? 0)
    const unknown = candidates.filter(c => known(c.peerId) < (this.probe?.evidence ?? 0)).sort((a, b) => known(a.peerId) - known(b.peerId))
    // then the suspects
    const suspects = candidates.filter(c => this.suspects.has(c.peerId) && !unknown.includes(c))
    for (const c of [...unknown, ...suspects]) {
      if (this.loopsOut.size >= this.probe.maxInFlight) {
        return
      }
      const owed = this.suspects.get(c.peerId) ?? 0
      if (owed > 0) {
        if (owed > 1) { this.suspects.set(c.peerId, owed - 1) } else { this.suspects.delete(c.peerId) }
      } else if (known(c.peerId) >= this.probe.evidence) {
        continue
      }
      this.lastTested.set(c.peerId, Date.now())
      let relays: string[]
      try {
        relays = selectPath(candidates, this.hops, { exclude: new Set([selfId]), include: c.peerId, diversity: this.diversity, reliability: this.reliability })
      } catch {
        continue
      }
      this.metrics.probe('sent')
      void this.sendTrackedLoop(relays, c.peerId).catch(err => { this.log.debug({ err: err.message }, 'probe not sent') })
    }
  }

  /** A loop packet over `relays` and back to this node; its return or silence scores the relays */
  private async sendTrackedLoop (relays: string[], tested?: string): Promise<void> {
    const self = this.directory.get(this.node.peerId)
    if (self == null) {
      return
    }
    const id = this.crypto.randomBytes(MESSAGE_ID_SIZE)
    const key = bytesToHex(id)
    const body = encodeMessage({ type: 'loop', id, fragment: 0, fragments: 1, kind: '', data: new Uint8Array(0), surbs: [], topic: '' })
    const { packet } = buildPacket(this.crypto, [...this.routeHops(relays), { address: self.peerKey, onionKey: self.onionKey }], body)
    // as an ask's: what loops usually take, never under ASK_MIN_QUIET_MS (a loaded machine stalls now and then)
    // nor over the ack timeout; a relay that holds packets longer than that is as bad as one that drops them
    const mixingMs = this.mixing != null ? 2 * (relays.length + 1) * this.mixing.maxDelayMs : 0
    const timeout = rtoMs(this.loopRtt, ASK_MIN_QUIET_MS, this.ackTimeoutMs) + mixingMs
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.loopDone(key)) {
        this.reliability.failure(relays)
        this.metrics.probe('lost')
        if (tested != null) {
          // the others on the lost probe, unless known bad already or tested within the last ack timeout
          const now = Date.now()
          this.suspect(relays.filter(r => r !== tested && this.reliability.score(r) >= 0.3 && now - (this.lastTested.get(r) ?? 0) > this.ackTimeoutMs), 1)
        }
        this.pumpProbes()
      }
    }, timeout)
    this.timers.add(timer)
    this.loopsOut.set(key, { relays, timer, sentAt: Date.now() })
    relays.forEach(r => this.probing.set(r, (this.probing.get(r) ?? 0) + 1))
    try {
      await this.sendPacket(peerIdFromString(relays[0]), packet)
    } catch (err: any) {
      // the first hop unreachable is that relay's failure: the timer scores it
      this.log.debug({ relay: relays[0], err: err.message }, 'first hop of a loop unreachable')
    }
  }

  /** A loop of this node's came back */
  private loopBack (key: string): void {
    const out = this.loopsOut.get(key)
    if (out == null || !this.loopDone(key)) {
      return
    }
    clearTimeout(out.timer)
    this.timers.delete(out.timer)
    sampleRtt(this.loopRtt, Date.now() - out.sentAt)
    this.reliability.success(out.relays)
    this.metrics.probe('returned')
    this.pumpProbes()
  }

  /** Forgets a loop out; false if it was already settled */
  private loopDone (key: string): boolean {
    const out = this.loopsOut.get(key)
    if (out == null) {
      return false
    }
    this.loopsOut.delete(key)
    for (const r of out.relays) {
      const n = (this.probing.get(r) ?? 1) - 1
      if (n <= 0) { this.probing.delete(r) } else { this.probing.set(r, n) }
    }
    return true
  }

  status (): OnionStatus {
    const key = this.keyring.current()
    const m = this.metrics
    return {
      epoch: this.keyring.epochAt(),
      relay: this.relay,
      onionKey: key != null ? bytesToHex(key.publicKey) : '',
      processed: m.processed,
      forwarded: m.forwarded,
      delivered: m.delivered,
      dropped: { ...m.dropped },
      sent: m.sent,
      acked: m.acked,
      retried: m.retried,
      failed: m.failed,
      loops: m.loops,
      probes: { sent: m.probes.sent, returned: m.probes.returned, lost: m.probes.lost, inFlight: this.loopsOut.size },
      replayCacheSize: this.replay.size,
      spareSurbs: [...this.spareSurbs.values()].reduce((n, spares) => n + spares.length, 0),
      knownRelays: this.directory.descriptors().filter(d => d.roles.includes('relay')).map(d => ({
        peerId: d.peerId.toString(),
        epoch: d.epoch,
        load: d.load,
        reliability: Math.round(this.reliability.score(d.peerId.toString()) * 1000) / 1000
      }))
    }
  }
}
