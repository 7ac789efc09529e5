/**
 * The envelope codec: bytes on a group topic to a checked `Envelope`, and an
 * opened payload to a checked `Body`. Every limit is checked here, before any
 * field is used; a failure is a `MalformedEnvelopeError` saying why.
 */

import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { decodePublicIdentity, encodePublicIdentity } from '../identity/index.ts'
import { decryptPayload, encryptPayload, NONCE_BYTES, signBody, TAG_BYTES } from './crypto.ts'
import { Body, Envelope, SignedPayload } from './envelope.ts'
import { MalformedEnvelopeError } from './errors.ts'
import type { MessagingIdentity, PublicIdentity } from '../identity/index.ts'

export { Body }
export const ENVELOPE_VERSION = 1
/** Default size limit of an envelope on the wire (the 64 KiB) */
export const DEFAULT_MAX_ENVELOPE_BYTES = 64 * 1024
export const MESSAGE_ID_PATTERN = /^[0-9a-f]{32}$/
export const MAX_CHANNEL_CHARS = 64
export const MAX_REACTION_CHARS = 64
export const MAX_NAME_CHARS = 128
export const MAX_ATTACHMENTS = 32
/** Members in one roster or rekey */
export const MAX_MEMBERS = 1024

const BODY_LIMITS = {
  limits: { attachments: MAX_ATTACHMENTS, keys: MAX_MEMBERS, removed: MAX_MEMBERS, members: MAX_MEMBERS }
}

export interface WireEnvelope {
  version: number
  epoch: number
  nonce: Uint8Array
  ciphertext: Uint8Array
}

/** An envelope opened and checked: who signed which body */
export interface OpenedEnvelope {
  envelope: WireEnvelope
  sender: PublicIdentity
  body: Body
}

export function encodeEnvelope (env: WireEnvelope): Uint8Array {
  return Envelope.encode({ version: env.version, epoch: BigInt(env.epoch), nonce: env.nonce, ciphertext: env.ciphertext })
}

/** Checks size and shape of the outer envelope (no key needed) */
export function decodeEnvelope (bytes: Uint8Array, maxBytes = DEFAULT_MAX_ENVELOPE_BYTES): WireEnvelope {
  if (!(bytes instanceof Uint8Array)) {
    throw new MalformedEnvelopeError('An envelope is bytes')
  }
  if (bytes.length > maxBytes) {
    throw new MalformedEnvelopeError(`The envelope is ${bytes.length} bytes, over the ${maxBytes}-byte limit`)
  }
  let env: Envelope
  try {
    env = Envelope.decode(bytes)
  } catch (err: any) {
    throw new MalformedEnvelopeError(`The envelope does not decode: ${err.message}`)
  }
  if (env.version !== ENVELOPE_VERSION) {
    throw new MalformedEnvelopeError(`Unknown envelope version ${env.version} (this build reads ${ENVELOPE_VERSION})`)
  }
  if (env.epoch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedEnvelopeError('The epoch is out of range')
  }
  if (env.nonce.length !== NONCE_BYTES) {
    throw new MalformedEnvelopeError(`The nonce is ${NONCE_BYTES} bytes`)
  }
  if (env.ciphertext.length <= TAG_BYTES) {
    throw new MalformedEnvelopeError('The ciphertext is too short')
  }
  return { version: env.version, epoch: Number(env.epoch), nonce: env.nonce, ciphertext: env.ciphertext }
}

/** Builds the plaintext of an envelope: the body, signed by the author, with the author's public identity */
export function sealBody (identity: MessagingIdentity, groupId: string, epoch: number, epochKey: Uint8Array, body: Body): Uint8Array {
  const bodyBytes = Body.encode(body)
  const payload = SignedPayload.encode({
    sender: encodePublicIdentity(identity.publicIdentity),
    signature: signBody(identity, groupId, epoch, bodyBytes),
    body: bodyBytes
  })
  const { nonce, ciphertext } = encryptPayload(epochKey, groupId, ENVELOPE_VERSION, epoch, payload)
  return encodeEnvelope({ version: ENVELOPE_VERSION, epoch, nonce, ciphertext })
}

/** Decrypts with the epoch key; throws `DecryptError` on a wrong key or an altered ciphertext */
export function openPayload (env: WireEnvelope, epochKey: Uint8Array, groupId: string): { sender: PublicIdentity, signature: Uint8Array, bodyBytes: Uint8Array } {
  let plaintext: Uint8Array
  try {
    plaintext = decryptPayload(epochKey, groupId, env.version, env.epoch, env.nonce, env.ciphertext)
  } catch {
    throw new DecryptError()
  }
  let payload: SignedPayload
  try {
    payload = SignedPayload.decode(plaintext)
  } catch (err: any) {
    throw new MalformedEnvelopeError(`The payload does not decode: ${err.message}`)
  }
  const sender = senderIdentity(payload.sender)
  if (payload.signature.length !== 64) {
    throw new MalformedEnvelopeError('The signature is 64 bytes')
  }
  return { sender, signature: payload.signature, bodyBytes: payload.body }
}

/** Decoded public identities: decoding checks the Ed25519 point (a square root), once per member rather than per envelope */
const identities = new Map<string, PublicIdentity>()
const MAX_IDENTITIES = 4096

function senderIdentity (bytes: Uint8Array): PublicIdentity {
  const id = bytesToHex(bytes)
  let pub = identities.get(id)
  if (pub == null) {
    try {
      pub = decodePublicIdentity(bytes)
    } catch (err: any) {
      throw new MalformedEnvelopeError(`The sender is not a public identity: ${err.message}`)
    }
    if (identities.size >= MAX_IDENTITIES) {
      identities.clear()
    }
    identities.set(id, pub)
  }
  return pub
}

/** The AEAD failed: not this key, or the bytes were altered */
export class DecryptError extends Error {
  static name = 'DecryptError'

  constructor (message = 'The envelope failed authentication') {
    super(message)
    this.name = 'DecryptError'
  }
}

function check (ok: boolean, what: string): void {
  if (!ok) {
    throw new MalformedEnvelopeError(what)
  }
}

function isId (s: string | undefined): boolean {
  return s != null && MESSAGE_ID_PATTERN.test(s)
}

/** Decodes a body and checks every field its type uses */
export function decodeBody (bytes: Uint8Array): Body {
  let body: Body
  try {
    body = Body.decode(bytes, BODY_LIMITS)
  } catch (err: any) {
    throw new MalformedEnvelopeError(`The body does not decode: ${err.message}`)
  }
  check(Object.values(Body.Type).includes(body.type), 'Unknown body type')
  check(isId(body.id), 'The message id is 16 bytes of hex')
  check(body.timestamp > 0n && body.timestamp <= BigInt(Number.MAX_SAFE_INTEGER), 'The timestamp is out of range')
  check(body.channel.length <= MAX_CHANNEL_CHARS, 'The channel name is too long')
  check(body.replyTo == null || isId(body.replyTo), 'reply-to is a message id')
  switch (body.type) {
    case Body.Type.MESSAGE:
      check(body.channel.length > 0, 'A message names its channel')
      for (const a of body.attachments) {
        check(a.name.length <= 256 && a.type.length <= 128, 'An attachment name or type is too long')
        check(a.hash.length === 32, 'An attachment hash is 32 bytes')
        check(a.size <= BigInt(Number.MAX_SAFE_INTEGER), 'An attachment size is out of range')
      }
      break
    case Body.Type.EDIT:
    case Body.Type.DELETE:
      check(isId(body.target), 'An edit or delete names its message')
      break
    case Body.Type.REACT:
      check(isId(body.target), 'A reaction names its message')
      check(body.content.length > 0 && body.content.length <= MAX_REACTION_CHARS, 'A reaction is 1 to 64 characters')
      break
    case Body.Type.JOIN:
    case Body.Type.LEAVE:
      check(body.content.length <= MAX_NAME_CHARS, 'The display name is too long')
      break
    case Body.Type.ROSTER:
      check(body.members.length > 0, 'A roster lists members')
      break
    case Body.Type.REKEY:
      check(body.newEpoch > 0n && body.newEpoch <= BigInt(Number.MAX_SAFE_INTEGER), 'The new epoch is out of range')
      check(body.keys.length > 0, 'A rekey carries keys')
      break
    default:
      throw new MalformedEnvelopeError('Unknown body type')
  }
  for (const m of body.members) {
    check(m.identity.length === 64 && m.name.length <= MAX_NAME_CHARS, 'A roster member is malformed')
  }
  for (const k of body.keys) {
    check(k.member.length <= 64 && k.box.length <= 256, 'A sealed key is malformed')
  }
  return body
}

/** A body with every field set: a fresh id and the current time unless given */
export function completeBody (partial: Partial<Body>): Body {
  return {
    type: Body.Type.MESSAGE,
    channel: '',
    content: '',
    attachments: [],
    newEpoch: 0n,
    keys: [],
    removed: [],
    members: [],
    ...partial,
    id: partial.id ?? bytesToHex(randomBytes(16)),
    timestamp: partial.timestamp ?? BigInt(Date.now())
  }
}
