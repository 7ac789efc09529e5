import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { equalBytes } from '@noble/ciphers/utils.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js'
import { DecryptionError, DuplicateMessageError, TooManySkippedMessagesError } from './errors.ts'
import { kdfCk, kdfRk, messageCipherKeys } from './kdf.ts'

/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm", revision 1,
 * §3 without header encryption, §3.5 for skipped messages). Names follow the
 * specification: DHs (our ratchet key pair), DHr (theirs), RK, CKs, CKr, Ns,
 * Nr, PN, MKSKIPPED.
 *
 * Every decryption runs on a copy of the state and is committed only when
 * the AEAD accepts the message (§3.5: "If an exception is raised … the
 * message is discarded and changes to the state object are discarded"), so a
 * tampered ciphertext or header leaves the session as it was. Replaced keys
 * and used message keys are zeroed.
 */

/** Bytes of an X25519 public key */
export const DH_BYTES = 32
/** Header: DHr public key ‖ PN (uint32 BE) ‖ N (uint32 BE) — §3.1 HEADER(dh_pair, pn, n) */
export const HEADER_BYTES = DH_BYTES + 4 + 4
/** Poly1305 tag */
export const TAG_BYTES = 16
/**
 * MAX_SKIP (§3.5): most message keys one incoming message may make us skip in
 * one chain. Larger gaps throw `TooManySkippedMessagesError`.
 */
export const MAX_SKIP = 256
/** Bound on the whole skipped-key store (MKSKIPPED); the oldest keys are dropped (and wiped) first */
export const MAX_SKIPPED_KEYS = 1024
/** Earlier remote ratchet keys remembered, so a replay from a finished chain is told apart from a forgery */
const PREVIOUS_REMOTE_KEYS = 16

export interface KeyPair {
  secretKey: Uint8Array
  publicKey: Uint8Array
}

/** GENERATE_DH(): a fresh X25519 key pair; tests pass a deterministic one for vectors */
export type KeyPairSource = () => KeyPair

export function randomKeyPair (): KeyPair {
  const secretKey = x25519.utils.randomSecretKey()
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) }
}

export interface RatchetOptions {
  /** @default randomKeyPair */
  generateKeyPair?: KeyPairSource
  /** @default MAX_SKIP */
  maxSkip?: number
  /** @default MAX_SKIPPED_KEYS */
  maxSkippedKeys?: number
}

export interface Header {
  dh: Uint8Array
  pn: number
  n: number
}

export function encodeHeader (h: Header): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES)
  out.set(h.dh, 0)
  const view = new DataView(out.buffer)
  view.setUint32(DH_BYTES, h.pn)
  view.setUint32(DH_BYTES + 4, h.n)
  return out
}

export function decodeHeader (bytes: Uint8Array): Header {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HEADER_BYTES) {
    throw new DecryptionError(`A ratchet header is ${HEADER_BYTES} bytes, got ${bytes?.length ?? typeof bytes}`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { dh: bytes.slice(0, DH_BYTES), pn: view.getUint32(DH_BYTES), n: view.getUint32(DH_BYTES + 4) }
}

export interface RatchetMessage {
  header: Uint8Array
  ciphertext: Uint8Array
}

/** The state of §3.2, serializable for persistence */
interface State {
  rk: Uint8Array
  dhs: KeyPair
  dhr?: Uint8Array
  cks?: Uint8Array
  ckr?: Uint8Array
  ns: number
  nr: number
  pn: number
  /** `hex(dh):n` → message key, in insertion order (oldest first) */
  skipped: Map<string, Uint8Array>
  previousRemotes: string[]
}

function dh (pair: KeyPair, pub: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(pair.secretKey, pub)
  } catch {
    throw new DecryptionError('The ratchet key in the header is not a usable X25519 key')
  }
}

function wipe (...keys: Array<Uint8Array | undefined>): void {
  for (const k of keys) {
    k?.fill(0)
  }
}

function copyState (s: State): State {
  return {
    rk: s.rk.slice(),
    dhs: { secretKey: s.dhs.secretKey.slice(), publicKey: s.dhs.publicKey.slice() },
    dhr: s.dhr?.slice(),
    cks: s.cks?.slice(),
    ckr: s.ckr?.slice(),
    ns: s.ns,
    nr: s.nr,
    pn: s.pn,
    skipped: new Map([...s.skipped].map(([k, v]) => [k, v.slice()])),
    previousRemotes: [...s.previousRemotes]
  }
}

function wipeState (s: State): void {
  wipe(s.rk, s.dhs.secretKey, s.cks, s.ckr, ...s.skipped.values())
  s.skipped.clear()
}

const skippedKey = (dhPub: Uint8Array, n: number): string => `${bytesToHex(dhPub)}:${n}`

export class DoubleRatchet {
  #state: State
  /** AD from X3DH: Encode(IK_A) ‖ Encode(IK_B), bound into every message */
  readonly associatedData: Uint8Array
  private readonly generateKeyPair: KeyPairSource
  private readonly maxSkip: number
  private readonly maxSkippedKeys: number

  private constructor (state: State, ad: Uint8Array, opts: RatchetOptions) {
    this.#state = state
    this.associatedData = ad
    this.generateKeyPair = opts.generateKeyPair ?? randomKeyPair
    this.maxSkip = opts.maxSkip ?? MAX_SKIP
    this.maxSkippedKeys = opts.maxSkippedKeys ?? MAX_SKIPPED_KEYS
  }

  /** RatchetInitAlice(SK, bob_dh_public_key) — §3.3; in X3DH Bob's first ratchet key is his signed prekey */
  static initAlice (sharedKey: Uint8Array, bobRatchetKey: Uint8Array, ad: Uint8Array, opts: RatchetOptions = {}): DoubleRatchet {
    const dhs = (opts.generateKeyPair ?? randomKeyPair)()
    const out = dh(dhs, bobRatchetKey)
    const { rootKey, chainKey } = kdfRk(sharedKey, out)
    wipe(out)
    return new DoubleRatchet({ rk: rootKey, dhs, dhr: bobRatchetKey.slice(), cks: chainKey, ns: 0, nr: 0, pn: 0, skipped: new Map(), previousRemotes: [] }, ad, opts)
  }

  /** RatchetInitBob(SK, bob_dh_key_pair) — §3.3 */
  static initBob (sharedKey: Uint8Array, bobKeyPair: KeyPair, ad: Uint8Array, opts: RatchetOptions = {}): DoubleRatchet {
    const dhs = { secretKey: bobKeyPair.secretKey.slice(), publicKey: bobKeyPair.publicKey.slice() }
    return new DoubleRatchet({ rk: sharedKey.slice(), dhs, ns: 0, nr: 0, pn: 0, skipped: new Map(), previousRemotes: [] }, ad, opts)
  }

  /** Our current ratchet public key */
  get ratchetKey (): Uint8Array {
    return this.#state.dhs.publicKey.slice()
  }

  /** How many skipped message keys are held */
  get skippedKeys (): number {
    return this.#state.skipped.size
  }

  /** Ns, Nr, PN — for tests and diagnostics */
  get counters (): { ns: number, nr: number, pn: number } {
    return { ns: this.#state.ns, nr: this.#state.nr, pn: this.#state.pn }
  }

  /** RatchetEncrypt — §3.4 */
  encrypt (plaintext: Uint8Array): RatchetMessage {
    const s = this.#state
    if (s.cks == null) {
      // Bob before Alice's first message: he has no sending chain yet (§3.3)
      throw new DecryptionError('This side cannot send before it has received the first message of the session')
    }
    const { chainKey, messageKey } = kdfCk(s.cks)
    wipe(s.cks)
    s.cks = chainKey
    const header = encodeHeader({ dh: s.dhs.publicKey, pn: s.pn, n: s.ns })
    s.ns++
    const ciphertext = seal(messageKey, plaintext, concatBytes(this.associatedData, header))
    return { header, ciphertext }
  }

  /**
   * RatchetDecrypt — §3.5. Throws `DecryptionError` (tampered or foreign),
   * `DuplicateMessageError` (key already used and wiped) or
   * `TooManySkippedMessagesError`; in every case the session is unchanged.
   */
  decrypt (message: RatchetMessage): Uint8Array {
    const h = decodeHeader(message.header)
    const next = copyState(this.#state)
    let plaintext: Uint8Array
    try {
      plaintext = this.decryptInto(next, h, message)
    } catch (err) {
      wipeState(next)
      throw err
    }
    const old = this.#state
    this.#state = next
    wipeState(old)
    return plaintext
  }

  private decryptInto (s: State, h: Header, message: RatchetMessage): Uint8Array {
    const ad = concatBytes(this.associatedData, message.header)
    const id = skippedKey(h.dh, h.n)
    const stored = s.skipped.get(id)
    if (stored != null) {
      // TrySkippedMessageKeys: used once, then deleted and zeroed
      const plaintext = open(stored, message.ciphertext, ad)
      s.skipped.delete(id)
      wipe(stored)
      return plaintext
    }
    const dhHex = bytesToHex(h.dh)
    if (s.dhr == null || !equalBytes(h.dh, s.dhr)) {
      if (s.previousRemotes.includes(dhHex)) {
        throw new DuplicateMessageError()
      }
      this.skipMessageKeys(s, h.pn)
      this.dhRatchet(s, h)
    } else if (h.n < s.nr) {
      throw new DuplicateMessageError()
    }
    this.skipMessageKeys(s, h.n)
    const { chainKey, messageKey } = kdfCk(s.ckr as Uint8Array)
    wipe(s.ckr)
    s.ckr = chainKey
    s.nr++
    return open(messageKey, message.ciphertext, ad)
  }

  private skipMessageKeys (s: State, until: number): void {
    if (s.nr + this.maxSkip < until) {
      throw new TooManySkippedMessagesError(`The message is ${until - s.nr} messages ahead in its chain; at most ${this.maxSkip} may be skipped`)
    }
    if (s.ckr == null || s.dhr == null) {
      return
    }
    while (s.nr < until) {
      const { chainKey, messageKey } = kdfCk(s.ckr)
      wipe(s.ckr)
      s.ckr = chainKey
      s.skipped.set(skippedKey(s.dhr, s.nr), messageKey)
      s.nr++
    }
    for (const [k, v] of s.skipped) {
      if (s.skipped.size <= this.maxSkippedKeys) {
        break
      }
      wipe(v)
      s.skipped.delete(k)
    }
  }

  /** DHRatchet — §3.5 */
  private dhRatchet (s: State, h: Header): void {
    if (s.dhr != null) {
      s.previousRemotes.push(bytesToHex(s.dhr))
      if (s.previousRemotes.length > PREVIOUS_REMOTE_KEYS) {
        s.previousRemotes.shift()
      }
    }
    s.pn = s.ns
    s.ns = 0
    s.nr = 0
    s.dhr = h.dh.slice()
    const recvOut = dh(s.dhs, s.dhr)
    const r1 = kdfRk(s.rk, recvOut)
    wipe(s.rk, s.ckr, recvOut)
    s.ckr = r1.chainKey
    wipe(s.dhs.secretKey)
    s.dhs = this.generateKeyPair()
    const sendOut = dh(s.dhs, s.dhr)
    const r2 = kdfRk(r1.rootKey, sendOut)
    wipe(r1.rootKey, s.cks, sendOut)
    s.rk = r2.rootKey
    s.cks = r2.chainKey
  }

  /** Persistent form (JSON); as secret as the keys it holds */
  serialize (): string {
    const s = this.#state
    return JSON.stringify({
      v: 1,
      ad: bytesToHex(this.associatedData),
      rk: bytesToHex(s.rk),
      dhs: [bytesToHex(s.dhs.secretKey), bytesToHex(s.dhs.publicKey)],
      dhr: s.dhr != null ? bytesToHex(s.dhr) : undefined,
      cks: s.cks != null ? bytesToHex(s.cks) : undefined,
      ckr: s.ckr != null ? bytesToHex(s.ckr) : undefined,
      ns: s.ns,
      nr: s.nr,
      pn: s.pn,
      skipped: [...s.skipped].map(([k, v]) => [k, bytesToHex(v)]),
      prev: s.previousRemotes
    })
  }

  static deserialize (text: string, opts: RatchetOptions = {}): DoubleRatchet {
    const o = JSON.parse(text)
    if (o?.v !== 1) {
      throw new DecryptionError('Unknown ratchet state version')
    }
    const opt = (x: string | undefined): Uint8Array | undefined => x != null ? hexToBytes(x) : undefined
    return new DoubleRatchet({
      rk: hexToBytes(o.rk),
      dhs: { secretKey: hexToBytes(o.dhs[0]), publicKey: hexToBytes(o.dhs[1]) },
      dhr: opt(o.dhr),
      cks: opt(o.cks),
      ckr: opt(o.ckr),
      ns: o.ns,
      nr: o.nr,
      pn: o.pn,
      skipped: new Map((o.skipped as Array<[string, string]>).map(([k, v]) => [k, hexToBytes(v)])),
      previousRemotes: o.prev
    }, hexToBytes(o.ad), opts)
  }

  /** Zeroes every key of the session (when it is replaced or deleted) */
  wipe (): void {
    wipeState(this.#state)
  }
}

/** ENCRYPT(mk, plaintext, associated_data) — ChaCha20-Poly1305 under keys expanded from mk (§5.2 allows any AEAD) */
export function seal (messageKey: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const { key, nonce } = messageCipherKeys(messageKey)
  try {
    return chacha20poly1305(key, nonce, ad).encrypt(plaintext)
  } finally {
    wipe(key, messageKey)
  }
}

/** DECRYPT(mk, ciphertext, associated_data); the message key is zeroed whatever the outcome */
export function open (messageKey: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  const { key, nonce } = messageCipherKeys(messageKey)
  try {
    if (ciphertext.length < TAG_BYTES) {
      throw new DecryptionError('The ciphertext is shorter than its tag')
    }
    return chacha20poly1305(key, nonce, ad).decrypt(ciphertext)
  } catch (err) {
    if (err instanceof DecryptionError) {
      throw err
    }
    throw new DecryptionError()
  } finally {
    wipe(key, messageKey)
  }
}
