import { sha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { toString } from 'uint8arrays'
import { ContactCard, DirectBody, DirectEnvelope, DirectRequest, DirectResponse, PrekeyBundle, SignedPrekeyBundle } from '../../../src/contacts/direct.ts'
import {
  bundleKey, ContactCardError, decodeBody, decodeBundle, decodeCard, decodeEnvelope, decodeHeader, DecryptionError, DeliveryError,
  encodeBody, encodeCard, encodeHeader, EnvelopeFormatError, MessageFormatError, PrekeyBundleError, signBundle, validateBundleRecord, WireError
} from '../../../src/contacts/index.ts'
import { encodeEnvelope, MAX_ENVELOPE_BYTES } from '../../../src/contacts/messages.ts'
import { MAX_BUNDLE_BYTES } from '../../../src/contacts/prekeys.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/contacts/transport.ts'
import { encodePublicIdentity, MessagingIdentity, open, seal, SealedBoxError } from '../../../src/identity/index.ts'
import { varint } from '../../fixtures/wire.ts'
import { decoderTarget, expectOnly, mostly, protobufTarget, textDecoderTarget } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'

const PEER = '12D3KooWGRUVh2upP8UdHhqLu5B6nz1cpcvRxWGJdmBJ3QmpKZ9a'

/*
 * Well-formed protobuf messages with arbitrary field values: byte fields
 * around their right length and far from it, counts past the limits, unsafe
 * integers, unknown enum values, text with lone surrogates. Random bytes
 * rarely get past the protobuf parser; these reach the checks after it.
 */
const bytesNear = (n: number): fc.Arbitrary<Uint8Array> => mostly(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ maxLength: n + 2 }), fc.uint8Array({ maxLength: 300 }))
const u64 = mostly(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.constantFrom(2n ** 53n, 2n ** 64n - 1n))
const hex = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength })
/** Text, mostly within `maxLength`; now and then longer, with lone surrogates (`binary`), or of any characters */
const text = (maxLength: number): fc.Arbitrary<string> => mostly(fc.string({ maxLength }), fc.string({ unit: 'binary', maxLength }), fc.string({ maxLength: maxLength * 2 + 8 }))
/** Message ids: mostly lowercase hex of the right length */
const ids = mostly(hex(64), hex(70), text(70))
const identityBytes = (id: MessagingIdentity): fc.Arbitrary<Uint8Array> => mostly(fc.constant(encodePublicIdentity(id.publicIdentity)), bytesNear(64))

/** A card string around given card bytes: the checksum right, so the bytes are what gets decoded */
function cardText (body: Uint8Array): string {
  const out = new Uint8Array(body.length + 4)
  out.set(body)
  out.set(sha256(body).subarray(0, 4), body.length)
  return 'murmur:' + toString(out, 'base58btc')
}

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
  const init = fc.record({ identity: identityBytes(alice), ephemeral: bytesNear(32), signedPrekeyId: fc.nat(), oneTimePrekeyId: fc.option(fc.nat(), { nil: undefined }) })
  const envelopeFields = fc.record({
    version: mostly(fc.constant(2), fc.nat()),
    sender: identityBytes(alice),
    init: fc.option(init, { nil: undefined }),
    header: bytesNear(40),
    ciphertext: mostly(fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.uint8Array({ maxLength: 15 }))
  })
  const bodyFields = fc.record({
    type: fc.constantFrom('MESSAGE', 'EDIT', 'DELETE', 'REACT', 'RECEIPT', 'INVITE'),
    id: ids,
    timestamp: u64,
    content: text(100),
    target: fc.option(ids, { nil: undefined, freq: 2 }),
    replyTo: fc.option(ids, { nil: undefined }),
    receipts: mostly(fc.array(hex(64), { maxLength: 4 }), fc.array(ids, { minLength: 250, maxLength: 260 })),
    card: fc.option(mostly(fc.constant(card), text(100)), { nil: undefined }),
    mailbox: fc.option(bytesNear(32), { nil: undefined })
  })
  const peers = (max: number): fc.Arbitrary<string[]> => mostly(fc.array(fc.constant(PEER), { maxLength: max }), fc.array(mostly(fc.constant(PEER), text(140)), { maxLength: max + 2 }))
  const bundleFields = fc.record({
    version: mostly(fc.constant(2), fc.nat()),
    identity: identityBytes(alice),
    signedPrekeyId: fc.nat(),
    signedPrekey: bytesNear(32),
    oneTimePrekeys: mostly(fc.array(fc.record({ id: fc.nat(), key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }), { maxLength: 5 }), fc.array(fc.record({ id: fc.nat(), key: bytesNear(32) }), { maxLength: 105 })),
    peers: peers(8),
    sequence: u64
  })
  const cardFields = fc.record({ version: mostly(fc.constant(2), fc.nat()), identity: identityBytes(alice), mailbox: bytesNear(32), peers: peers(8) })
  return [
    protobufTarget('contacts: direct envelope protobuf fields (decodeEnvelope)', decodeEnvelope, envelopeFields, DirectEnvelope.encode, { expected: [EnvelopeFormatError] }),
    // an unknown enum number cannot be built through the encoder: a second type field after the message does it (the last value wins)
    protobufTarget('contacts: direct message body protobuf fields (decodeBody)', decodeBody,
      fc.tuple(bodyFields, fc.option(fc.nat({ max: 300 }), { nil: undefined })),
      ([fields, type]) => Uint8Array.from([...DirectBody.encode(fields), ...(type == null ? [] : [0x08, ...varint(type)])]),
      { expected: [MessageFormatError] }),
    // signed by alice over whatever the fields encode to, so the checks after the signature's are reached too
    protobufTarget('contacts: prekey bundle protobuf fields (decodeBundle)', decodeBundle,
      fc.tuple(bundleFields, fc.boolean()),
      ([fields, sign]) => {
        const bundle = PrekeyBundle.encode(fields)
        const domain = new TextEncoder().encode('murmur/prekey-bundle/v2')
        return SignedPrekeyBundle.encode({ bundle, signature: sign ? alice.sign(Uint8Array.from([...domain, ...bundle])) : new Uint8Array(64) })
      },
      { expected: [PrekeyBundleError] }),
    {
      name: 'contacts: contact card protobuf fields (decodeCard)',
      arbitrary: cardFields.map(f => cardText(ContactCard.encode(f))),
      check: async (cardString: string) => { await expectOnly(() => decodeCard(cardString), [ContactCardError], 'decodeCard') }
    },
    protobufTarget('contacts: live-protocol request protobuf fields (decodeRequest)', decodeRequest,
      fc.record({ sealed: fc.option(mostly(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(MAX_ENVELOPE_BYTES + 1))), { nil: undefined }), bundleFor: fc.option(bytesNear(32), { nil: undefined }) }), DirectRequest.encode,
      { expected: [DeliveryError, WireError] }),
    protobufTarget('contacts: live-protocol response protobuf fields (decodeResponse)', decodeResponse,
      fc.record({
        ok: fc.boolean(),
        error: fc.option(mostly(text(200), fc.string({ minLength: 250, maxLength: 400 })), { nil: undefined }),
        bundle: fc.option(mostly(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(MAX_BUNDLE_BYTES + 1))), { nil: undefined })
      }), DirectResponse.encode,
      { expected: [WireError] }),
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
