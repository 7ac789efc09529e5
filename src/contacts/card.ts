import { equalBytes } from '@noble/ciphers/utils.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '@noble/hashes/utils.js'
import { fromString, toString } from 'uint8arrays'
import { decodePublicIdentity, encodePublicIdentity, PUBLIC_IDENTITY_BYTES } from '../identity/index.ts'
import { ContactCardError } from './errors.ts'
import type { PublicIdentity } from '../identity/index.ts'

/**
 * The contact card: a copyable, QR-friendly string
 *
 * ```
 * murmur:<base58btc( version ‖ identity(64) ‖ mailbox(32) ‖ peer count ‖ (len ‖ peer id)* ‖ checksum(4) )>
 * ```
 *
 * - identity: the public messaging identity (Ed25519 ‖ X25519)
 * - mailbox: the name of a mailbox minted for this card only, where the first
 *   messages are deposited; inside the session each side then names a pairwise
 *   mailbox of its own, so no two contacts share one
 * - peers: where the prekey bundle can be asked for directly and where live
 *   messages go in transparent mode; the bundle itself also lives in the DHT at
 *   `/murmur-prekeys/<hex signing key>`, which needs only the identity
 * - checksum: the first 4 bytes of SHA-256 over everything before it, so a
 *   mistyped or truncated card is caught before anything is looked up
 */

export const CARD_PREFIX = 'murmur:'
export const CARD_VERSION = 1
export const MAILBOX_NAME_BYTES = 32
const CHECKSUM_BYTES = 4
const MAX_PEERS = 8
const MAX_PEER_ID_CHARS = 128
/** Longest card string accepted, before any decoding */
export const MAX_CARD_CHARS = 2048

export interface ContactCard {
  identity: PublicIdentity
  /** The mailbox name to deposit first messages into */
  mailbox: Uint8Array
  /** Peer ids (strings) serving this identity's bundle and live messages */
  peers: string[]
}

export function encodeCard (card: ContactCard): string {
  if (card.mailbox.length !== MAILBOX_NAME_BYTES) {
    throw new ContactCardError(`A mailbox name is ${MAILBOX_NAME_BYTES} bytes`)
  }
  if (card.peers.length > MAX_PEERS) {
    throw new ContactCardError(`A card names at most ${MAX_PEERS} peers`)
  }
  const peers = card.peers.map(p => {
    const b = new TextEncoder().encode(p)
    if (b.length > MAX_PEER_ID_CHARS) {
      throw new ContactCardError('Peer id too long for a card')
    }
    return concatBytes(Uint8Array.of(b.length), b)
  })
  const body = concatBytes(Uint8Array.of(CARD_VERSION), encodePublicIdentity(card.identity), card.mailbox, Uint8Array.of(card.peers.length), ...peers)
  return CARD_PREFIX + toString(concatBytes(body, sha256(body).subarray(0, CHECKSUM_BYTES)), 'base58btc')
}

export function decodeCard (text: string): ContactCard {
  if (typeof text !== 'string') {
    throw new ContactCardError('A contact card is a string')
  }
  const trimmed = text.trim()
  if (trimmed.length > MAX_CARD_CHARS) {
    throw new ContactCardError(`A contact card is at most ${MAX_CARD_CHARS} characters`)
  }
  if (!trimmed.startsWith(CARD_PREFIX)) {
    throw new ContactCardError(`A contact card starts with "${CARD_PREFIX}"`)
  }
  let bytes: Uint8Array
  try {
    bytes = fromString(trimmed.slice(CARD_PREFIX.length), 'base58btc')
  } catch {
    throw new ContactCardError('The contact card has characters outside base58')
  }
  const min = 1 + PUBLIC_IDENTITY_BYTES + MAILBOX_NAME_BYTES + 1 + CHECKSUM_BYTES
  if (bytes.length < min) {
    throw new ContactCardError(`The contact card is truncated (${bytes.length} bytes, at least ${min} expected)`)
  }
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
  if (!equalBytes(sha256(body).subarray(0, CHECKSUM_BYTES), bytes.subarray(bytes.length - CHECKSUM_BYTES))) {
    throw new ContactCardError('The contact card\'s checksum does not match: it was altered or cut short')
  }
  if (body[0] !== CARD_VERSION) {
    throw new ContactCardError(`Contact card version ${body[0]} is not supported (this build reads version ${CARD_VERSION})`)
  }
  let at = 1
  let identity: PublicIdentity
  try {
    identity = decodePublicIdentity(body.slice(at, at + PUBLIC_IDENTITY_BYTES))
  } catch (err: any) {
    throw new ContactCardError(`The contact card holds no valid identity: ${err.message}`)
  }
  at += PUBLIC_IDENTITY_BYTES
  const mailbox = body.slice(at, at + MAILBOX_NAME_BYTES)
  at += MAILBOX_NAME_BYTES
  const count = body[at++]
  if (count > MAX_PEERS) {
    throw new ContactCardError(`A card names at most ${MAX_PEERS} peers`)
  }
  const peers: string[] = []
  for (let i = 0; i < count; i++) {
    const len = body[at++]
    if (len == null || at + len > body.length) {
      throw new ContactCardError('The contact card is truncated inside its peer list')
    }
    peers.push(new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(at, at + len)))
    at += len
  }
  if (at !== body.length) {
    throw new ContactCardError('The contact card has trailing bytes')
  }
  return { identity, mailbox, peers }
}
