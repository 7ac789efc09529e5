import { GROUP_ELEMENT_SIZE, HEADER_SIZE, MAC_SIZE, PACKET_SIZE, PAYLOAD_SIZE, ROUTING_INFO_SIZE } from './constants.ts'
import { InvalidPacketError } from './errors.ts'

/** The Sphinx header (α, β, γ in the paper), as views into one buffer */
export interface SphinxHeader {
  /** This hop's ephemeral public key */
  alpha: Uint8Array
  /** Encrypted routing information */
  beta: Uint8Array
  /** MAC over β */
  gamma: Uint8Array
}

export interface SphinxPacket {
  header: SphinxHeader
  payload: Uint8Array
}

export function decodeHeader (bytes: Uint8Array): SphinxHeader {
  if (bytes.length !== HEADER_SIZE) {
    throw new InvalidPacketError(`A Sphinx header is ${HEADER_SIZE} bytes, not ${bytes.length}`)
  }
  return {
    alpha: bytes.subarray(0, GROUP_ELEMENT_SIZE),
    beta: bytes.subarray(GROUP_ELEMENT_SIZE, GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE),
    gamma: bytes.subarray(GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE, HEADER_SIZE)
  }
}

export function encodeHeader (alpha: Uint8Array, beta: Uint8Array, gamma: Uint8Array): Uint8Array {
  if (alpha.length !== GROUP_ELEMENT_SIZE || beta.length !== ROUTING_INFO_SIZE || gamma.length !== MAC_SIZE) {
    throw new InvalidPacketError('Header parts of the wrong size')
  }
  const out = new Uint8Array(HEADER_SIZE)
  out.set(alpha, 0)
  out.set(beta, GROUP_ELEMENT_SIZE)
  out.set(gamma, GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE)
  return out
}

/** Splits a wire packet into views; throws InvalidPacketError unless it is exactly PACKET_SIZE bytes */
export function decodePacket (bytes: Uint8Array): SphinxPacket {
  if (bytes.length !== PACKET_SIZE) {
    throw new InvalidPacketError(`A Sphinx packet is ${PACKET_SIZE} bytes, not ${bytes.length}`)
  }
  return {
    header: decodeHeader(bytes.subarray(0, HEADER_SIZE)),
    payload: bytes.subarray(HEADER_SIZE)
  }
}

export function encodePacket (header: Uint8Array, payload: Uint8Array): Uint8Array {
  if (header.length !== HEADER_SIZE || payload.length !== PAYLOAD_SIZE) {
    throw new InvalidPacketError('Packet parts of the wrong size')
  }
  const out = new Uint8Array(PACKET_SIZE)
  out.set(header, 0)
  out.set(payload, HEADER_SIZE)
  return out
}
