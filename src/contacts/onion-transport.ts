import { DeliveryError } from './errors.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './transport.ts'
import type { LiveAddress, LiveTransport, LiveTransportHandlers } from './transport.ts'
import type { IncomingMessage, Onion } from '../onion/index.ts'
import type { AbortOptions } from '@libp2p/interface'

/** The onion handler kind of direct messages (the same request / response bytes as `/murmur/dm/1.0.0`) */
export const DM_ONION_KIND = 'murmur/dm/1'

/**
 * Bytes of a bundle per reply: a reply is one packet, 1989 bytes of data
 * with this kind, less the response's own fields
 */
const BUNDLE_CHUNK_BYTES = 1900
/**
 * Reply blocks a bundle request carries, one chunk each. Reply blocks ride in
 * the first packet, which holds at most two (527 bytes each): 3800 bytes of
 * bundle, about 90 one-time prekeys (a node keeps 20). A larger bundle is
 * refused and the sender looks it up in the DHT instead.
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
export type OnionForContacts = Pick<Onion, 'request' | 'send' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'>

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
      await msg.reply(encodeResponse({ ok: false, error: errorText(err) }))
      return
    }
    if (req.bundleFor != null) {
      const bundle = this.handlers?.bundleFor(req.bundleFor)
      if (bundle == null || bundle.length > msg.surbs * BUNDLE_CHUNK_BYTES) {
        await msg.reply(encodeResponse({ ok: false, error: bundle == null ? 'No bundle for this identity' : 'Bundle larger than the reply blocks carry' }))
        return
      }
      const total = Math.ceil(bundle.length / BUNDLE_CHUNK_BYTES)
      for (let i = 0; i < total; i++) {
        // index ‖ total ‖ chunk: replies may come back in any order over their own routes
        const chunk = bundle.subarray(i * BUNDLE_CHUNK_BYTES, (i + 1) * BUNDLE_CHUNK_BYTES)
        const out = new Uint8Array(2 + chunk.length)
        out[0] = i
        out[1] = total
        out.set(chunk, 2)
        await msg.reply(encodeResponse({ ok: true, bundle: out }))
      }
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
    await msg.reply(encodeResponse(response))
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

  /** `onion.request`, bounded by `timeoutMs` and the caller's signal (request's reply wait does not take a signal) */
  private async request (peer: string, data: Uint8Array, options?: AbortOptions): Promise<Uint8Array> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ...(options?.signal != null ? [options.signal] : [])])
    return abortable(this.onion.request(peer, data, { kind: DM_ONION_KIND, hops: this.hops, signal, replyTimeoutMs: this.timeoutMs }), signal)
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

  /** A bundle request with enough reply blocks for the largest bundle; the chunks are put back together */
  private async requestBundle (peer: string, signingKey: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ...(options?.signal != null ? [options.signal] : [])])
    let messageId: string | undefined
    const early: Array<{ messageId: string, data: Uint8Array }> = []
    const chunks = new Map<number, Uint8Array>()
    let total = -1
    let settle!: (v: Uint8Array | undefined) => void
    const done = new Promise<Uint8Array | undefined>((resolve) => { settle = resolve })
    const take = (data: Uint8Array): void => {
      let res
      try {
        res = decodeResponse(data)
      } catch {
        return
      }
      if (!res.ok || res.bundle == null || res.bundle.length < 2) {
        settle(undefined)
        return
      }
      total = res.bundle[1]
      chunks.set(res.bundle[0], res.bundle.subarray(2))
      if (chunks.size === total) {
        const parts = [...chunks.entries()].sort((a, b) => a[0] - b[0]).map(e => e[1])
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) { out.set(p, at); at += p.length }
        settle(out)
      }
    }
    const listener = (evt: CustomEvent<{ messageId: string, data: Uint8Array }>): void => {
      if (messageId == null) { early.push(evt.detail) } else if (evt.detail.messageId === messageId) { take(evt.detail.data) }
    }
    this.onion.addEventListener('reply', listener)
    try {
      const sent = await this.onion.send(peer, encodeRequest({ bundleFor: signingKey }), { kind: DM_ONION_KIND, hops: this.hops, surbs: BUNDLE_SURBS, signal })
      messageId = sent.messageId
      for (const e of early) {
        if (e.messageId === messageId) { take(e.data) }
      }
      return await abortable(done, signal)
    } finally {
      this.onion.removeEventListener('reply', listener)
    }
  }
}

function errorText (err: any): string {
  return `${err?.name ?? 'Error'}: ${err?.message ?? err}`.slice(0, 200)
}

/** Rejects as soon as `signal` aborts, whatever `p` still does */
async function abortable<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(new DeliveryError(`Live delivery over onion routes aborted: ${signal.reason?.message ?? 'timeout'}`)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
    p.catch(() => {})
  }
}
