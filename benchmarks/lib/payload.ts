/**
 * What a benchmark publishes: a 20-byte header (magic, run tag, sequence
 * number, send time) and seeded padding up to the requested size. The send
 * time travels inside the message so that the receiver, in this process or in
 * another one on the same host, computes the publish→delivery latency itself.
 */

import { Prng } from './prng.ts'

export const PAYLOAD_MAGIC = 0x4d524d42 // "MRMB"
export const PAYLOAD_HEADER_BYTES = 20

export interface PayloadHeader {
  /** distinguishes runs (and warm-up from measured messages) */
  tag: number
  seq: number
  /** wall-clock milliseconds with sub-millisecond precision (see `now()`) */
  sentAt: number
}

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Processes on
 * one host agree on it to well under a millisecond, which is what lets
 * `--procs` runs measure latency across processes.
 */
export function now (): number {
  return performance.timeOrigin + performance.now()
}

export function encodePayload (header: PayloadHeader, size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(size, PAYLOAD_HEADER_BYTES))
  const view = new DataView(bytes.buffer)
  view.setUint32(0, PAYLOAD_MAGIC)
  view.setUint32(4, header.tag >>> 0)
  view.setUint32(8, header.seq >>> 0)
  view.setFloat64(12, header.sentAt)
  if (bytes.length > PAYLOAD_HEADER_BYTES) {
    // padding depends on (seed, seq) only, so in-process and --procs runs publish the same bytes
    new Prng(((seed ^ Math.imul(header.seq + 1, 0x9e3779b1)) >>> 0)).fill(bytes.subarray(PAYLOAD_HEADER_BYTES))
  }
  return bytes
}

/** The header of a benchmark payload, or undefined for anything else */
export function decodePayload (bytes: Uint8Array): PayloadHeader | undefined {
  if (bytes.length < PAYLOAD_HEADER_BYTES) {
    return undefined
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== PAYLOAD_MAGIC) {
    return undefined
  }
  return { tag: view.getUint32(4), seq: view.getUint32(8), sentAt: view.getFloat64(12) }
}
