import { ANSWER_CHUNK_BYTES } from '../onion/index.ts'
import { DeliveryError } from './errors.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './transport.ts'
import type { LiveAddress, LiveTransport, LiveTransportHandlers } from './transport.ts'
import type { IncomingMessage, Onion } from '../onion/index.ts'
import type { AbortOptions } from '@libp2p/interface'

/** The onion handler kind of direct messages (the same request / response bytes as `/murmur/dm/1.0.0`) */
export const DM_ONION_KIND = 'murmur/dm/1'

/**
 * Reply blocks a bundle request carries (the answer is split over them).
 * Reply blocks ride in the first packet, which holds at most two (527 bytes
 * each): 3800 bytes of answer, about 90 one-time prekeys (a node keeps 20). A
 * larger bundle is refused and the sender looks it up in the DHT instead.
 */
const BUNDLE_SURBS = 2

export interface OnionLiveTransportInit {
  /**
   * How long one attempt (to one of the contact's peers) may take, acks and the reply included
   *
   * @default 10000
   */
  timeoutMs?: number
  /**
   * Relays per route; undefined = the onion layer's own `hops`
   *
   * @default undefined
   */
  hops?: number
}

/** What the transport uses of the onion layer */
export type OnionForContacts = Pick<Onion, 'ask' | 'handle' | 'unhandle'>

/**
 * Live delivery over onion routes (DESIGN "1:1 messaging"): the sealed
 * envelope travels to the recipient's peer as an onion message of kind
 * `murmur/dm/1`, and the recipient's handler answers through the SURB only
 * after `Contacts.receive` has persisted it. The onion layer's per-fragment
 * ack only says the packet arrived, before any handler ran, so `send` waits
 * for that answer instead: a message acked live is one the recipient holds.
 * The recipient never sees a stream from the sender's peer, only from the
 * last relay of the route.
 */
export class OnionLiveTransport implements LiveTransport {
  private readonly onion: OnionForContacts
  private readonly timeoutMs: number
  private readonly hops?: number
  private handlers?: LiveTransportHandlers

  constructor (onion: OnionForContacts, init: OnionLiveTransportInit = {}) {
    this.onion = onion
    this.timeoutMs = init.timeoutMs ?? 10_000
    this.hops = init.hops
  }

  async start (handlers: LiveTransportHandlers): Promise<void> {
    this.handlers = handlers
    this.onion.handle(DM_ONION_KIND, async (msg) => { await this.onMessage(msg) })
  }

  async stop (): Promise<void> {
    this.onion.unhandle(DM_ONION_KIND)
    this.handlers = undefined
  }

  private async onMessage (msg: IncomingMessage): Promise<void> {
    let req
    try {
      req = decodeRequest(msg.data)
    } catch (err: any) {
      await msg.answer(encodeResponse({ ok: false, error: errorText(err) }))
      return
    }
    if (req.bundleFor != null) {
      const bundle = this.handlers?.bundleFor(req.bundleFor)
      const answer = encodeResponse(bundle == null ? { ok: false, error: 'No bundle for this identity' } : { ok: true, bundle })
      await msg.answer(answer.length <= msg.surbs * ANSWER_CHUNK_BYTES ? answer : encodeResponse({ ok: false, error: 'Bundle larger than the reply blocks carry' }))
      return
    }
    const response = { ok: false, error: undefined as string | undefined }
    try {
      if (this.handlers == null) {
        throw new DeliveryError('Not accepting direct messages')
      }
      await this.handlers.onSealed(req.sealed as Uint8Array)
      response.ok = true
    } catch (err: any) {
      response.error = errorText(err)
    }
    await msg.answer(encodeResponse(response))
  }

  async send (to: LiveAddress, sealed: Uint8Array, options?: AbortOptions): Promise<void> {
    const failures: string[] = []
    for (const peer of to.peers) {
      if (options?.signal?.aborted === true) {
        failures.push(`${peer}: aborted`)
        break
      }
      try {
        const res = decodeResponse(await this.request(peer, encodeRequest({ sealed }), options))
        if (res.ok) {
          return
        }
        failures.push(`${peer}: ${res.error ?? 'refused'}`)
      } catch (err: any) {
        failures.push(`${peer}: ${err?.message ?? err}`)
      }
    }
    throw new DeliveryError(to.peers.length === 0 ? 'The contact names no peer to reach it live' : `Live delivery over onion routes failed (${failures.join('; ')})`)
  }

  /** `onion.ask` with one reply block, bounded by `timeoutMs` and the caller's signal */
  private async request (peer: string, data: Uint8Array, options?: AbortOptions): Promise<Uint8Array> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ...(options?.signal != null ? [options.signal] : [])])
    return this.ask(peer, data, 1, signal)
  }

  async fetchBundle (peers: string[], signingKey: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined> {
    for (const peer of peers) {
      try {
        const bundle = await this.requestBundle(peer, signingKey, options)
        if (bundle != null) {
          return bundle
        }
      } catch {
        // try the next peer
      }
    }
    return undefined
  }

  /** A bundle request with enough reply blocks for the largest bundle; the onion layer puts the answer back together */
  private async requestBundle (peer: string, signingKey: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ...(options?.signal != null ? [options.signal] : [])])
    const res = decodeResponse(await this.ask(peer, encodeRequest({ bundleFor: signingKey }), BUNDLE_SURBS, signal))
    return res.ok && res.bundle != null ? res.bundle : undefined
  }

  private async ask (peer: string, data: Uint8Array, surbs: number, signal: AbortSignal): Promise<Uint8Array> {
    try {
      return await this.onion.ask(peer, data, { kind: DM_ONION_KIND, hops: this.hops, surbs, signal })
    } catch (err: any) {
      if (signal.aborted) {
        throw new DeliveryError(`Live delivery over onion routes aborted: ${signal.reason?.message ?? 'timeout'}`)
      }
      throw err
    }
  }
}

function errorText (err: any): string {
  return `${err?.name ?? 'Error'}: ${err?.message ?? err}`.slice(0, 200)
}
