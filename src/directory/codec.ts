import { CodecError, Reader, Writer } from './wire.ts'

/**
 * A relay descriptor on the wire. descriptor = version u8 | peerKey [32] |
 * onionKey [32] | epoch u64 | notBefore u64 | notAfter u64 | roles (u8 count,
 * strings) | load u32 | addrs (u8 count, bytes); signed = descriptor bytes |
 * signature bytes.
 */
export const DESCRIPTOR_VERSION = 1

export interface DescriptorWire {
  peerKey: Uint8Array
  onionKey: Uint8Array
  epoch: number
  notBefore: number
  notAfter: number
  roles: string[]
  load: number
  addrs: Uint8Array[]
}

export function encodeDescriptorWire (d: DescriptorWire): Uint8Array {
  const w = new Writer().u8(DESCRIPTOR_VERSION).fixed(d.peerKey).fixed(d.onionKey).u64(d.epoch).u64(d.notBefore).u64(d.notAfter)
  w.u8(d.roles.length)
  d.roles.forEach(r => w.string(r))
  w.u32(d.load).u8(Math.min(d.addrs.length, 16))
  d.addrs.slice(0, 16).forEach(a => w.bytes(a))
  return w.finish()
}

export function decodeDescriptorWire (bytes: Uint8Array): DescriptorWire {
  const r = new Reader(bytes)
  if (r.u8() !== DESCRIPTOR_VERSION) {
    throw new CodecError('Unknown descriptor version')
  }
  const peerKey = r.fixed(32)
  const onionKey = r.fixed(32)
  const epoch = r.u64()
  const notBefore = r.u64()
  const notAfter = r.u64()
  const roles: string[] = []
  for (let i = r.u8(); i > 0; i--) { roles.push(r.string()) }
  const load = r.u32()
  const addrs: Uint8Array[] = []
  for (let i = r.u8(); i > 0; i--) { addrs.push(r.bytes()) }
  r.end()
  return { peerKey, onionKey, epoch, notBefore, notAfter, roles, load, addrs }
}

export function encodeSigned (descriptor: Uint8Array, signature: Uint8Array): Uint8Array {
  return new Writer().bytes(descriptor).bytes(signature).finish()
}

export function decodeSigned (bytes: Uint8Array): { descriptor: Uint8Array, signature: Uint8Array } {
  const r = new Reader(bytes)
  const descriptor = r.bytes()
  const signature = r.bytes()
  r.end()
  return { descriptor, signature }
}
