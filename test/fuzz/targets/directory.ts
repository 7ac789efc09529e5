import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { decodeDescriptorWire, decodeSigned } from '../../../src/directory/codec.ts'
import { Descriptor, SignedDescriptor } from '../../../src/directory/descriptor.ts'
import { BadDescriptorSignatureError, CodecError, descriptorKey, descriptorValidator, ExpiredDescriptorError, InvalidDescriptorError, signDescriptor, verifyDescriptor } from '../../../src/directory/index.ts'
import { decoderTarget, mostly, protobufTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'
import type { PeerId } from '@libp2p/interface'

const DESCRIPTOR_ERRORS = [InvalidDescriptorError, BadDescriptorSignatureError, ExpiredDescriptorError]

/** Byte fields around their right length (32 keys, 64 signatures), and some far from it */
const bytesNear = (n: number): fc.Arbitrary<Uint8Array> => mostly(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ maxLength: n + 2 }), fc.uint8Array({ maxLength: 600 }))
const u64 = mostly(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.constantFrom(2n ** 53n, 2n ** 64n - 1n))

/** Well-formed descriptor messages with any field values: counts past the limits, bad lengths, unsafe integers */
const descriptorFields: fc.Arbitrary<Descriptor> = fc.record({
  version: mostly(fc.constant(2), fc.nat()),
  peerKey: bytesNear(32),
  onionKey: bytesNear(32),
  epoch: u64,
  notBefore: u64,
  notAfter: u64,
  roles: mostly(fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), fc.array(fc.string({ maxLength: 70 }), { maxLength: 20 })),
  load: fc.nat(),
  addrs: fc.array(mostly(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 500, maxLength: 600 })), { maxLength: 20 })
})

export function directoryTargets (): FuzzTarget[] {
  // signing is async: made once, in the first target's setup, and shared
  let signed: Uint8Array[] = []
  let peerId: PeerId | undefined
  const setup = async (): Promise<void> => {
    if (signed.length > 0) {
      return
    }
    const key = await generateKeyPair('Ed25519')
    peerId = peerIdFromPrivateKey(key)
    const now = Date.now()
    const fields = { onionKey: new Uint8Array(32).fill(9), epoch: 7, notBefore: now, notAfter: now + 3_600_000, roles: ['relay', 'store'], load: 3 }
    signed = [
      await signDescriptor(key, { ...fields, addrs: [multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip4/127.0.0.1/udp/4001/webrtc-direct')] }),
      await signDescriptor(key, { ...fields, roles: [], addrs: [] })
    ]
  }
  return [
    decoderTarget('directory: signed descriptor frame (decodeSigned)', decodeSigned, {
      expected: [CodecError],
      setup,
      samples: () => signed,
      maxLength: 1024
    }),
    decoderTarget('directory: descriptor fields (decodeDescriptorWire)', decodeDescriptorWire, {
      expected: [CodecError],
      setup,
      samples: () => signed.map(s => decodeSigned(s).descriptor),
      maxLength: 1024
    }),
    protobufTarget('directory: descriptor protobuf fields (decodeDescriptorWire)', decodeDescriptorWire, descriptorFields, Descriptor.encode, {
      expected: [CodecError]
    }),
    // the descriptor signed by nobody: decodes or not, and then never verifies
    protobufTarget('directory: relay descriptor from protobuf fields (verifyDescriptor)', verifyDescriptor,
      fc.record({ descriptor: descriptorFields.map(Descriptor.encode), signature: bytesNear(64) }), SignedDescriptor.encode, {
        expected: DESCRIPTOR_ERRORS
      }),
    decoderTarget('directory: relay descriptor on the topic (verifyDescriptor)', verifyDescriptor, {
      expected: DESCRIPTOR_ERRORS,
      setup,
      samples: () => signed,
      maxLength: 1024
    }),
    decoderTarget('directory: DHT record (descriptorValidator)', async bytes => { await descriptorValidator(descriptorKey(peerId as PeerId), bytes) }, {
      expected: DESCRIPTOR_ERRORS,
      setup,
      samples: () => signed,
      maxLength: 1024
    })
  ]
}
