import { Uint8ArrayList } from 'uint8arraylist'
import { PACKET_SIZE } from './constants.ts'
import { InvalidPacketError } from './errors.ts'

/** The onion protocol: one fixed-size Sphinx packet per frame over a libp2p stream */
export const ONION_PROTOCOL = '/murmur/onion/1.0.0'

/** Frame = version byte | packet; fixed size, so no length prefix is needed and none leaks */
export const FRAME_VERSION = 1
export const FRAME_SIZE = 1 + PACKET_SIZE

export function encodeFrame (packet: Uint8Array): Uint8Array {
  if (packet.length !== PACKET_SIZE) {
    throw new InvalidPacketError(`A frame carries one ${PACKET_SIZE}-byte packet, not ${packet.length} bytes`)
  }
  const frame = new Uint8Array(FRAME_SIZE)
  frame[0] = FRAME_VERSION
  frame.set(packet, 1)
  return frame
}

/** Frames of several packets back to back, for one write */
export function encodeFrames (packets: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(packets.length * FRAME_SIZE)
  packets.forEach((packet, i) => {
    if (packet.length !== PACKET_SIZE) {
      throw new InvalidPacketError(`A frame carries one ${PACKET_SIZE}-byte packet, not ${packet.length} bytes`)
    }
    out[i * FRAME_SIZE] = FRAME_VERSION
    out.set(packet, i * FRAME_SIZE + 1)
  })
  return out
}

/**
 * Cuts a byte stream into packets. Chunks may split or join frames
 * arbitrarily; a frame with an unknown version throws InvalidPacketError
 * (the stream is then closed: framing is lost).
 */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()

  push (chunk: Uint8Array | Uint8ArrayList): Uint8Array[] {
    this.buffer.append(chunk)
    const packets: Uint8Array[] = []
    while (this.buffer.byteLength >= FRAME_SIZE) {
      const frame = this.buffer.subarray(0, FRAME_SIZE)
      this.buffer.consume(FRAME_SIZE)
      if (frame[0] !== FRAME_VERSION) {
        throw new InvalidPacketError(`Unknown onion frame version ${frame[0]}`)
      }
      packets.push(frame.subarray(1))
    }
    return packets
  }

  /** Bytes of an incomplete frame waiting for the rest */
  get buffered (): number {
    return this.buffer.byteLength
  }
}
