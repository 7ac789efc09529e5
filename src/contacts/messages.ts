import { decodePublicIdentity, PUBLIC_IDENTITY_BYTES } from '../identity/index.ts'
import { EnvelopeFormatError, MessageFormatError } from './errors.ts'
import { DH_BYTES, HEADER_BYTES, TAG_BYTES } from './ratchet.ts'
import { Reader, Writer } from './wire.ts'
import type { X3dhInit } from './x3dh.ts'
import type { PublicIdentity } from '../identity/index.ts'

/** Wire version of the envelope */
export const ENVELOPE_VERSION = 1
/** Largest sealed envelope accepted from a transport */
export const MAX_ENVELOPE_BYTES = 128 * 1024
/** Largest message text, in UTF-16 units */
export const MAX_CONTENT_CHARS = 32 * 1024
const MAX_ID_CHARS = 64
const MAX_RECEIPTS = 255
const TYPES: DirectMessageType[] = ['MESSAGE', 'EDIT', 'DELETE', 'REACT', 'RECEIPT', 'INVITE']

/** INVITE carries a group invite code (groups' `invite()`), for the app to offer `join` */
export type DirectMessageType = 'MESSAGE' | 'EDIT' | 'DELETE' | 'REACT' | 'RECEIPT' | 'INVITE'

/** A ratchet message with what the responder needs for X3DH in a session's first messages */
export interface DecodedEnvelope {
  sender: PublicIdentity
  init?: X3dhInit
  header: Uint8Array
  ciphertext: Uint8Array
}

export function encodeEnvelope (env: { sender: Uint8Array, init?: X3dhInit, header: Uint8Array, ciphertext: Uint8Array }, encodeIdentity: (p: PublicIdentity) => Uint8Array): Uint8Array {
  return new Writer()
    .u8(ENVELOPE_VERSION)
    .bytes(env.sender, PUBLIC_IDENTITY_BYTES)
    .opt(env.init, (w, init) => {
      w.bytes(encodeIdentity(init.identity), PUBLIC_IDENTITY_BYTES).bytes(init.ephemeral, DH_BYTES).u32(init.signedPrekeyId)
        .opt(init.oneTimePrekeyId, (w2, id) => w2.u32(id))
    })
    .bytes(env.header, HEADER_BYTES)
    .var32(env.ciphertext)
    .finish()
}

/** Decodes an opened envelope; `EnvelopeFormatError` on anything malformed */
export function decodeEnvelope (bytes: Uint8Array): DecodedEnvelope {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENVELOPE_BYTES) {
    throw new EnvelopeFormatError(`An envelope is at most ${MAX_ENVELOPE_BYTES} bytes`)
  }
  try {
    const r = new Reader(bytes)
    const version = r.u8()
    if (version !== ENVELOPE_VERSION) {
      throw new EnvelopeFormatError(`Envelope version ${version} is not supported (this build reads ${ENVELOPE_VERSION})`)
    }
    const sender = decodePublicIdentity(r.bytes(PUBLIC_IDENTITY_BYTES))
    const init = r.opt(r => ({
      identity: decodePublicIdentity(r.bytes(PUBLIC_IDENTITY_BYTES)),
      ephemeral: r.bytes(DH_BYTES),
      signedPrekeyId: r.u32(),
      oneTimePrekeyId: r.opt(r => r.u32())
    }))
    const header = r.bytes(HEADER_BYTES)
    const ciphertext = r.var32(MAX_ENVELOPE_BYTES)
    r.end()
    if (ciphertext.length < TAG_BYTES) {
      throw new EnvelopeFormatError('The ciphertext is shorter than its tag')
    }
    return { sender, init, header, ciphertext }
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
  const w = new Writer()
    .u8(TYPES.indexOf(body.type))
    .str8(body.id)
    .u64(body.timestamp)
    .str32(body.content)
    .opt(body.target, (w, t) => w.str8(t))
    .opt(body.replyTo, (w, t) => w.str8(t))
    .u8(body.receipts.length)
  for (const id of body.receipts) {
    w.str8(id)
  }
  return w
    .opt(body.card, (w, c) => w.var16(new TextEncoder().encode(c)))
    .opt(body.mailbox, (w, m) => w.bytes(m, 32))
    .finish()
}

/** Decodes a decrypted body; `MessageFormatError` on anything malformed or out of bounds */
export function decodeBody (bytes: Uint8Array): Body {
  let body: Body
  try {
    const r = new Reader(bytes)
    const type = TYPES[r.u8()]
    if (type == null) {
      throw new MessageFormatError('Unknown direct message type')
    }
    const id = r.str8()
    const timestamp = r.u64()
    const content = r.str32(4 * MAX_CONTENT_CHARS)
    const target = r.opt(r => r.str8())
    const replyTo = r.opt(r => r.str8())
    const receipts: string[] = []
    for (let i = r.u8(); i > 0; i--) {
      receipts.push(r.str8())
    }
    const card = r.opt(r => new TextDecoder('utf-8', { fatal: true }).decode(r.var16()))
    const mailbox = r.opt(r => r.bytes(32))
    r.end()
    body = { type, id, timestamp, content, target, replyTo, receipts, card, mailbox }
  } catch (err: any) {
    if (err instanceof MessageFormatError) {
      throw err
    }
    throw new MessageFormatError(`Malformed direct message: ${err?.message ?? err}`)
  }
  if (body.content.length > MAX_CONTENT_CHARS) {
    throw new MessageFormatError(`A direct message is at most ${MAX_CONTENT_CHARS} characters`)
  }
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
  return body
}
