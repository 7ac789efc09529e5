import {
  bundleKey, ContactCardError, decodeBody, decodeBundle, decodeCard, decodeEnvelope, decodeHeader, DecryptionError, DeliveryError,
  encodeBody, encodeCard, encodeHeader, EnvelopeFormatError, MessageFormatError, PrekeyBundleError, signBundle, validateBundleRecord, WireError
} from '../../../src/contacts/index.ts'
import { encodeEnvelope } from '../../../src/contacts/messages.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/contacts/transport.ts'
import { encodePublicIdentity, MessagingIdentity, open, seal, SealedBoxError } from '../../../src/identity/index.ts'
import { decoderTarget, textDecoderTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'

const PEER = '12D3KooWGRUVh2upP8UdHhqLu5B6nz1cpcvRxWGJdmBJ3QmpKZ9a'

export function contactTargets (): FuzzTarget[] {
  const alice = MessagingIdentity.generate()
  const card = encodeCard({ identity: alice.publicIdentity, mailbox: new Uint8Array(32).fill(7), peers: [PEER] })
  const envelopes = (): Uint8Array[] => [
    encodeEnvelope({ sender: encodePublicIdentity(alice.publicIdentity), header: new Uint8Array(40), ciphertext: new Uint8Array(20), init: { identity: alice.publicIdentity, ephemeral: new Uint8Array(32).fill(9), signedPrekeyId: 1, oneTimePrekeyId: 2 } }, encodePublicIdentity),
    encodeEnvelope({ sender: encodePublicIdentity(alice.publicIdentity), header: new Uint8Array(40), ciphertext: new Uint8Array(60).fill(1) }, encodePublicIdentity)
  ]
  const bundles = (): Uint8Array[] => [
    signBundle(alice, { signedPrekeyId: 1, signedPrekey: new Uint8Array(32).fill(1), oneTimePrekeys: [{ id: 2, key: new Uint8Array(32).fill(2) }, { id: 3, key: new Uint8Array(32).fill(3) }], peers: [PEER], sequence: 5 }),
    signBundle(alice, { signedPrekeyId: 4, signedPrekey: new Uint8Array(32).fill(4), oneTimePrekeys: [], peers: [], sequence: 6 })
  ]
  return [
    textDecoderTarget('contacts: contact card (decodeCard)', decodeCard, {
      expected: [ContactCardError],
      samples: () => [card, `  ${card}\n`],
      maxLength: 400
    }),
    decoderTarget('contacts: direct message body (decodeBody)', decodeBody, {
      expected: [MessageFormatError],
      samples: () => [
        encodeBody({ type: 'MESSAGE', id: 'ab'.repeat(16), timestamp: 1_700_000_000_000, content: 'héllo ✓', replyTo: 'cd'.repeat(8), receipts: [], mailbox: new Uint8Array(32).fill(3), card }),
        encodeBody({ type: 'EDIT', id: 'ab'.repeat(16), timestamp: 1, content: 'x', target: 'cd'.repeat(16), receipts: [] }),
        encodeBody({ type: 'RECEIPT', id: '', timestamp: 1, content: '', receipts: ['aa', 'bb'] })
      ],
      maxLength: 1024
    }),
    decoderTarget('contacts: direct envelope (decodeEnvelope)', decodeEnvelope, {
      expected: [EnvelopeFormatError],
      samples: envelopes,
      maxLength: 1024
    }),
    // what a recipient does with a sealed direct message: open the box, decode the envelope inside
    decoderTarget('contacts: sealed direct envelope (open, decodeEnvelope)', bytes => decodeEnvelope(open(alice, bytes)), {
      expected: [SealedBoxError, EnvelopeFormatError],
      samples: () => envelopes().map(e => seal(alice.publicIdentity.dhKey, e)),
      maxLength: 1024
    }),
    decoderTarget('contacts: ratchet header (decodeHeader)', decodeHeader, {
      expected: [DecryptionError],
      samples: () => [encodeHeader({ dh: new Uint8Array(32).fill(5), pn: 3, n: 7 })],
      maxLength: 128
    }),
    decoderTarget('contacts: prekey bundle (decodeBundle)', decodeBundle, {
      expected: [PrekeyBundleError],
      samples: bundles,
      maxLength: 1024
    }),
    decoderTarget('contacts: prekey bundle DHT record (validateBundleRecord)', async bytes => { await validateBundleRecord(bundleKey(alice.publicIdentity.signingKey), bytes) }, {
      expected: [PrekeyBundleError],
      samples: bundles,
      maxLength: 1024
    }),
    decoderTarget('contacts: live-protocol request (decodeRequest)', decodeRequest, {
      expected: [DeliveryError, WireError],
      samples: () => [encodeRequest({ sealed: new Uint8Array(10).fill(1) }), encodeRequest({ bundleFor: new Uint8Array(32).fill(2) })],
      maxLength: 512
    }),
    decoderTarget('contacts: live-protocol response (decodeResponse)', decodeResponse, {
      expected: [WireError],
      samples: () => [encodeResponse({ ok: false, error: 'x', bundle: new Uint8Array(3) }), encodeResponse({ ok: true, bundle: bundles()[0] })],
      maxLength: 1024
    })
  ]
}
