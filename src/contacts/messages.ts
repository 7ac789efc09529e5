import { decodePublicIdentity, PUBLIC_IDENTITY_BYTES } from '../identity/index.ts'
import { DirectBody, DirectEnvelope } from './direct.ts'
import { EnvelopeFormatError, MessageFormatError } from './errors.ts'
import { DH_BYTES, HEADER_BYTES, TAG_BYTES } from './ratchet.ts'
import { checkText, safeInteger, utf8Length } from './wire.ts'
import type { X3dhInit } from './x3dh.ts'
import type { PublicIdentity } from '../identity/index.ts'

/** Wire version of the envelope (2: protobuf, direct.proto; 1 was the fixed binary layout before it) */
export const ENVELOPE_VERSION = 2
/** Largest sealed envelope accepted from a transport */
export const MAX_ENVELOPE_BYTES = 128 * 1024
/** Largest message text, in UTF-16 units */
export const MAX_CONTENT_CHARS = 32 * 1024
const MAX_ID_CHARS = 64
const MAX_RECEIPTS = 255
/** Largest contact card a body carries, in UTF-8 bytes */
const MAX_BODY_CARD_BYTES = 0xffff
const MAILBOX_BYTES = 32

/** INVITE carries a group invite code (groups' `invite()`), for the app to offer `join` */
export type DirectMessageType = 'MESSAGE' | 'EDIT' | 'DELETE' | 'REACT' | 'RECEIPT' | 'INVITE'

/** A ratchet message with what the responder needs for X3DH in a session's first messages */
export interface DecodedEnvelope {
  sender: PublicIdentity
  init?: X3dhInit
  header: Uint8Array
  ciphertext: Uint8Array
}

function bytesOf (b: Uint8Array, n: number, what: string, fail: (message: string) => Error): void {
  if (b.length !== n) {
    throw fail(`${what} is ${n} bytes, not ${b.length}`)
  }
}

const envelopeError = (message: string): Error => new EnvelopeFormatError(message)
const bodyError = (message: string): Error => new MessageFormatError(message)

export function encodeEnvelope (env: { sender: Uint8Array, init?: X3dhInit, header: Uint8Array, ciphertext: Uint8Array }, encodeIdentity: (p: PublicIdentity) => Uint8Array): Uint8Array {
  bytesOf(env.sender, PUBLIC_IDENTITY_BYTES, 'The sender', envelopeError)
  bytesOf(env.header, HEADER_BYTES, 'The ratchet header', envelopeError)
  let init: DirectEnvelope['init']
  if (env.init != null) {
    init = { identity: encodeIdentity(env.init.identity), ephemeral: env.init.ephemeral, signedPrekeyId: env.init.signedPrekeyId, oneTimePrekeyId: env.init.oneTimePrekeyId }
    bytesOf(init.identity, PUBLIC_IDENTITY_BYTES, 'The initiator identity', envelopeError)
    bytesOf(init.ephemeral, DH_BYTES, 'The ephemeral key', envelopeError)
  }
  return DirectEnvelope.encode({ version: ENVELOPE_VERSION, sender: env.sender, init, header: env.header, ciphertext: env.ciphertext })
}

/** Decodes an opened envelope; `EnvelopeFormatError` on anything malformed */
export function decodeEnvelope (bytes: Uint8Array): DecodedEnvelope {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENVELOPE_BYTES) {
    throw new EnvelopeFormatError(`An envelope is at most ${MAX_ENVELOPE_BYTES} bytes`)
  }
  let env: DirectEnvelope
  try {
    env = DirectEnvelope.decode(bytes)
  } catch (err: any) {
    throw new EnvelopeFormatError(`Malformed envelope: ${err?.message ?? err}`)
  }
  if (env.version !== ENVELOPE_VERSION) {
    throw new EnvelopeFormatError(`Envelope version ${env.version} is not supported (this build reads ${ENVELOPE_VERSION})`)
  }
  bytesOf(env.sender, PUBLIC_IDENTITY_BYTES, 'The sender', envelopeError)
  bytesOf(env.header, HEADER_BYTES, 'The ratchet header', envelopeError)
  if (env.ciphertext.length < TAG_BYTES) {
    throw new EnvelopeFormatError('The ciphertext is shorter than its tag')
  }
  try {
    const sender = decodePublicIdentity(env.sender)
    let init: X3dhInit | undefined
    if (env.init != null) {
      bytesOf(env.init.identity, PUBLIC_IDENTITY_BYTES, 'The initiator identity', envelopeError)
      bytesOf(env.init.ephemeral, DH_BYTES, 'The ephemeral key', envelopeError)
      init = {
        identity: decodePublicIdentity(env.init.identity),
        ephemeral: env.init.ephemeral.slice(),
        signedPrekeyId: env.init.signedPrekeyId,
        oneTimePrekeyId: env.init.oneTimePrekeyId
      }
    }
    return { sender, init, header: env.header.slice(), ciphertext: env.ciphertext }
  } catch (err: any) {
    if (err instanceof EnvelopeFormatError) {
      throw err
    }
    throw new EnvelopeFormatError(`Malformed envelope: ${err?.message ?? err}`)
  }
}

export interface Body {
  type: DirectMessageType
  id: string
  timestamp: number
  content: string
  target?: string
  replyTo?: string
  receipts: string[]
  card?: string
  mailbox?: Uint8Array
}

export function encodeBody (body: Body): Uint8Array {
  if (body.receipts.length > MAX_RECEIPTS) {
    throw new MessageFormatError(`At most ${MAX_RECEIPTS} receipts per message`)
  }
  if (body.mailbox != null) {
    bytesOf(body.mailbox, MAILBOX_BYTES, 'A mailbox name', bodyError)
  }
  return DirectBody.encode({
    type: body.type,
    id: body.id,
    timestamp: BigInt(Math.max(0, Math.floor(body.timestamp))),
    content: body.content,
    target: body.target,
    replyTo: body.replyTo,
    receipts: body.receipts,
    card: body.card,
    mailbox: body.mailbox
  })
}

/** Decodes a decrypted body; `MessageFormatError` on anything malformed or out of bounds */
export function decodeBody (bytes: Uint8Array): Body {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENVELOPE_BYTES) {
    throw new MessageFormatError(`A direct message is at most ${MAX_ENVELOPE_BYTES} bytes`)
  }
  let b: DirectBody
  try {
    b = DirectBody.decode(bytes, { limits: { receipts: MAX_RECEIPTS } })
  } catch (err: any) {
    if (/Invalid enum value/.test(err?.message)) {
      throw new MessageFormatError('Unknown direct message type')
    }
    throw new MessageFormatError(`Malformed direct message: ${err?.message ?? err}`)
  }
  const body: Body = {
    type: b.type,
    id: b.id,
    timestamp: safeInteger(b.timestamp, 'The timestamp', bodyError),
    content: b.content,
    target: b.target,
    replyTo: b.replyTo,
    receipts: b.receipts,
    card: b.card,
    mailbox: b.mailbox?.slice()
  }
  checkText([body.id, body.content, body.target, body.replyTo, body.card, ...body.receipts], bodyError)
  if (body.content.length > MAX_CONTENT_CHARS) {
    throw new MessageFormatError(`A direct message is at most ${MAX_CONTENT_CHARS} characters`)
  }
  if (body.card != null && utf8Length(body.card) > MAX_BODY_CARD_BYTES) {
    throw new MessageFormatError(`A contact card in a message is at most ${MAX_BODY_CARD_BYTES} bytes`)
  }
  if (body.mailbox != null) {
    bytesOf(body.mailbox, MAILBOX_BYTES, 'A mailbox name', bodyError)
  }
  checkIds(body)
  return body
}

function checkIds (body: Body): void {
  const ids = [body.id, body.target, body.replyTo, ...body.receipts].filter((x): x is string => x != null)
  if (ids.some(id => id.length > MAX_ID_CHARS || !/^[0-9a-f]*$/.test(id))) {
    throw new MessageFormatError('A message id is lowercase hex of at most 64 characters')
  }
  if (body.type !== 'RECEIPT' && body.id.length === 0) {
    throw new MessageFormatError('A direct message needs an id')
  }
  if ((body.type === 'EDIT' || body.type === 'DELETE' || body.type === 'REACT') && (body.target == null || body.target.length === 0)) {
    throw new MessageFormatError(`${body.type} needs the id of the message it acts on`)
  }
}
