import { Body, completeBody, DecryptError, decodeBody, decodeEnvelope, openPayload, sealBody } from '../../../src/groups/codec.ts'
import { encodeInvite, InvalidInviteError, MalformedEnvelopeError, parseInvite } from '../../../src/groups/index.ts'
import { MessagingIdentity } from '../../../src/identity/index.ts'
import { decoderTarget, textDecoderTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'

const GROUP_ID = 'ab'.repeat(32)
const EPOCH_KEY = new Uint8Array(32).fill(9)

/** One body of each shape the decoder checks field by field */
function bodies (): Body[] {
  const id = 'cd'.repeat(16)
  const member = new Uint8Array(64).fill(4)
  return [
    completeBody({ type: Body.Type.MESSAGE, channel: 'general', content: 'hello', replyTo: id, attachments: [{ name: 'a.txt', type: 'text/plain', size: 3n, hash: new Uint8Array(32).fill(1) }] }),
    completeBody({ type: Body.Type.EDIT, channel: 'general', target: id, content: 'edited' }),
    completeBody({ type: Body.Type.REACT, channel: 'general', target: id, content: '+1' }),
    completeBody({ type: Body.Type.JOIN, content: 'bob' }),
    completeBody({ type: Body.Type.ROSTER, members: [{ identity: member, name: 'alice', admin: true }] }),
    completeBody({ type: Body.Type.REKEY, newEpoch: 2n, keys: [{ member: 'ef'.repeat(16), box: new Uint8Array(80).fill(2) }], removed: ['ef'.repeat(16)] })
  ]
}

export function groupTargets (): FuzzTarget[] {
  const alice = MessagingIdentity.generate()
  const sealed = (): Uint8Array[] => bodies().map(b => sealBody(alice, GROUP_ID, 1, EPOCH_KEY, b))
  return [
    decoderTarget('groups: envelope (decodeEnvelope)', decodeEnvelope, {
      expected: [MalformedEnvelopeError],
      samples: sealed,
      maxLength: 2048
    }),
    decoderTarget('groups: envelope opened with the epoch key (openPayload)', bytes => openPayload(decodeEnvelope(bytes), EPOCH_KEY, GROUP_ID), {
      expected: [MalformedEnvelopeError, DecryptError],
      samples: sealed,
      maxLength: 2048
    }),
    decoderTarget('groups: body (decodeBody)', decodeBody, {
      expected: [MalformedEnvelopeError],
      samples: () => bodies().map(b => Body.encode(b)),
      maxLength: 1024
    }),
    textDecoderTarget('groups: invite code (parseInvite)', parseInvite, {
      expected: [InvalidInviteError],
      samples: () => [encodeInvite({ groupId: GROUP_ID, name: 'ops', epoch: 3, epochKey: EPOCH_KEY, admin: alice.publicIdentity, adminName: 'alice' })],
      maxLength: 400
    })
  ]
}
