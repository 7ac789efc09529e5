import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { DirectRequest as DirectRequestMessage, DirectResponse as DirectResponseMessage } from './direct.ts'
import { DeliveryError } from './errors.ts'
import { MAX_ENVELOPE_BYTES } from './messages.ts'
import { MAX_BUNDLE_BYTES } from './prekeys.ts'
import { checkText, utf8Length, WireError } from './wire.ts'
import type { MurmurNode } from '../node/index.ts'
import type { AbortOptions, Connection, Stream } from '@libp2p/interface'

/**
 * Delivery of sealed direct messages. The contacts layer only ever hands a
 * transport bytes already sealed to the recipient's identity key (a relay or
 * store node sees neither the ratchet header nor who sent it) and gets sealed
 * bytes back through `Contacts.receive`.
 *
 * Two transports, per DESIGN.md "1:1 messaging":
 *
 * - `live`: to the recipient while it is online. By default the onion layer
 * (`OnionLiveTransport` in onion-transport.ts: a Sphinx message to the
 * recipient, answered through a SURB once persisted); `DirectLiveTransport`
 * below is the TRANSPARENT MODE: a direct libp2p stream `/murmur/dm/1.0.0` to
 * one of the peers the recipient's card / bundle names. It hides contents, not
 * who talks to whom.
 * - `mailbox`: when live delivery fails, a deposit into the recipient's
 * pairwise mailbox (store layer), fetched when the recipient comes back.
 */

/** Where a contact can be reached live */
export interface LiveAddress {
  /** Peer ids named by the contact's card or prekey bundle */
  peers: string[]
  /** The contact's public X25519 identity key (an onion transport may use it to address the exit) */
  dhKey: Uint8Array
}

export interface LiveTransport {
  /**
   * Delivers one sealed envelope; resolves only once the recipient's node
   * acknowledged it (for the onion transport: the SURB ack came back), rejects
   * otherwise (then the sender falls back to the mailbox).
   */
  send(to: LiveAddress, sealed: Uint8Array, options?: AbortOptions): Promise<void>
  /** A contact's prekey bundle straight from one of its peers (transparent mode); undefined when not offered */
  fetchBundle?(peers: string[], signingKey: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined>
  /** Starts taking messages (and bundle requests) for this node; Contacts calls it from its own `start` */
  start?(handlers: LiveTransportHandlers): Promise<void>
  /** Stops taking them; Contacts calls it from its own `stop` */
  stop?(): Promise<void>
}

/**
 * What the store layer must provide for offline delivery (`StoreMailboxTransport`
 * in store-mailbox.ts puts it on `murmur.store`; the composite sets it by default):
 *
 * - `deposit(mailbox, sealed)`: put the sealed bytes into the mailbox named
 * `mailbox` (32 bytes: SHA-256 of the mailbox public key) on the k store
 * nodes responsible for it; resolve once durably written (DESIGN
 * "Store-and-forward": acknowledged only after it is written). The bytes are
 * opaque; the store must not need to parse them.
 * - `fetch(key)`: prove possession of the mailbox key (`key.sign(challenge)`,
 * Ed25519 over the store's fresh challenge; `key.publicKey` hashes to
 * `key.name`) and return the pending items, each with a store-assigned `id`.
 * - `ack(key, ids)`: delete those items on every replica, after contacts has
 * persisted what they carried.
 */
export interface MailboxTransport {
  deposit(mailbox: Uint8Array, sealed: Uint8Array, options?: AbortOptions): Promise<void>
  fetch(key: MailboxKey, options?: AbortOptions): Promise<Array<{ id: string, sealed: Uint8Array }>>
  ack(key: MailboxKey, ids: string[], options?: AbortOptions): Promise<void>
}

/**
 * Signed public records on the store nodes (`StoreRecordTransport` in
 * store-mailbox.ts): the third place a prekey bundle lives, after the owner's
 * own node and the DHT. The store node checks the record with the DHT's own
 * validator, so `lookup` only returns records their owner signed; contacts
 * still verifies each and takes the newest.
 */
export interface RecordTransport {
  publish(key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<void>
  /** The records held under `key` by the store nodes that answered (empty: none) */
  lookup(key: Uint8Array, options?: AbortOptions): Promise<Uint8Array[]>
}

/** A mailbox this identity owns: its name (SHA-256 of the public key), the Ed25519 public key and a signer */
export interface MailboxKey {
  name: Uint8Array
  publicKey: Uint8Array
  sign(challenge: Uint8Array): Uint8Array
}

export const DM_PROTOCOL = '/murmur/dm/1.0.0'

/** What a live transport hands what it receives to (the contacts layer) */
export interface LiveTransportHandlers {
  /** Takes one sealed envelope; throws to refuse it (the error text goes back to the sender) */
  onSealed(sealed: Uint8Array): Promise<void>
  /** This node's current bundle when asked for the identity with this Ed25519 key */
  bundleFor(signingKey: Uint8Array): Uint8Array | undefined
}

export interface DirectLiveTransportInit {
  /** @default 10000 */
  timeoutMs?: number
}

/**
 * The transparent live transport: one stream per request on
 * `/murmur/dm/1.0.0`, a length-prefixed `DirectRequest` answered by a
 * `DirectResponse` once the receiver has decrypted and persisted the message
 * (that response is the ack). Also serves prekey bundles directly.
 */
export class DirectLiveTransport implements LiveTransport {
  private readonly node: MurmurNode
  private readonly timeoutMs: number
  private handlers?: LiveTransportHandlers

  constructor (node: MurmurNode, init: DirectLiveTransportInit = {}) {
    this.node = node
    this.timeoutMs = init.timeoutMs ?? 10_000
  }

  async start (handlers: LiveTransportHandlers): Promise<void> {
    this.handlers = handlers
    await this.node.libp2p.handle(DM_PROTOCOL, (stream, connection) => {
      this.onStream(stream, connection).catch(() => { stream.abort(new Error('direct message handler failed')) })
    }, { maxInboundStreams: 64 })
  }

  async stop (): Promise<void> {
    await this.node.libp2p.unhandle(DM_PROTOCOL)
    this.handlers = undefined
  }

  private async onStream (stream: Stream, _connection: Connection): Promise<void> {
    // one request per stream: the reader holds that frame and no more (libp2p's default is 4 MiB a stream,
    // 64 streams a connection), so a sender that runs ahead of a busy receiver is reset
    const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES + 64, maxBufferSize: MAX_ENVELOPE_BYTES + 64 + 16 })
    const signal = AbortSignal.timeout(this.timeoutMs)
    const response: DirectResponse = { ok: false }
    try {
      const req = decodeRequest((await lp.read({ signal })).subarray())
      if (this.handlers == null) {
        throw new DeliveryError('Not accepting direct messages')
      }
      if (req.sealed != null) {
        await this.handlers.onSealed(req.sealed)
        response.ok = true
      } else if (req.bundleFor != null) {
        response.bundle = this.handlers.bundleFor(req.bundleFor)
        response.ok = response.bundle != null
      }
    } catch (err: any) {
      response.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`.slice(0, 200)
    }
    await lp.write(encodeResponse(response), { signal })
    await stream.close({ signal })
  }

  private async request (peer: string, req: DirectRequest, options?: AbortOptions): Promise<DirectResponse> {
    const signal = options?.signal ?? AbortSignal.timeout(this.timeoutMs)
    const stream = await this.node.libp2p.dialProtocol(peerIdFromString(peer), DM_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_BUNDLE_BYTES + 512 })
      await lp.write(encodeRequest(req), { signal })
      const res = decodeResponse((await lp.read({ signal })).subarray())
      await stream.close({ signal })
      return res
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  async send (to: LiveAddress, sealed: Uint8Array, options?: AbortOptions): Promise<void> {
    const failures: string[] = []
    for (const peer of to.peers) {
      try {
        const res = await this.request(peer, { sealed }, options)
        if (res.ok) {
          return
        }
        failures.push(`${peer}: ${res.error ?? 'refused'}`)
      } catch (err: any) {
        failures.push(`${peer}: ${err?.message ?? err}`)
      }
    }
    throw new DeliveryError(to.peers.length === 0 ? 'The contact names no peer to reach it live' : `Live delivery failed (${failures.join('; ')})`)
  }

  async fetchBundle (peers: string[], signingKey: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined> {
    for (const peer of peers) {
      try {
        const res = await this.request(peer, { bundleFor: signingKey }, options)
        if (res.ok && res.bundle != null) {
          return res.bundle
        }
      } catch {
        // try the next peer
      }
    }
    return undefined
  }
}

/** A request on `/murmur/dm/1.0.0` (direct.proto `DirectRequest`): a sealed envelope, or the Ed25519 identity key (32) whose bundle is asked for */
export interface DirectRequest {
  sealed?: Uint8Array
  bundleFor?: Uint8Array
}

/** The answer (direct.proto `DirectResponse`): ok, an error text of at most MAX_ERROR_BYTES, a bundle */
export interface DirectResponse {
  ok: boolean
  error?: string
  bundle?: Uint8Array
}

/** Longest error text in a response, in UTF-8 bytes */
export const MAX_ERROR_BYTES = 255
/** A request frame: the sealed envelope and a few bytes of protobuf around it */
const MAX_REQUEST_BYTES = MAX_ENVELOPE_BYTES + 16
const MAX_RESPONSE_BYTES = MAX_BUNDLE_BYTES + MAX_ERROR_BYTES + 16
const SIGNING_KEY_BYTES = 32

export function encodeRequest (req: DirectRequest): Uint8Array {
  if (req.sealed != null) {
    return DirectRequestMessage.encode({ sealed: req.sealed })
  }
  const key = req.bundleFor ?? new Uint8Array(0)
  if (key.length !== SIGNING_KEY_BYTES) {
    throw new WireError(`Expected ${SIGNING_KEY_BYTES} bytes, got ${key.length}`)
  }
  return DirectRequestMessage.encode({ bundleFor: key })
}

export function decodeRequest (bytes: Uint8Array): DirectRequest {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_REQUEST_BYTES) {
    throw new WireError(`A direct request is at most ${MAX_REQUEST_BYTES} bytes`)
  }
  let req: DirectRequestMessage
  try {
    req = DirectRequestMessage.decode(bytes)
  } catch (err: any) {
    throw new WireError(`Malformed direct request: ${err?.message ?? err}`)
  }
  if ((req.sealed == null) === (req.bundleFor == null)) {
    throw new DeliveryError('A direct request carries either a sealed message or the key whose bundle it asks for')
  }
  if (req.sealed != null) {
    if (req.sealed.length > MAX_ENVELOPE_BYTES) {
      throw new WireError(`A sealed message is at most ${MAX_ENVELOPE_BYTES} bytes`)
    }
    return { sealed: req.sealed }
  }
  const key = req.bundleFor as Uint8Array
  if (key.length !== SIGNING_KEY_BYTES) {
    throw new WireError(`An identity key is ${SIGNING_KEY_BYTES} bytes, not ${key.length}`)
  }
  return { bundleFor: key.slice() }
}

/** Cuts a text to at most `max` UTF-8 bytes, on a character boundary */
function clip (text: string, max: number): string {
  if (utf8Length(text) <= max) {
    return text
  }
  let out = ''
  let bytes = 0
  for (const ch of text) {
    bytes += utf8Length(ch)
    if (bytes > max) {
      break
    }
    out += ch
  }
  return out
}

export function encodeResponse (res: DirectResponse): Uint8Array {
  return DirectResponseMessage.encode({
    ok: res.ok,
    error: res.error != null ? clip(res.error, MAX_ERROR_BYTES) : undefined,
    bundle: res.bundle
  })
}

export function decodeResponse (bytes: Uint8Array): DirectResponse {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_RESPONSE_BYTES) {
    throw new WireError(`A direct response is at most ${MAX_RESPONSE_BYTES} bytes`)
  }
  let res: DirectResponseMessage
  try {
    res = DirectResponseMessage.decode(bytes)
  } catch (err: any) {
    throw new WireError(`Malformed direct response: ${err?.message ?? err}`)
  }
  checkText([res.error], message => new WireError(message))
  if (res.error != null && utf8Length(res.error) > MAX_ERROR_BYTES) {
    throw new WireError(`An error text is at most ${MAX_ERROR_BYTES} bytes`)
  }
  if (res.bundle != null && res.bundle.length > MAX_BUNDLE_BYTES) {
    throw new WireError(`A bundle is at most ${MAX_BUNDLE_BYTES} bytes`)
  }
  return { ok: res.ok, error: res.error, bundle: res.bundle }
}
