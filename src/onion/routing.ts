import { ADDRESS_SIZE, COMMAND_DELIVER, COMMAND_RELAY, COMMAND_SIZE, COMMAND_SURB_REPLY, DELAY_SIZE, GROUP_ELEMENT_SIZE, MAC_SIZE, ROUTING_BLOCK_SIZE, SURB_ID_SIZE } from './constants.ts'
import { InvalidPacketError } from './errors.ts'

/**
 * One routing block, what a hop finds after peeling its layer of β:
 * - relay: forward to `address`, with header (α = nextAlpha, β', γ = nextGamma)
 * - deliver: this hop is the destination of a forward packet
 * - surb-reply: this hop created the reply block `surbId` and is its destination
 */
export type RoutingBlock =
  | { command: 'relay', delayMs: number, address: Uint8Array, nextAlpha: Uint8Array, nextGamma: Uint8Array }
  | { command: 'deliver' }
  | { command: 'surb-reply', surbId: Uint8Array }

const ADDRESS_OFFSET = COMMAND_SIZE + DELAY_SIZE
const ALPHA_OFFSET = ADDRESS_OFFSET + ADDRESS_SIZE
const GAMMA_OFFSET = ALPHA_OFFSET + GROUP_ELEMENT_SIZE

export function encodeRoutingBlock (block: RoutingBlock): Uint8Array {
  const out = new Uint8Array(ROUTING_BLOCK_SIZE)
  if (block.command === 'relay') {
    if (block.address.length !== ADDRESS_SIZE || block.nextAlpha.length !== GROUP_ELEMENT_SIZE || block.nextGamma.length !== MAC_SIZE) {
      throw new InvalidPacketError('Routing block parts of the wrong size')
    }
    const delay = Math.max(0, Math.min(0xffff, Math.round(block.delayMs)))
    out[0] = COMMAND_RELAY
    out[1] = delay >> 8
    out[2] = delay & 0xff
    out.set(block.address, ADDRESS_OFFSET)
    out.set(block.nextAlpha, ALPHA_OFFSET)
    out.set(block.nextGamma, GAMMA_OFFSET)
  } else if (block.command === 'deliver') {
    out[0] = COMMAND_DELIVER
  } else {
    if (block.surbId.length !== SURB_ID_SIZE) {
      throw new InvalidPacketError(`A SURB id is ${SURB_ID_SIZE} bytes`)
    }
    out[0] = COMMAND_SURB_REPLY
    out.set(block.surbId, ADDRESS_OFFSET)
  }
  return out
}

/** Decodes a peeled routing block; the result views `bytes` */
export function decodeRoutingBlock (bytes: Uint8Array): RoutingBlock {
  if (bytes.length !== ROUTING_BLOCK_SIZE) {
    throw new InvalidPacketError(`A routing block is ${ROUTING_BLOCK_SIZE} bytes`)
  }
  switch (bytes[0]) {
    case COMMAND_RELAY:
      return {
        command: 'relay',
        delayMs: (bytes[1] << 8) | bytes[2],
        address: bytes.subarray(ADDRESS_OFFSET, ALPHA_OFFSET),
        nextAlpha: bytes.subarray(ALPHA_OFFSET, GAMMA_OFFSET),
        nextGamma: bytes.subarray(GAMMA_OFFSET, GAMMA_OFFSET + MAC_SIZE)
      }
    case COMMAND_DELIVER:
      return { command: 'deliver' }
    case COMMAND_SURB_REPLY:
      return { command: 'surb-reply', surbId: bytes.subarray(ADDRESS_OFFSET, ADDRESS_OFFSET + SURB_ID_SIZE) }
    default:
      throw new InvalidPacketError(`Unknown routing command ${bytes[0]}`)
  }
}
