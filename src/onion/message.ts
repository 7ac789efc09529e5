import { CodecError, Reader, Writer } from '../directory/wire.ts'
import { PAYLOAD_BODY_SIZE, SURB_SIZE } from './constants.ts'

/**
 * What travels in a packet body, end to end (relays never see it): version
 * u8 | type u8 | id [16] | fragment u16 | fragments u16 | kind str | data
 * bytes | ackSurb? (u8 flag + SURB) | surbs (u8 count × SURB) | topic str,
 * followed by zero padding up to the body size; a u16 length in front says
 * where the message ends.
 */
export const MESSAGE_VERSION = 1
export const MESSAGE_ID_SIZE = 16

export type MessageType = 'data' | 'ack' | 'reply' | 'publish' | 'loop'
const TYPES: MessageType[] = ['data', 'ack', 'reply', 'publish', 'loop']

export interface OnionMessage {
  type: MessageType
  id: Uint8Array
  fragment: number
  fragments: number
  kind: string
  data: Uint8Array
  ackSurb?: Uint8Array
  surbs: Uint8Array[]
  topic: string
}

export function encodeMessage (m: OnionMessage): Uint8Array {
  if (m.id.length !== MESSAGE_ID_SIZE) {
    throw new CodecError('A message id is 16 bytes')
  }
  const w = new Writer()
    .u8(MESSAGE_VERSION).u8(TYPES.indexOf(m.type)).fixed(m.id).u16(m.fragment).u16(m.fragments)
    .string(m.kind).bytes(m.data)
  if (m.ackSurb != null) {
    w.u8(1).fixed(m.ackSurb)
  } else {
    w.u8(0)
  }
  w.u8(m.surbs.length)
  for (const s of m.surbs) {
    w.fixed(s)
  }
  const inner = w.string(m.topic).finish()
  if (inner.length + 2 > PAYLOAD_BODY_SIZE) {
    throw new CodecError(`Message of ${inner.length} bytes does not fit a packet body`)
  }
  return new Writer().bytes(inner).finish()
}

/** How many bytes of `data` fit in one packet with these other fields */
export function dataCapacity (m: Omit<OnionMessage, 'data'>): number {
  return PAYLOAD_BODY_SIZE - encodeMessage({ ...m, data: new Uint8Array(0) }).length
}

export function decodeMessage (body: Uint8Array): OnionMessage {
  const outer = new Reader(body)
  const r = new Reader(outer.bytes())
  if (r.u8() !== MESSAGE_VERSION) {
    throw new CodecError('Unknown message version')
  }
  const type = TYPES[r.u8()]
  if (type == null) {
    throw new CodecError('Unknown message type')
  }
  const id = r.fixed(MESSAGE_ID_SIZE)
  const fragment = r.u16()
  const fragments = r.u16()
  if (fragments === 0 || fragment >= fragments) {
    throw new CodecError('Bad fragment numbers')
  }
  const kind = r.string()
  const data = r.bytes()
  const ackSurb = r.u8() === 1 ? r.fixed(SURB_SIZE) : undefined
  const count = r.u8()
  const surbs: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    surbs.push(r.fixed(SURB_SIZE))
  }
  const topic = r.string()
  r.end()
  return { type, id, fragment, fragments, kind, data, ackSurb, surbs, topic }
}
