import { Descriptor, SignedDescriptor } from './descriptor.ts'
import { CodecError } from './wire.ts'

/*
 * A relay descriptor on the wire: protobuf (descriptor.proto). `encodeSigned`
 * carries the descriptor as the bytes that were signed, so a verifier checks
 * the signature over exactly those, never over a re-encoding. Every decoder
 * throws CodecError on bad input: a frame too large, a repeated field past its
 * limit (protons' `limits`), a field of the wrong length or out of range.
 */
/** 2: protobuf; 1 was the fixed binary layout before it */
export const DESCRIPTOR_VERSION = 2
export const KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
/** Largest signed descriptor taken from the topic or the DHT */
export const MAX_SIGNED_DESCRIPTOR_BYTES = 8192
export const MAX_ROLES = 16
export const MAX_ROLE_CHARS = 64
/** A descriptor names at most this many addresses; the encoder keeps the first ones */
export const MAX_ADDRS = 16
export const MAX_ADDR_BYTES = 512

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

function u64 (v: number): bigint {
  return BigInt(Math.max(0, Math.floor(v)))
}

function safe (v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CodecError(`${what} out of range`)
  }
  return Number(v)
}

function length (b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) {
    throw new CodecError(`${what} is ${n} bytes, not ${b.length}`)
  }
}

function checkRoles (roles: string[]): void {
  if (roles.length > MAX_ROLES) {
    throw new CodecError(`A descriptor has at most ${MAX_ROLES} roles`)
  }
  if (roles.some(r => r.length > MAX_ROLE_CHARS)) {
    throw new CodecError(`A role is at most ${MAX_ROLE_CHARS} characters`)
  }
}

export function encodeDescriptorWire (d: DescriptorWire): Uint8Array {
  length(d.peerKey, KEY_BYTES, 'The peer key')
  length(d.onionKey, KEY_BYTES, 'The onion key')
  checkRoles(d.roles)
  const addrs = d.addrs.slice(0, MAX_ADDRS)
  if (addrs.some(a => a.length > MAX_ADDR_BYTES)) {
    throw new CodecError(`An address is at most ${MAX_ADDR_BYTES} bytes`)
  }
  return Descriptor.encode({
    version: DESCRIPTOR_VERSION,
    peerKey: d.peerKey,
    onionKey: d.onionKey,
    epoch: u64(d.epoch),
    notBefore: u64(d.notBefore),
    notAfter: u64(d.notAfter),
    roles: d.roles,
    load: d.load >>> 0,
    addrs
  })
}

export function decodeDescriptorWire (bytes: Uint8Array): DescriptorWire {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_SIGNED_DESCRIPTOR_BYTES) {
    throw new CodecError(`A descriptor is at most ${MAX_SIGNED_DESCRIPTOR_BYTES} bytes`)
  }
  let d: Descriptor
  try {
    d = Descriptor.decode(bytes, { limits: { roles: MAX_ROLES, addrs: MAX_ADDRS } })
  } catch (err: any) {
    throw new CodecError(`Malformed descriptor: ${err?.message ?? err}`)
  }
  if (d.version !== DESCRIPTOR_VERSION) {
    throw new CodecError(`Unknown descriptor version ${d.version} (this build reads ${DESCRIPTOR_VERSION})`)
  }
  length(d.peerKey, KEY_BYTES, 'The peer key')
  length(d.onionKey, KEY_BYTES, 'The onion key')
  checkRoles(d.roles)
  if (d.addrs.some(a => a.length > MAX_ADDR_BYTES)) {
    throw new CodecError(`An address is at most ${MAX_ADDR_BYTES} bytes`)
  }
  // copies: the keys outlive the message they came in
  return {
    peerKey: d.peerKey.slice(),
    onionKey: d.onionKey.slice(),
    epoch: safe(d.epoch, 'The epoch'),
    notBefore: safe(d.notBefore, 'not-before'),
    notAfter: safe(d.notAfter, 'not-after'),
    roles: d.roles,
    load: d.load,
    addrs: d.addrs
  }
}

export function encodeSigned (descriptor: Uint8Array, signature: Uint8Array): Uint8Array {
  return SignedDescriptor.encode({ descriptor, signature })
}

/** The signed frame: `descriptor` is a view of the received bytes, exactly what the signature covers */
export function decodeSigned (bytes: Uint8Array): { descriptor: Uint8Array, signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_SIGNED_DESCRIPTOR_BYTES) {
    throw new CodecError(`A signed descriptor is at most ${MAX_SIGNED_DESCRIPTOR_BYTES} bytes`)
  }
  let signed: SignedDescriptor
  try {
    signed = SignedDescriptor.decode(bytes)
  } catch (err: any) {
    throw new CodecError(`Malformed signed descriptor: ${err?.message ?? err}`)
  }
  if (signed.descriptor.length === 0) {
    throw new CodecError('A signed descriptor without a descriptor')
  }
  length(signed.signature, SIGNATURE_BYTES, 'The signature')
  return { descriptor: signed.descriptor, signature: signed.signature }
}
