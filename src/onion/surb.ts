import { buildHeader } from './builder.ts'
import { ADDRESS_SIZE, HEADER_SIZE, SURB_ID_SIZE, SURB_KDF_INFO, SURB_SIZE, LIONESS_KEY_SIZE } from './constants.ts'
import { InvalidSurbError } from './errors.ts'
import { encodePacket } from './header.ts'
import { decodePayloadBody, encodePayloadBody, lionessDecrypt, lionessEncrypt } from './payload.ts'
import type { BuildOptions, RouteHop } from './builder.ts'
import type { SphinxCrypto } from './crypto/index.ts'
import type { HopKeys } from './keys.ts'

/**
 * A single-use reply block (Sphinx paper, section 3.4): what a sender hands the
 * destination so it can answer without learning who asked. It names the first
 * hop of the reply route (a relay, never the sender), a header whose last hop
 * is the sender, and a seed for the key the replier encrypts the payload with.
 */
export interface Surb {
  firstHop: Uint8Array
  header: Uint8Array
  payloadSeed: Uint8Array
}

/** What the SURB's creator keeps to open the reply: never leaves the creator */
export interface SurbSecret {
  id: Uint8Array
  payloadSeed: Uint8Array
  /** Payload keys of the relays of the reply route, in route order (the creator's own hop excluded) */
  relayPayloadKeys: Uint8Array[]
  /**
   * The α the reply carries when it reaches the creator, and the keys the
   * creator derived for its own hop when it made the SURB: the reply's
   * header is checked with these instead of another X25519 with the onion
   * key (the same shared secret, so the same MAC and replay tag)
   */
  own: { alpha: Uint8Array, keys: HopKeys }
}

export function encodeSurb (surb: Surb): Uint8Array {
  if (surb.firstHop.length !== ADDRESS_SIZE || surb.header.length !== HEADER_SIZE || surb.payloadSeed.length !== 32) {
    throw new InvalidSurbError('SURB parts of the wrong size')
  }
  const out = new Uint8Array(SURB_SIZE)
  out.set(surb.firstHop, 0)
  out.set(surb.header, ADDRESS_SIZE)
  out.set(surb.payloadSeed, ADDRESS_SIZE + HEADER_SIZE)
  return out
}

export function decodeSurb (bytes: Uint8Array): Surb {
  if (bytes.length !== SURB_SIZE) {
    throw new InvalidSurbError(`A SURB is ${SURB_SIZE} bytes, not ${bytes.length}`)
  }
  return {
    firstHop: bytes.slice(0, ADDRESS_SIZE),
    header: bytes.slice(ADDRESS_SIZE, ADDRESS_SIZE + HEADER_SIZE),
    payloadSeed: bytes.slice(ADDRESS_SIZE + HEADER_SIZE)
  }
}

function surbPayloadKey (crypto: SphinxCrypto, seed: Uint8Array): Uint8Array {
  return crypto.hkdf(seed, SURB_KDF_INFO, LIONESS_KEY_SIZE)
}

export interface SurbOptions extends BuildOptions {
  /** Fixed id and seed for test vectors; random otherwise */
  id?: Uint8Array
  payloadSeed?: Uint8Array
}

/**
 * Makes a SURB whose route is `hops`; the last hop must be the creator itself
 * (it processes the reply's header with its own onion key).
 */
export function createSurb (crypto: SphinxCrypto, hops: RouteHop[], options: SurbOptions = {}): { surb: Surb, secret: SurbSecret } {
  const id = options.id ?? crypto.randomBytes(SURB_ID_SIZE)
  const payloadSeed = options.payloadSeed ?? crypto.randomBytes(32)
  const { header, hopKeys, alphas } = buildHeader(crypto, hops, { command: 'surb-reply', surbId: id }, options)
  const n = hops.length
  return {
    surb: { firstHop: hops[0].address, header, payloadSeed },
    secret: { id, payloadSeed, relayPayloadKeys: hopKeys.slice(0, -1).map(k => k.payload.slice()), own: { alpha: alphas[n - 1], keys: hopKeys[n - 1] } }
  }
}

/** The replier's side: a packet carrying `body` back along the SURB's route */
export function surbReplyPacket (crypto: SphinxCrypto, surb: Surb, body: Uint8Array): { packet: Uint8Array, firstHop: Uint8Array } {
  const payload = lionessEncrypt(crypto, surbPayloadKey(crypto, surb.payloadSeed), encodePayloadBody(body))
  return { packet: encodePacket(surb.header, payload), firstHop: surb.firstHop }
}

/**
 * The creator's side: undoes each relay's decryption (last relay first), then
 * the replier's encryption; undefined if the payload was tampered with.
 */
export function openSurbReply (crypto: SphinxCrypto, secret: SurbSecret, payload: Uint8Array): Uint8Array | undefined {
  let block = payload
  for (let i = secret.relayPayloadKeys.length - 1; i >= 0; i--) {
    block = lionessEncrypt(crypto, secret.relayPayloadKeys[i], block)
  }
  block = lionessDecrypt(crypto, surbPayloadKey(crypto, secret.payloadSeed), block)
  return decodePayloadBody(crypto, block)
}
