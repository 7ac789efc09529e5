import { GROUP_ELEMENT_SIZE, HEADER_SIZE, MAC_SIZE, PAYLOAD_SIZE, ROUTING_BLOCK_SIZE, ROUTING_INFO_SIZE } from './constants.ts'
import { decodePacket } from './header.ts'
import { deriveHopKeys } from './keys.ts'
import { decodePayloadBody, lionessDecrypt } from './payload.ts'
import { decodeRoutingBlock } from './routing.ts'
import type { SphinxCrypto } from './crypto/index.ts'
import type { HopKeys } from './keys.ts'

/** The packet goes on to `nextHop` after `delayMs` */
export interface ForwardHop {
  type: 'forward'
  nextHop: Uint8Array
  delayMs: number
  packet: Uint8Array
  replayTag: Uint8Array
}

/** This node is the packet's destination */
export type FinalHop =
  | { type: 'final', command: 'deliver', body: Uint8Array, replayTag: Uint8Array }
  /** A reply through a SURB this node made: `payload` still carries the route's layers, which only the SURB's keys remove */
  | { type: 'final', command: 'surb-reply', surbId: Uint8Array, payload: Uint8Array, replayTag: Uint8Array }

export type HopResult = ForwardHop | FinalHop

/** Why a relay dropped a packet: the label of the `dropped` metric */
export type DropReason = 'length' | 'key' | 'mac' | 'replay' | 'routing' | 'payload' | 'replay-cache-full'

/** A packet this hop refuses; `reason` says at which check */
export class PacketRejectedError extends Error {
  static name = 'PacketRejectedError'
  name = 'PacketRejectedError'
  readonly reason: DropReason
  constructor (reason: DropReason, message = `Packet rejected: ${reason}`) {
    super(message)
    this.reason = reason
  }
}

/**
 * The relay's replay check: true if the tag is new (and now remembered),
 * false if seen. `keyIndex` says which of the relay's keys matched, so tags
 * are kept per key epoch and dropped with the key.
 */
export interface ReplayCheck {
  checkAndAdd(tag: Uint8Array, keyIndex: number): boolean
}

/**
 * Keys this node already holds for a packet's α (its own hop of a SURB it
 * made) and which of `privateKeys` they were made with; undefined if none
 */
export type KnownKeys = (alpha: Uint8Array) => { keys: HopKeys, keyIndex: number } | undefined

const PEELED = new Uint8Array(ROUTING_INFO_SIZE + ROUTING_BLOCK_SIZE)

/**
 * Processes one packet at one hop. Order of checks, as the paper requires:
 * shared secret, then the header MAC (constant time) before anything else is
 * read, then the replay tag, then peeling. `privateKeys` holds the onion keys
 * in use (current epoch first, then the previous one during the overlap);
 * the MAC tells which one the sender used.
 */
export function processPacket (crypto: SphinxCrypto, privateKeys: Uint8Array[], bytes: Uint8Array, replay?: ReplayCheck, known?: KnownKeys): HopResult {
  let packet
  try {
    packet = decodePacket(bytes)
  } catch {
    throw new PacketRejectedError('length')
  }
  const { alpha, beta, gamma } = packet.header

  let keys: HopKeys | undefined
  let keyIndex = 0
  let badKey = false
  // a reply to one of this node's SURBs: its own hop's keys are known since it made the SURB; the MAC is
  // checked with them exactly as with derived ones, and anything that fails it goes the X25519 way below
  const mine = known?.(alpha)
  if (mine != null && mine.keyIndex < privateKeys.length && crypto.equal(crypto.hmac(mine.keys.headerMac, beta).subarray(0, MAC_SIZE), gamma)) {
    keys = mine.keys
    keyIndex = mine.keyIndex
  }
  for (; keys == null && keyIndex < privateKeys.length; keyIndex++) {
    const privateKey = privateKeys[keyIndex]
    let candidate: HopKeys
    try {
      candidate = deriveHopKeys(crypto, crypto.x25519(privateKey, alpha))
    } catch {
      badKey = true
      break
    }
    if (crypto.equal(crypto.hmac(candidate.headerMac, beta).subarray(0, MAC_SIZE), gamma)) {
      keys = candidate
      break
    }
  }
  if (keys == null) {
    throw new PacketRejectedError(badKey ? 'key' : 'mac')
  }
  if (replay != null && !replay.checkAndAdd(keys.replayTag, keyIndex)) {
    throw new PacketRejectedError('replay')
  }

  // (β || 0^B) ⊕ ρ: the first block is ours, the rest is the next β
  // scratch space: everything read from it is copied out before returning
  const peeled = PEELED
  peeled.set(beta, 0)
  peeled.fill(0, ROUTING_INFO_SIZE)
  const stream = keys.headerStream
  for (let i = 0; i < peeled.length; i++) {
    peeled[i] ^= stream[i]
  }
  let block
  try {
    block = decodeRoutingBlock(peeled.subarray(0, ROUTING_BLOCK_SIZE))
  } catch {
    throw new PacketRejectedError('routing')
  }

  if (block.command === 'surb-reply') {
    return { type: 'final', command: 'surb-reply', surbId: block.surbId.slice(), payload: packet.payload.slice(), replayTag: keys.replayTag }
  }
  // the next packet, written in place: α' | β' | γ' | δ'
  const next = new Uint8Array(HEADER_SIZE + PAYLOAD_SIZE)
  lionessDecrypt(crypto, keys.payload, packet.payload, next.subarray(HEADER_SIZE))
  if (block.command === 'deliver') {
    const body = decodePayloadBody(crypto, next.subarray(HEADER_SIZE))
    if (body == null) {
      throw new PacketRejectedError('payload')
    }
    return { type: 'final', command: 'deliver', body, replayTag: keys.replayTag }
  }
  next.set(block.nextAlpha, 0)
  next.set(peeled.subarray(ROUTING_BLOCK_SIZE), GROUP_ELEMENT_SIZE)
  next.set(block.nextGamma, GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE)
  return { type: 'forward', nextHop: block.address.slice(), delayMs: block.delayMs, packet: next, replayTag: keys.replayTag }
}
