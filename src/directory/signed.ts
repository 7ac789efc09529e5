import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeDescriptorWire, decodeSigned, encodeDescriptorWire, encodeSigned } from './codec.ts'
import { BadDescriptorSignatureError, ExpiredDescriptorError, InvalidDescriptorError } from './errors.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Domain separation: a descriptor signature can never be taken for any other
 * signature by the peer key (2: the protobuf descriptor; 1 signed the binary layout before it)
 */
const SIGNING_CONTEXT = new TextEncoder().encode('murmur/relay-descriptor/2')

/** How far in the future a not-before may lie (clock skew between relays) */
export const CLOCK_SKEW_MS = 60_000

/** A relay descriptor whose signature and validity period have been checked */
export interface RelayDescriptor {
  peerId: PeerId
  /** Raw Ed25519 key of the peer id: the address in Sphinx routing blocks */
  peerKey: Uint8Array
  onionKey: Uint8Array
  epoch: number
  notBefore: number
  notAfter: number
  roles: string[]
  load: number
  addrs: Multiaddr[]
  /** The signed bytes as received, to pass on unchanged */
  bytes: Uint8Array
}

export interface DescriptorFields {
  onionKey: Uint8Array
  epoch: number
  notBefore: number
  notAfter: number
  roles: string[]
  load: number
  addrs: Multiaddr[]
}

function signedBytes (descriptor: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNING_CONTEXT.length + descriptor.length)
  out.set(SIGNING_CONTEXT, 0)
  out.set(descriptor, SIGNING_CONTEXT.length)
  return out
}

/** Signs a descriptor with the relay's peer key (Ed25519 only: the address field holds its raw key) */
export async function signDescriptor (privateKey: PrivateKey, fields: DescriptorFields): Promise<Uint8Array> {
  if (privateKey.type !== 'Ed25519') {
    throw new InvalidDescriptorError('Relay descriptors need an Ed25519 peer key')
  }
  const descriptor = encodeDescriptorWire({
    peerKey: privateKey.publicKey.raw,
    onionKey: fields.onionKey,
    epoch: fields.epoch,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    roles: fields.roles,
    load: Math.max(0, Math.min(0xffffffff, Math.round(fields.load))),
    addrs: fields.addrs.map(a => a.bytes)
  })
  const signature = await privateKey.sign(signedBytes(descriptor))
  return encodeSigned(descriptor, signature)
}

/**
 * Decodes and verifies a signed descriptor: a clear error for bytes that are
 * not one, a bad signature, or a validity period that does not cover `now`.
 */
export async function verifyDescriptor (bytes: Uint8Array, now = Date.now()): Promise<RelayDescriptor> {
  let signed, d
  try {
    signed = decodeSigned(bytes)
    d = decodeDescriptorWire(signed.descriptor)
  } catch (err: any) {
    throw new InvalidDescriptorError(`Not a relay descriptor: ${err.message}`)
  }
  if (d.peerKey.length !== 32 || d.onionKey.length !== 32) {
    throw new InvalidDescriptorError('A descriptor needs a 32-byte Ed25519 peer key and a 32-byte onion key')
  }
  let publicKey
  try {
    publicKey = publicKeyFromRaw(d.peerKey)
  } catch (err: any) {
    throw new InvalidDescriptorError(`Bad peer key: ${err.message}`)
  }
  if (!(await publicKey.verify(signedBytes(signed.descriptor), signed.signature))) {
    throw new BadDescriptorSignatureError()
  }
  const { notBefore, notAfter } = d
  if (notAfter <= now || notBefore > now + CLOCK_SKEW_MS) {
    throw new ExpiredDescriptorError()
  }
  const addrs: Multiaddr[] = []
  for (const a of d.addrs) {
    try {
      addrs.push(multiaddr(a))
    } catch {
      // an address this node cannot parse is not a reason to refuse the relay
    }
  }
  return {
    peerId: peerIdFromPublicKey(publicKey),
    peerKey: d.peerKey,
    onionKey: d.onionKey,
    epoch: d.epoch,
    notBefore,
    notAfter,
    roles: d.roles,
    load: d.load,
    addrs,
    bytes
  }
}
