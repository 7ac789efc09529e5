/**
 * Fixed inputs of the contacts test vectors and the scripted exchange they
 * record; `generate-vectors.ts` runs the script with the reference
 * implementation, the specs replay it with both implementations.
 */
import { createHash } from 'node:crypto'

export const h = (label: string): Uint8Array => new Uint8Array(createHash('sha256').update(label).digest())
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

export const FIXED = {
  aliceSigningSeed: h('murmur-vector/alice/signing'),
  aliceDhSecret: h('murmur-vector/alice/dh'),
  bobSigningSeed: h('murmur-vector/bob/signing'),
  bobDhSecret: h('murmur-vector/bob/dh'),
  bobSignedPrekey: h('murmur-vector/bob/signed-prekey'),
  bobOneTimePrekey: h('murmur-vector/bob/one-time-prekey'),
  aliceEphemeral: h('murmur-vector/alice/ephemeral'),
  aliceRatchet: Array.from({ length: 8 }, (_, i) => h(`murmur-vector/alice/ratchet/${i}`)),
  bobRatchet: Array.from({ length: 8 }, (_, i) => h(`murmur-vector/bob/ratchet/${i}`))
}

export type Step = { send: 'alice' | 'bob', id: number, text: string } | { receive: 'alice' | 'bob', id: number }

/** In-order, a reply (DH ratchet step), then out of order across a gap */
export const SCRIPT: Step[] = [
  { send: 'alice', id: 0, text: 'hello bob' },
  { send: 'alice', id: 1, text: 'are you there?' },
  { receive: 'bob', id: 0 },
  { receive: 'bob', id: 1 },
  { send: 'bob', id: 2, text: 'hi alice' },
  { receive: 'alice', id: 2 },
  { send: 'alice', id: 3, text: 'three' },
  { send: 'alice', id: 4, text: 'four' },
  { send: 'alice', id: 5, text: 'five' },
  { receive: 'bob', id: 5 },
  { receive: 'bob', id: 3 },
  { send: 'bob', id: 6, text: 'got 3 and 5' },
  { receive: 'alice', id: 6 },
  { receive: 'bob', id: 4 },
  { send: 'alice', id: 7, text: 'and four?' },
  { receive: 'bob', id: 7 }
]

export interface Party {
  encrypt(plaintext: Uint8Array): { header: Uint8Array, ciphertext: Uint8Array }
  decrypt(header: Uint8Array, ciphertext: Uint8Array): Uint8Array
}

export interface RecordedMessage { id: number, from: string, plaintext: string, header: string, ciphertext: string }

/** Runs the script; returns every message as sent, and checks every receiver got the text back */
export function runScript (alice: Party, bob: Party): RecordedMessage[] {
  const sent = new Map<number, RecordedMessage>()
  for (const step of SCRIPT) {
    if ('send' in step) {
      const { header, ciphertext } = (step.send === 'alice' ? alice : bob).encrypt(new TextEncoder().encode(step.text))
      sent.set(step.id, { id: step.id, from: step.send, plaintext: step.text, header: hex(header), ciphertext: hex(ciphertext) })
    } else {
      const m = sent.get(step.id) as RecordedMessage
      const pt = (step.receive === 'alice' ? alice : bob).decrypt(unhex(m.header), unhex(m.ciphertext))
      if (new TextDecoder().decode(pt) !== m.plaintext) {
        throw new Error(`message ${step.id} decrypted to something else`)
      }
    }
  }
  return [...sent.values()].sort((a, b) => a.id - b.id)
}
