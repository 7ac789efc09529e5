import { decodePublicIdentity, IdentityFormatError, MessagingIdentity, open, seal, SealedBoxError } from '../../../src/identity/index.ts'
import { decoderTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'

export function identityTargets (): FuzzTarget[] {
  const alice = MessagingIdentity.generate()
  return [
    decoderTarget('identity: public identity (64 bytes)', decodePublicIdentity, {
      expected: [IdentityFormatError],
      samples: () => [Uint8Array.from([...alice.publicIdentity.signingKey, ...alice.publicIdentity.dhKey])],
      maxLength: 128
    }),
    decoderTarget('identity: exported secret (import)', MessagingIdentity.import, {
      expected: [IdentityFormatError],
      samples: () => [alice.export()],
      maxLength: 128
    }),
    decoderTarget('identity: sealed box (open)', bytes => open(alice, bytes), {
      expected: [SealedBoxError],
      samples: () => [seal(alice.publicIdentity.dhKey, new TextEncoder().encode('hello'))],
      maxLength: 512
    })
  ]
}
