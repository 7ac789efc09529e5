import { ADDRESS_SIZE, GROUP_ELEMENT_SIZE, MAC_SIZE, MAX_HOPS, ROUTING_BLOCK_SIZE, ROUTING_INFO_SIZE, SURB_ID_SIZE } from './constants.ts'
import { InvalidRouteError } from './errors.ts'
import { encodeHeader, encodePacket } from './header.ts'
import { deriveHopKeys } from './keys.ts'
import { encodePayloadBody, lionessEncrypt } from './payload.ts'
import { encodeRoutingBlock } from './routing.ts'
import type { SphinxCrypto } from './crypto/index.ts'
import type { HopKeys } from './keys.ts'

/** One hop of a route as the sender knows it from the directory */
export interface RouteHop {
  /** The hop's address: the raw Ed25519 public key of its peer id */
  address: Uint8Array
  /** The hop's current onion (X25519) public key */
  onionKey: Uint8Array
  /** How long this hop holds the packet before forwarding it (mixing delay) */
  delayMs?: number
}

export interface BuiltHeader {
  header: Uint8Array
  /** Per-hop keys, in route order (the sender keeps the payload keys of a SURB) */
  hopKeys: HopKeys[]
  /** Per-hop α (the group element each hop receives), in route order */
  alphas: Uint8Array[]
}

export interface BuildOptions {
  /**
   * One X25519 private key per hop. Fresh random keys unless given; only the
   * test vectors fix them.
   */
  ephemeralKeys?: Uint8Array[]
}

export type FinalCommand = { command: 'deliver' } | { command: 'surb-reply', surbId: Uint8Array }

function checkRoute (hops: RouteHop[]): void {
  if (hops.length < 1 || hops.length > MAX_HOPS) {
    throw new InvalidRouteError(`A route has 1 to ${MAX_HOPS} hops, not ${hops.length}`)
  }
  for (const hop of hops) {
    if (hop.address.length !== ADDRESS_SIZE || hop.onionKey.length !== GROUP_ELEMENT_SIZE) {
      throw new InvalidRouteError('A hop needs a 32-byte address and a 32-byte onion key')
    }
  }
}

/**
 * Builds a Sphinx header for `hops` (the last one is the destination). See
 * constants.ts for the layout; the filler φ makes the β every hop sees after
 * peeling look like a full-length β, so no hop learns its position.
 */
export function buildHeader (crypto: SphinxCrypto, hops: RouteHop[], final: FinalCommand, options: BuildOptions = {}): BuiltHeader {
  checkRoute(hops)
  if (final.command === 'surb-reply' && final.surbId.length !== SURB_ID_SIZE) {
    throw new InvalidRouteError(`A SURB id is ${SURB_ID_SIZE} bytes`)
  }
  const n = hops.length
  const r = MAX_HOPS
  const B = ROUTING_BLOCK_SIZE
  const ephemeral = options.ephemeralKeys ?? hops.map(() => crypto.x25519GenerateKey?.() ?? crypto.randomBytes(32))
  if (ephemeral.length !== n) {
    throw new InvalidRouteError('One ephemeral key per hop')
  }

  const alphas: Uint8Array[] = []
  const hopKeys: HopKeys[] = []
  const streams: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    alphas.push(crypto.x25519PublicKey(ephemeral[i]))
    const keys = deriveHopKeys(crypto, crypto.x25519(ephemeral[i], hops[i].onionKey))
    hopKeys.push(keys)
    streams.push(keys.headerStream)
  }

  // φ: what the tail of β turns into after i peelings, so the sender can MAC it
  let filler: Uint8Array = new Uint8Array(0)
  for (let i = 1; i < n; i++) {
    const next = new Uint8Array(i * B)
    next.set(filler, 0)
    const tail = streams[i - 1].subarray((r + 1 - i) * B, (r + 1) * B)
    for (let j = 0; j < next.length; j++) {
      next[j] ^= tail[j]
    }
    filler = next
  }

  let beta = new Uint8Array(ROUTING_INFO_SIZE)
  beta.set(encodeRoutingBlock(final), 0)
  const lastStream = streams[n - 1]
  for (let j = 0; j < (r - n + 1) * B; j++) {
    beta[j] ^= lastStream[j]
  }
  beta.set(filler, (r - n + 1) * B)
  let gamma = crypto.hmac(hopKeys[n - 1].headerMac, beta).subarray(0, MAC_SIZE)

  for (let i = n - 2; i >= 0; i--) {
    const block = encodeRoutingBlock({
      command: 'relay',
      delayMs: hops[i].delayMs ?? 0,
      address: hops[i + 1].address,
      nextAlpha: alphas[i + 1],
      nextGamma: gamma
    })
    const next = new Uint8Array(ROUTING_INFO_SIZE)
    next.set(block, 0)
    next.set(beta.subarray(0, (r - 1) * B), B)
    const stream = streams[i]
    for (let j = 0; j < ROUTING_INFO_SIZE; j++) {
      next[j] ^= stream[j]
    }
    beta = next
    gamma = crypto.hmac(hopKeys[i].headerMac, beta).subarray(0, MAC_SIZE)
  }

  return { header: encodeHeader(alphas[0], beta, gamma), hopKeys, alphas }
}

/**
 * Wraps an already-encoded payload block in one Lioness layer per hop, last
 * hop first, so hop i's decryption removes layer i.
 */
export function wrapPayload (crypto: SphinxCrypto, hopKeys: HopKeys[], block: Uint8Array): Uint8Array {
  let payload = block
  for (let i = hopKeys.length - 1; i >= 0; i--) {
    payload = lionessEncrypt(crypto, hopKeys[i].payload, payload)
  }
  return payload
}

export interface BuiltPacket {
  /** PACKET_SIZE bytes, to send to the first hop */
  packet: Uint8Array
  /** Address of the first hop */
  firstHop: Uint8Array
  hopKeys: HopKeys[]
}

/** A forward packet carrying `body` (at most PAYLOAD_BODY_SIZE bytes) to the last hop of `hops` */
export function buildPacket (crypto: SphinxCrypto, hops: RouteHop[], body: Uint8Array, options: BuildOptions = {}): BuiltPacket {
  const { header, hopKeys } = buildHeader(crypto, hops, { command: 'deliver' }, options)
  const payload = wrapPayload(crypto, hopKeys, encodePayloadBody(body))
  return { packet: encodePacket(header, payload), firstHop: hops[0].address, hopKeys }
}
