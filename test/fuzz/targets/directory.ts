import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeDescriptorWire, decodeSigned } from '../../../src/directory/codec.ts'
import { BadDescriptorSignatureError, CodecError, descriptorKey, descriptorValidator, ExpiredDescriptorError, InvalidDescriptorError, signDescriptor, verifyDescriptor } from '../../../src/directory/index.ts'
import { decoderTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'
import type { PeerId } from '@libp2p/interface'

const DESCRIPTOR_ERRORS = [InvalidDescriptorError, BadDescriptorSignatureError, ExpiredDescriptorError]

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
