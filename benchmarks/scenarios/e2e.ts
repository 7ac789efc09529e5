/**
 * e2e: the cost of 1:1 end-to-end encryption (src/contacts), each figure next
 * to a baseline measured in the same run:
 *
 * - session setup (X3DH on both sides, both ratchets initialised, the first
 * message encrypted and decrypted) vs a bare ephemeral X25519 agreement
 * (key generation and one DH on each side);
 * - one message encrypted and decrypted in a running session, in one chain
 * (KDF_CK + HKDF + AEAD), as sent between nodes (in an envelope sealed to
 * the recipient's identity key) and with a reply each time (a DH ratchet step
 * per message), vs the raw AEAD (ChaCha20-Poly1305 seal + open, fixed key) on the
 * same payload;
 * - over the network, two whole peers on loopback: the first message to a new
 * contact (prekey bundle fetched, X3DH, delivered live and acknowledged) vs a
 * later message in the same session.
 */

import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { createMurmur } from '../../src/app/index.ts'
import { decodeEnvelope, DoubleRatchet, randomKeyPair, x3dhInitiate, x3dhRespond } from '../../src/contacts/index.ts'
import { encodeEnvelope } from '../../src/contacts/messages.ts'
import { encodePublicIdentity, MessagingIdentity, open, seal } from '../../src/identity/index.ts'
import { loopbackProfile } from '../../src/node/index.ts'
import { compare, figuresOf, metricName } from '../lib/figures.ts'
import { distribution } from '../lib/stats.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { KeyPair } from '../../src/contacts/index.ts'
import type { Comparison } from '../lib/figures.ts'
import type { Scenario, Table } from '../lib/scenario.ts'

interface E2eParams {
  setups: number
  messages: number
  size: number
  pairs: number
}

const now = (): number => performance.now()

function timeEach (n: number, fn: (i: number) => void, tick: () => void): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = now()
    fn(i)
    out.push((now() - t) / 1000)
    tick()
  }
  return out
}

interface Parties { a: MessagingIdentity, b: MessagingIdentity, spk: KeyPair, opk: KeyPair }

/** Long-term keys exist before a session: made outside the timed part */
function parties (): Parties {
  return { a: MessagingIdentity.generate(), b: MessagingIdentity.generate(), spk: randomKeyPair(), opk: randomKeyPair() }
}

function newSession ({ a, b, spk, opk }: Parties = parties()): { alice: DoubleRatchet, bob: DoubleRatchet } {
  const i = x3dhInitiate(a, { identity: b.publicIdentity, signedPrekeyId: 1, signedPrekey: spk.publicKey, oneTimePrekey: { id: 2, key: opk.publicKey } })
  const r = x3dhRespond(b, i.init, spk, opk)
  return {
    alice: DoubleRatchet.initAlice(i.sharedKey, spk.publicKey, i.associatedData),
    bob: DoubleRatchet.initBob(r.sharedKey, spk, r.associatedData)
  }
}

async function loopback (): Promise<Murmur> {
  const m = await createMurmur({ listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile(), contacts: { publishBundle: false, transparent: true } })
  await m.start()
  return m
}

export const e2eScenario: Scenario<E2eParams> = {
  name: 'e2e',
  summary: '1:1 end-to-end encryption: session setup and per-message cost vs bare X25519 / raw AEAD, and first vs later message over loopback',
  supportsProcs: false,
  options: {
    setups: { type: 'int', default: 300, min: 1, max: 100_000, help: 'sessions set up (X3DH + ratchet init + first message)' },
    messages: { type: 'int', default: 3000, min: 1, max: 10_000_000, help: 'messages encrypted and decrypted per measurement' },
    size: { type: 'int', default: 256, min: 1, max: 1_000_000, help: 'plaintext bytes per message' },
    pairs: { type: 'int', default: 5, min: 0, max: 100, help: 'peer pairs on loopback for the network measurement (0: skip it)' }
  },
  async run (ctx) {
    const p = ctx.params
    const payload = new Uint8Array(p.size).map((_, i) => Math.floor(ctx.prng.next() * 256) ^ i)
    const rows: Table['rows'] = []
    const record = (measure: string, system: string, samples: number[]): number => {
      for (const s of samples) {
        rows.push([measure, system, s])
      }
      return distribution(samples).p50
    }

    // warm up the JIT on both paths so the first system measured is not penalised
    for (let i = 0; i < 50; i++) {
      const { alice, bob } = newSession()
      bob.decrypt(alice.encrypt(payload))
    }

    let bar = ctx.progress.phase('session setup', p.setups * 2)
    const keys = Array.from({ length: p.setups }, () => parties())
    const setup = timeEach(p.setups, (i) => {
      const { alice, bob } = newSession(keys[i])
      bob.decrypt(alice.encrypt(payload))
    }, () => { bar.tick() })
    const bareDh = timeEach(p.setups, () => {
      const a = x25519.utils.randomSecretKey()
      const b = x25519.utils.randomSecretKey()
      x25519.getSharedSecret(a, x25519.getPublicKey(b))
      x25519.getSharedSecret(b, x25519.getPublicKey(a))
    }, () => { bar.tick() })
    bar.done()

    bar = ctx.progress.phase('messages', p.messages * 4)
    const { alice, bob } = newSession()
    bob.decrypt(alice.encrypt(payload))
    const sameChain = timeEach(p.messages, () => {
      bob.decrypt(alice.encrypt(payload))
    }, () => { bar.tick() })
    const replies = timeEach(p.messages, (i) => {
      if (i % 2 === 0) {
        alice.decrypt(bob.encrypt(payload))
      } else {
        bob.decrypt(alice.encrypt(payload))
      }
    }, () => { bar.tick() })
    // as sent between nodes: ratchet message in an envelope, sealed to the recipient's identity key, and back
    const aliceId = MessagingIdentity.generate()
    const bobId = MessagingIdentity.generate()
    const sender = encodePublicIdentity(aliceId.publicIdentity)
    const sealedPath = timeEach(p.messages, () => {
      const m = alice.encrypt(payload)
      const sealed = seal(bobId.publicIdentity.dhKey, encodeEnvelope({ sender, header: m.header, ciphertext: m.ciphertext }, encodePublicIdentity))
      const env = decodeEnvelope(open(bobId, sealed))
      bob.decrypt({ header: env.header, ciphertext: env.ciphertext })
    }, () => { bar.tick() })
    const key = new Uint8Array(32).fill(7)
    const nonce = new Uint8Array(12).fill(1)
    const rawAead = timeEach(p.messages, () => {
      chacha20poly1305(key, nonce).decrypt(chacha20poly1305(key, nonce).encrypt(payload))
    }, () => { bar.tick() })
    bar.done()

    const first: number[] = []
    const later: number[] = []
    if (p.pairs > 0) {
      bar = ctx.progress.phase('loopback pairs', p.pairs)
      for (let i = 0; i < p.pairs; i++) {
        const a = await loopback()
        const b = await loopback()
        try {
          await a.node.connect(b.node.getMultiaddrs()[0])
          await a.contacts.add(await b.contacts.card(), { name: 'b' })
          let t = now()
          await a.contacts.send('b', 'first')
          first.push((now() - t) / 1000)
          for (let j = 0; j < 10; j++) {
            t = now()
            await a.contacts.send('b', `later ${j}`)
            later.push((now() - t) / 1000)
          }
        } finally {
          await a.stop()
          await b.stop()
        }
        bar.tick()
      }
      bar.done()
    }

    const cmp = (label: string, what: string, help: string, murmur: number[], baseline: number[], mName: string, bName: string): Comparison => compare({
      label,
      metric: metricName('e2e', what),
      help,
      unit: 'seconds',
      values: { murmur: record(mName, 'murmur', murmur), baseline: record(bName, 'baseline', baseline) }
    })
    const comparisons = [
      cmp('session setup p50 (vs bare X25519 agreement)', 'session_setup_p50_seconds', 'X3DH both sides + ratchet init + first message, vs ephemeral X25519 both sides', setup, bareDh, 'session_setup', 'bare_x25519'),
      cmp(`message enc+dec p50, same chain (vs raw AEAD, ${p.size} B)`, 'message_same_chain_p50_seconds', 'one ratchet message encrypted and decrypted in one chain, vs ChaCha20-Poly1305 seal+open', sameChain, rawAead, 'message_same_chain', 'raw_aead'),
      cmp(`message sealed in an envelope and opened p50 (vs raw AEAD, ${p.size} B)`, 'message_sealed_p50_seconds', 'ratchet message + envelope + sealed box to the identity key, and back, vs ChaCha20-Poly1305 seal+open', sealedPath, rawAead, 'message_sealed', 'raw_aead'),
      cmp(`message enc+dec p50, every message a reply (vs raw AEAD, ${p.size} B)`, 'message_reply_p50_seconds', 'one ratchet message with a DH ratchet step, vs ChaCha20-Poly1305 seal+open', replies, rawAead, 'message_reply', 'raw_aead')
    ]
    if (p.pairs > 0) {
      comparisons.push(cmp('loopback send p50: first message (vs a later one)', 'loopback_send_p50_seconds', 'send() to a new contact (bundle fetch, X3DH, live delivery acked) vs a later send in the session', first, later, 'loopback_first_send', 'loopback_later_send'))
    }
    return {
      comparisons,
      figures: figuresOf(comparisons, { scenario: 'e2e' }),
      summary: {
        sessionSetup: distribution(setup),
        bareX25519: distribution(bareDh),
        messageSameChain: distribution(sameChain),
        messageReply: distribution(replies),
        messageSealed: distribution(sealedPath),
        rawAead: distribution(rawAead),
        loopbackFirstSend: first.length > 0 ? distribution(first) : null,
        loopbackLaterSend: later.length > 0 ? distribution(later) : null
      },
      notes: [
        'All in one process, one after the other, on the same payload; the crypto figures are CPU time of @noble (pure JS) primitives, not network. Identity and prekey generation happen before the setup timer starts.',
        'Ratios are Murmur / baseline of the p50s. "Every message a reply" alternates direction, so each message carries a DH ratchet step (two X25519 and two HKDF on the receiver, one key generation on the next sender).',
        'The loopback measurement uses the transparent /murmur/dm/1.0.0 transport (direct stream), not onion routes; "first" includes fetching the prekey bundle from the peer.'
      ],
      tables: { samples: { columns: ['measure', 'system', 'seconds'], rows } },
      plots: []
    }
  }
}
