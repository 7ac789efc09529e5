/**
 * Store requests over onion routes (DESIGN "Store-and-forward": deposits
 * reach the store node over a TX route, fetches and acks over an RX route).
 *
 * Why here, in the composite: the store and onion layers sit side by side in
 * the layer diagram and must not import each other, and more than contacts
 * uses the store (group history), so the adapter belongs to the one place
 * that may import both.
 */

import { ANSWER_CHUNK_BYTES, NoRouteError, weightedIndex } from '../onion/index.ts'
import { decodeRequest, DirectTransport, StoreRequest, StoreResponse } from '../store/index.ts'
import type { Logger } from '../node/index.ts'
import type { Onion } from '../onion/index.ts'
import type { ExchangeOptions, StoreServer, StoreTransport } from '../store/index.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** The onion handler kind of store requests (the bytes of `/murmur/store/1.0.0`, one request, one response) */
export const STORE_ONION_KIND = 'murmur/store/1'

/** Reply blocks of a request whose answer is small (a challenge, a deposit's or an ack's outcome) */
const SURBS = 2
/** The most reply blocks one request may carry (they ride two to a fragment) */
export const MAX_PAGE_SURBS = 64

export interface OnionStoreTransportInit {
  /** Relays per route, as the onion layer builds them */
  hops: number
  /**
   * How long one exchange may take when the caller gives no signal
   *
   * @default 30000
   */
  timeoutMs?: number
  /**
   * How long a relay used on one side (TX, RX) of a store node stays off
   * the other side's routes after its last use there
   *
   * @default 600000
   */
  recentRouteMs?: number
  /**
   * The most reply blocks a page request (FETCH, HISTORY) carries, at most
   * 64: a page is as large as they carry (~1.9 KB each). The client asks
   * for room as it expects a page (`ExchangeOptions.answerBytes`), so a
   * small mailbox costs few; this bounds a drain's requests.
   *
   * @default 32
   */
  pageSurbs?: number
}

type Side = 'tx' | 'rx'

/** A relay held by one side of one store node's exchanges until `until` */
interface Lease { side: Side, until: number }

/**
 * The score at and above which a relay counts towards a side's share of
 * good relays: a relay never tried scores 0.5, a dropper found out ~0.1 or
 * less, and path selection weighs by score² (at 0.3 a relay is chosen ~3
 * times less than one never tried, ~10 times less than a good one)
 */
const GOOD_SCORE = 0.3

const other = (side: Side): Side => side === 'tx' ? 'rx' : 'tx'

/** `n` of `items` without replacement, each drawn with odds by its weight (this peer's own choice: no relay steers it) */
function weightedSample<T> (items: T[], n: number, weight: (item: T) => number): T[] {
  const pool = items.map(item => ({ item, w: weight(item) }))
  const out: T[] = []
  const word = new Uint32Array(1)
  const random = (): number => globalThis.crypto.getRandomValues(word)[0] / 2 ** 32
  while (out.length < n && pool.length > 0) {
    const [{ item }] = pool.splice(weightedIndex(pool, random), 1)
    out.push(item)
  }
  return out
}

/**
 * The client side: TX (deposits) and RX (challenges, fetches, acks) each go
 * as an onion message to the store node over a route chosen afresh per
 * exchange, and the answer comes back through the message's reply blocks,
 * so the store node never learns which peer deposited or fetched. Replica
 * traffic between store nodes stays direct (they know each other anyway).
 *
 * While the onion layer knows fewer relays than a route needs (or no
 * descriptor of the store node), exchanges go direct and a warning is
 * logged: a network without relays keeps working, but transparently.
 */
export class OnionStoreTransport implements StoreTransport {
  private readonly onion: Pick<Onion, 'ask' | 'status'>
  private readonly directory: { get(peer: PeerId | string): unknown }
  private readonly direct: StoreTransport
  private readonly self: string
  private readonly hops: number
  private readonly timeoutMs: number
  private readonly log: Pick<Logger, 'warn' | 'info'>
  private warned = false
  /** Store nodes warned about shared relays, until a disjoint route works again (one warning, not one per request) */
  private readonly sharedWarned = new Set<string>()
  private readonly recentRouteMs: number
  private readonly pageSurbs: number
  /** Per store node, the relays each side holds, and until when */
  private readonly leases = new Map<string, Map<string, Lease>>()
  /**
   * Per store node and side, the `avoidRelays` sets of the exchanges in
   * flight: a relay one side takes is added at once to the other side's,
   * so two exchanges choosing routes at the same time never share one
   */
  private readonly inFlight = new Map<string, Record<Side, Set<Set<string>>>>()
  /**
   * Exchanges by route taken, for status and tests; `shared`: onion
   * exchanges that could not keep clear of the other side's relays
   */
  readonly counts = { onion: 0, direct: 0, shared: 0 }

  constructor (components: { onion: OnionStoreTransport['onion'], directory: OnionStoreTransport['directory'], libp2p: Pick<Libp2p, 'dialProtocol' | 'peerId'>, log: Pick<Logger, 'warn' | 'info'> }, init: OnionStoreTransportInit) {
    this.onion = components.onion
    this.directory = components.directory
    this.direct = new DirectTransport(components.libp2p)
    this.self = components.libp2p.peerId.toString()
    this.log = components.log
    this.hops = init.hops
    this.timeoutMs = init.timeoutMs ?? 30_000
    this.recentRouteMs = init.recentRouteMs ?? 600_000
    this.pageSurbs = Math.max(SURBS, Math.min(MAX_PAGE_SURBS, init.pageSurbs ?? 32))
  }

  /** Reply blocks for an answer of `answerBytes` (a page), else the two a small answer needs */
  private surbsFor (options: ExchangeOptions): number {
    if (options.answerBytes == null) {
      return SURBS
    }
    return Math.max(SURBS, Math.min(this.pageSurbs, Math.ceil(options.answerBytes / ANSWER_CHUNK_BYTES)))
  }

  /**
   * What "a different route" means here (DESIGN "Store-and-forward", issue
   * 6): an RX exchange (challenge, fetch, ack) with a store node shares no
   * relay, on any of its routes (forward, retries and reply blocks), with
   * this peer's recent TX exchanges (deposits) with the same store node,
   * and the other way round. Why: a relay on both sides sees, with the
   * store node's timing, both this peer's deposits and its fetches; one
   * corrupt relay and the store node could then tie the mailboxes this peer
   * writes to the mailbox it owns. Disjoint routes need a corrupt relay on
   * each.
   *
   * How: each relay a side uses is leased to that side (per store node)
   * for `recentRouteMs` after its last use, and the other side's routes
   * never take a relay leased away (`avoidRelays`, which the onion layer
   * never relaxes; leases are taken the moment a route is chosen, through
   * `onRoute`, so concurrent exchanges cannot both take a free relay). So
   * within that window no relay carries both sides' exchanges, whatever
   * the scores do.
   *
   * Which relays a side gets is not a fixed split: a fixed half could hold
   * most of the bad relays, and then every route on that side met one. A
   * side that holds fewer good relays (score ≥ GOOD_SCORE) than its share,
   * half of the good relays known (at least a route's worth and one more),
   * leases free good relays up to its share before its route is chosen, and
   * its routes keep to its own relays, so the other side always finds its
   * half free. A side whose relays turn out to drop has fewer good ones and
   * leases free relays to make up its share: by this peer's own weighted
   * random choice, so no relay can steer which ones. A relay moves sides
   * only after the window passed without its use (a dropper that gets
   * itself left unused for `recentRouteMs` may come back on the other side:
   * what it saw of the first is that old).
   */
  private avoidFor (storeNode: string, side: Side): Set<string> {
    const leases = this.leasesOf(storeNode)
    const relays = this.onion.status().knownRelays.filter(r => r.peerId !== this.self && r.peerId !== storeNode)
    const good = relays.filter(r => r.reliability >= GOOD_SCORE)
    const share = Math.max(this.hops + 1, Math.floor(good.length / 2))
    const mine = good.filter(r => leases.get(r.peerId)?.side === side).length
    if (mine < share) {
      // the free relays that make up the share are leased now, before the route is chosen: exchanges that start
      // together (a burst of deposits) would each see the share unmet and take free relays far past it, leaving
      // the other side only what this one did not want (CI saw TX hold 10 of 12 good relays, RX the droppers)
      const free = good.filter(r => !leases.has(r.peerId))
      this.take(storeNode, side, weightedSample(free, share - mine, r => r.reliability * r.reliability).map(r => r.peerId))
    }
    const avoid = new Set<string>()
    for (const r of relays) {
      if (leases.get(r.peerId)?.side !== side) {
        avoid.add(r.peerId)
      }
    }
    return avoid
  }

  /** The leases of one store node's relays, expired ones dropped */
  private leasesOf (storeNode: string): Map<string, Lease> {
    let leases = this.leases.get(storeNode)
    if (leases == null) {
      leases = new Map()
      this.leases.set(storeNode, leases)
    }
    const now = Date.now()
    for (const [id, lease] of leases) {
      if (lease.until < now) { leases.delete(id) }
    }
    return leases
  }

  /** Relays one side has just chosen: leased to it, and off the routes of the other side's exchanges in flight */
  private take (storeNode: string, side: Side, relays: string[]): void {
    const leases = this.leasesOf(storeNode)
    const until = Date.now() + this.recentRouteMs
    for (const id of relays) {
      const lease = leases.get(id)
      if (lease != null && lease.side !== side) {
        // only an exchange that fell back to shared relays (counted, warned) takes another side's relay
        continue
      }
      leases.set(id, { side, until })
      for (const avoid of this.flights(storeNode)[other(side)]) { avoid.add(id) }
    }
  }

  private flights (storeNode: string): Record<Side, Set<Set<string>>> {
    let f = this.inFlight.get(storeNode)
    if (f == null) {
      f = { tx: new Set(), rx: new Set() }
      this.inFlight.set(storeNode, f)
    }
    return f
  }

  /** The relays a side of a store node holds now (for status and tests) */
  recentRelays (storeNode: PeerId | string, side: Side): Set<string> {
    return new Set([...this.leasesOf(storeNode.toString())].filter(([, l]) => l.side === side).map(([id]) => id))
  }

  /** Enough relays besides this node and the store node for a route, and the store node's descriptor */
  private routable (storeNode: PeerId): boolean {
    const dest = storeNode.toString()
    const relays = this.onion.status().knownRelays.filter(r => r.peerId !== this.self && r.peerId !== dest)
    return relays.length >= this.hops && this.directory.get(storeNode) != null
  }

  async exchange (storeNode: PeerId, request: Uint8Array, options: ExchangeOptions): Promise<Uint8Array> {
    if (options.path === 'replica') {
      return this.direct.exchange(storeNode, request, options)
    }
    if (!this.routable(storeNode)) {
      if (!this.warned) {
        this.warned = true
        this.log.warn({ storeNode: storeNode.toString(), hops: this.hops }, 'too few onion relays known: store requests go DIRECT (the store node sees this peer) until there are enough')
      }
      this.counts.direct++
      return this.direct.exchange(storeNode, request, options)
    }
    if (this.warned) {
      this.warned = false
      this.log.info('enough onion relays again: store requests go over onion routes')
    }
    this.counts.onion++
    const signal = options.signal ?? AbortSignal.timeout(this.timeoutMs)
    const dest = storeNode.toString()
    const side: Side = options.path === 'tx' ? 'tx' : 'rx'
    const surbs = this.surbsFor(options)
    // a page request as large as pages get is a long drain's: the next page's reply blocks are made while this
    // one's answer travels (at the end of a drain, one page's worth is made for nothing and expires)
    const prepareNext = options.answerBytes != null && surbs === this.pageSurbs
    const flights = this.flights(dest)[side]
    const ask = async (avoidRelays?: Set<string>): Promise<Uint8Array> => {
      if (avoidRelays != null) { flights.add(avoidRelays) }
      try {
        return await this.onion.ask(storeNode, request, {
          kind: STORE_ONION_KIND, surbs, signal, avoidRelays, prepareNext, onRoute: relays => { this.take(dest, side, relays) }
        })
      } finally {
        if (avoidRelays != null) { flights.delete(avoidRelays) }
      }
    }
    try {
      try {
        let answer: Uint8Array
        try {
          answer = await ask(this.avoidFor(dest, side))
        } catch (err) {
          if (!(err instanceof NoRouteError)) { throw err }
          // this side has its share but too few of its relays make a route now: free relays too, never the other side's
          answer = await ask(this.recentRelays(dest, other(side)))
        }
        this.sharedWarned.delete(dest)
        return answer
      } catch (err) {
        if (!(err instanceof NoRouteError)) { throw err }
        this.counts.shared++
        if (!this.sharedWarned.has(dest)) {
          this.sharedWarned.add(dest)
          this.log.warn({ storeNode: dest, path: side, err: err.message }, 'too few onion relays for a route clear of the other path\'s recent relays: store requests may share relays with them')
        }
        return await ask()
      }
    } catch (err: any) {
      throw new Error(`No answer from store node ${storeNode.toString()} over onion routes: ${err?.message ?? err}`)
    }
  }
}

/**
 * The store node's side: answers a request that came over an onion route,
 * through its reply blocks. The node does not know who asked, so per-peer
 * deposit rate limits count every onion depositor as one (this node). A fetch
 * page holds as many envelopes as the reply blocks carry; replica sync is
 * refused (store nodes sync directly).
 */
export function serveStoreOverOnion (onion: Pick<Onion, 'handle'>, server: Pick<StoreServer, 'answer'>, self: PeerId): void {
  onion.handle(STORE_ONION_KIND, async (msg) => {
    if (msg.surbs === 0) {
      // nothing could carry the answer back: do not act on a request nobody learns the outcome of
      return
    }
    const bytes = await answerWithin(server, msg.data, self, msg.surbs * ANSWER_CHUNK_BYTES)
    await msg.answer(bytes)
  })
}

function errorResponse (status: StoreResponse.Status, error: string): Uint8Array {
  return StoreResponse.encode({ status, error, challenge: new Uint8Array(0), envelopes: [], cursor: new Uint8Array(0), more: false, accepted: 0 })
}

async function answerWithin (server: Pick<StoreServer, 'answer'>, data: Uint8Array, self: PeerId, capacity: number): Promise<Uint8Array> {
  let req: StoreRequest
  try {
    req = decodeRequest(data)
  } catch (err: any) {
    return errorResponse(StoreResponse.Status.BAD_REQUEST, err?.message ?? 'Not a store request')
  }
  if (req.type === StoreRequest.Type.SYNC) {
    return errorResponse(StoreResponse.Status.BAD_REQUEST, 'Replica sync is not taken over onion routes')
  }
  // a page is filled up to the reply blocks' capacity (the store server stops at the byte budget)
  const bytes = StoreResponse.encode(await server.answer(data, self, { maxBytes: capacity }))
  if (bytes.length <= capacity) {
    return bytes
  }
  // one envelope alone, or a response that is not a page, larger than the reply blocks carry
  return errorResponse(StoreResponse.Status.TOO_LARGE, `The answer (${bytes.length} bytes) does not fit the reply blocks of an onion request (${capacity} bytes)`)
}
