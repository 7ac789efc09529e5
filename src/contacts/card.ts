import { equalBytes } from '@noble/ciphers/utils.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '@noble/hashes/utils.js'
import { fromString, toString } from 'uint8arrays'
import { decodePublicIdentity, encodePublicIdentity, PUBLIC_IDENTITY_BYTES } from '../identity/index.ts'
import { ContactCard as ContactCardMessage } from './direct.ts'
import { ContactCardError } from './errors.ts'
import { checkText, utf8Length } from './wire.ts'
import type { PublicIdentity } from '../identity/index.ts'

/**
 * The contact card: a copyable, QR-friendly string
 *
 * ```
 * murmur:<base58btc( ContactCard ‖ checksum(4) )>
 * ```
 *
 * where ContactCard is the protobuf message of direct.proto:
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
 *
 * The text form stays what people copy and scan; protobuf inside, like the
 * group invite code, lets a later version add a field that this one skips.
 */

export const CARD_PREFIX = 'murmur:'
/** 2: protobuf inside; 1 was the fixed binary layout before it */
export const CARD_VERSION = 2
export const MAILBOX_NAME_BYTES = 32
const CHECKSUM_BYTES = 4
const MAX_PEERS = 8
const MAX_PEER_ID_CHARS = 128
/** Longest card string accepted, before any decoding */
export const MAX_CARD_CHARS = 2048
/**
 * Fewer bytes than this are a cut-off card of any version: a version 1 card
 * (version, identity, mailbox, peer count, checksum), the smaller of the two,
 * so that one still gets its own error below
 */
const MIN_CARD_BYTES = 1 + PUBLIC_IDENTITY_BYTES + MAILBOX_NAME_BYTES + 1 + CHECKSUM_BYTES
/** What the first byte of a version 1 card was; no protobuf encoder starts a message with it (field number 0) */
const LEGACY_VERSION_BYTE = 1

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
  if (card.peers.some(p => utf8Length(p) > MAX_PEER_ID_CHARS)) {
    throw new ContactCardError('Peer id too long for a card')
  }
  const body = ContactCardMessage.encode({ version: CARD_VERSION, identity: encodePublicIdentity(card.identity), mailbox: card.mailbox, peers: card.peers })
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
  if (bytes.length < MIN_CARD_BYTES) {
    throw new ContactCardError(`The contact card is truncated (${bytes.length} bytes, at least ${MIN_CARD_BYTES} expected)`)
  }
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
  if (!equalBytes(sha256(body).subarray(0, CHECKSUM_BYTES), bytes.subarray(bytes.length - CHECKSUM_BYTES))) {
    throw new ContactCardError('The contact card\'s checksum does not match: it was altered or cut short')
  }
  if (body[0] === LEGACY_VERSION_BYTE) {
    throw new ContactCardError(`Contact card version 1 is not supported (this build reads version ${CARD_VERSION}): ask the contact for a new card`)
  }
  let msg: ContactCardMessage
  try {
    msg = ContactCardMessage.decode(body, { limits: { peers: MAX_PEERS } })
  } catch (err: any) {
    throw new ContactCardError(`The contact card does not decode: ${err?.message ?? err}`)
  }
  if (msg.version !== CARD_VERSION) {
    throw new ContactCardError(`Contact card version ${msg.version} is not supported (this build reads version ${CARD_VERSION})`)
  }
  let identity: PublicIdentity
  try {
    identity = decodePublicIdentity(msg.identity)
  } catch (err: any) {
    throw new ContactCardError(`The contact card holds no valid identity: ${err.message}`)
  }
  if (msg.mailbox.length !== MAILBOX_NAME_BYTES) {
    throw new ContactCardError(`The contact card's mailbox name is ${msg.mailbox.length} bytes, not ${MAILBOX_NAME_BYTES}`)
  }
  checkText(msg.peers, message => new ContactCardError(`The contact card's peer list: ${message}`))
  if (msg.peers.some(p => utf8Length(p) > MAX_PEER_ID_CHARS)) {
    throw new ContactCardError(`A peer id in a card is at most ${MAX_PEER_ID_CHARS} bytes`)
  }
  return { identity, mailbox: msg.mailbox.slice(), peers: msg.peers }
}
