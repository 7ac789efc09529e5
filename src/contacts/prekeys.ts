import { x25519 } from '@noble/curves/ed25519.js'
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { Key } from 'interface-datastore'
import { decodePublicIdentity, encodePublicIdentity, PUBLIC_IDENTITY_BYTES, verifySignature } from '../identity/index.ts'
import { PrekeyBundle, SignedPrekeyBundle } from './direct.ts'
import { PrekeyBundleError } from './errors.ts'
import { randomKeyPair } from './ratchet.ts'
import { checkText, safeInteger, utf8Length } from './wire.ts'
import type { KeyPair } from './ratchet.ts'
import type { VerifiedBundle } from './x3dh.ts'
import type { MessagingIdentity, PublicIdentity } from '../identity/index.ts'
import type { Datastore } from 'interface-datastore'

/** DHT namespace of prekey bundles: `/murmur-prekeys/<hex Ed25519 identity key>` */
export const BUNDLE_NAMESPACE = 'murmur-prekeys'
/** Signed prekeys are replaced after a week (X3DH §4.6 suggests "e.g. once a week") */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600_000
/** A replaced signed prekey is kept this long for first messages already on their way (mailboxes keep 7 days) */
export const SIGNED_PREKEY_GRACE_MS = 7 * 24 * 3600_000
/**
 * A used one-time prekey is kept this long after its first use. The bundle is a
 * published record, not handed out once per asker by a server (X3DH §2.2's
 * model): while its owner is offline, two contacts can pick the same one-time
 * prekey from the same bundle, and the second first message must still open.
 * Mailboxes keep a message up to 7 days, so every first message made from a
 * bundle that still listed the key reaches its owner within 7 days of the first
 * use (the owner publishes a bundle without it as soon as it is back). A replay
 * meanwhile is refused by the remembered ephemerals (kept longer than this); the
 * cost is that the key's secret outlives its first use by up to a week, as a
 * replaced signed prekey's does.
 */
export const ONE_TIME_PREKEY_GRACE_MS = 7 * 24 * 3600_000
/** Below this many one-time prekeys the store makes more … */
export const ONE_TIME_PREKEYS_LOW = 10
/** … up to this many; each is published in the bundle */
export const ONE_TIME_PREKEYS_TARGET = 20
/** Largest bundle a validator accepts */
export const MAX_BUNDLE_BYTES = 8192
const SIGNATURE_DOMAIN = utf8ToBytes('murmur/prekey-bundle/v2')

export function bundleKey (signingKey: Uint8Array): Uint8Array {
  return utf8ToBytes(`/${BUNDLE_NAMESPACE}/${bytesToHex(signingKey)}`)
}

export interface BundleContents {
  signedPrekeyId: number
  signedPrekey: Uint8Array
  oneTimePrekeys: Array<{ id: number, key: Uint8Array }>
  peers: string[]
  sequence: number
}

/**
 * A bundle record is protobuf (direct.proto): a `SignedPrekeyBundle` holding
 * the encoded `PrekeyBundle` exactly as signed and the Ed25519 signature by
 * the identity over "murmur/prekey-bundle/v2" ‖ those bytes (v1 signed the
 * binary layout before: a new domain, so that no old signature can be taken
 * for one over a protobuf bundle). It covers the signed prekey (X3DH's
 * Sig(IK, Encode(SPK))) and the rest of the record; a verifier checks it over
 * the bytes received, never over a re-encoding.
 */
/** 2: protobuf; 1 was the fixed binary layout before it */
const BUNDLE_VERSION = 2
const MAX_ONE_TIME_IN_BUNDLE = 100
const MAX_PEERS_IN_BUNDLE = 8
const MAX_PEER_BYTES = 255
const KEY_BYTES = 32
const SIGNATURE_BYTES = 64

function keyOf (key: Uint8Array, what: string): Uint8Array {
  if (key.length !== KEY_BYTES) {
    throw new PrekeyBundleError(`${what} is ${KEY_BYTES} bytes, not ${key.length}`)
  }
  return key
}

export function signBundle (identity: MessagingIdentity, contents: BundleContents): Uint8Array {
  const bundle = PrekeyBundle.encode({
    version: BUNDLE_VERSION,
    identity: encodePublicIdentity(identity.publicIdentity),
    signedPrekeyId: contents.signedPrekeyId,
    signedPrekey: keyOf(contents.signedPrekey, 'A signed prekey'),
    oneTimePrekeys: contents.oneTimePrekeys.slice(0, MAX_ONE_TIME_IN_BUNDLE).map(k => ({ id: k.id, key: keyOf(k.key, 'A one-time prekey') })),
    peers: contents.peers.slice(0, MAX_PEERS_IN_BUNDLE),
    sequence: BigInt(contents.sequence)
  })
  return SignedPrekeyBundle.encode({ bundle, signature: identity.sign(concatBytes(SIGNATURE_DOMAIN, bundle)) })
}

export interface DecodedBundle extends BundleContents {
  identity: PublicIdentity
}

const bundleError = (message: string): Error => new PrekeyBundleError(message)

/** Decodes and verifies a bundle record; `PrekeyBundleError` on anything wrong */
export function decodeBundle (bytes: Uint8Array): DecodedBundle {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_BUNDLE_BYTES) {
    throw new PrekeyBundleError(`A prekey bundle is at most ${MAX_BUNDLE_BYTES} bytes`)
  }
  let signed: SignedPrekeyBundle
  let bundle: DecodedBundle
  try {
    signed = SignedPrekeyBundle.decode(bytes)
    const b = PrekeyBundle.decode(signed.bundle, { limits: { oneTimePrekeys: MAX_ONE_TIME_IN_BUNDLE, peers: MAX_PEERS_IN_BUNDLE } })
    if (b.version !== BUNDLE_VERSION) {
      throw new Error(`version ${b.version} is not supported (this build reads ${BUNDLE_VERSION})`)
    }
    if (signed.signature.length !== SIGNATURE_BYTES) {
      throw new Error(`the signature is ${SIGNATURE_BYTES} bytes, not ${signed.signature.length}`)
    }
    checkText(b.peers, bundleError)
    if (b.peers.some(p => utf8Length(p) > MAX_PEER_BYTES)) {
      throw new Error(`a peer id is at most ${MAX_PEER_BYTES} bytes`)
    }
    if (b.identity.length !== PUBLIC_IDENTITY_BYTES) {
      throw new Error(`the identity is ${PUBLIC_IDENTITY_BYTES} bytes, not ${b.identity.length}`)
    }
    bundle = {
      identity: decodePublicIdentity(b.identity),
      signedPrekeyId: b.signedPrekeyId,
      signedPrekey: keyOf(b.signedPrekey, 'the signed prekey').slice(),
      oneTimePrekeys: b.oneTimePrekeys.map(k => ({ id: k.id, key: keyOf(k.key, 'a one-time prekey').slice() })),
      peers: b.peers,
      sequence: safeInteger(b.sequence, 'the sequence', bundleError)
    }
  } catch (err: any) {
    throw new PrekeyBundleError(`Malformed prekey bundle: ${err?.message ?? err}`)
  }
  if (!verifySignature(bundle.identity.signingKey, concatBytes(SIGNATURE_DOMAIN, signed.bundle), signed.signature)) {
    throw new PrekeyBundleError('The prekey bundle is not signed by its identity')
  }
  return bundle
}

/** Picks what an initiator uses: the signed prekey and one random one-time prekey, when any is left */
export function chooseFromBundle (bundle: DecodedBundle): VerifiedBundle {
  const otps = bundle.oneTimePrekeys
  const one = otps.length > 0 ? otps[Math.floor(Math.random() * otps.length)] : undefined
  return { identity: bundle.identity, signedPrekeyId: bundle.signedPrekeyId, signedPrekey: bundle.signedPrekey, oneTimePrekey: one }
}

/** DHT validator: the record must verify and belong to the identity its key names */
export async function validateBundleRecord (key: Uint8Array, value: Uint8Array): Promise<void> {
  const bundle = decodeBundle(value)
  const expected = bundleKey(bundle.identity.signingKey)
  if (key.length !== expected.length || !key.every((b, i) => b === expected[i])) {
    throw new PrekeyBundleError('The prekey bundle is stored under another identity\'s key')
  }
}

/** DHT selector: the newest valid bundle wins */
export function selectBundleRecord (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestSeq = -1
  records.forEach((r, i) => {
    try {
      const seq = decodeBundle(r).sequence
      if (seq > bestSeq) {
        best = i
        bestSeq = seq
      }
    } catch {
      // an invalid record never wins
    }
  })
  return best
}

interface StoredSignedPrekey { id: number, secret: string, createdAt: number, retiredAt?: number }
interface UsedOneTimePrekey { secret: string, usedAt: number }

const decodeUsed = (value: Uint8Array): UsedOneTimePrekey => JSON.parse(new TextDecoder().decode(value))

const PREFIX = '/murmur/contacts/prekeys'

/**
 * This identity's prekeys, persisted in the datastore: the current signed
 * prekey (rotated weekly, the previous ones kept for a grace period) and the
 * one-time prekeys (each out of the bundle when a first message uses it, its
 * secret kept for `ONE_TIME_PREKEY_GRACE_MS`; replenished).
 */
export class PrekeyStore {
  private readonly datastore: Datastore
  private readonly now: () => number

  constructor (datastore: Datastore, now: () => number = Date.now) {
    this.datastore = datastore
    this.now = now
  }

  /** Rotates the signed prekey when due and tops up the one-time prekeys; true when the bundle changed */
  async maintain (): Promise<boolean> {
    let changed = false
    const now = this.now()
    const signed = await this.signedPrekeys()
    const current = signed.find(s => s.retiredAt == null)
    if (current == null || now - current.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
      if (current != null) {
        current.retiredAt = now
        await this.putSigned(current)
      }
      await this.putSigned({ id: await this.nextId(), secret: bytesToHex(randomKeyPair().secretKey), createdAt: now })
      changed = true
    }
    for (const old of signed) {
      if (old.retiredAt != null && now - old.retiredAt > SIGNED_PREKEY_GRACE_MS) {
        await this.datastore.delete(new Key(`${PREFIX}/signed/${old.id}`))
      }
    }
    for await (const { key, value } of this.datastore.query({ prefix: `${PREFIX}/used/` })) {
      if (this.pastGrace(decodeUsed(value), now)) {
        await this.datastore.delete(key)
      }
    }
    const otps = await this.oneTimeIds()
    if (otps.length < ONE_TIME_PREKEYS_LOW) {
      for (let i = otps.length; i < ONE_TIME_PREKEYS_TARGET; i++) {
        const id = await this.nextId()
        await this.datastore.put(new Key(`${PREFIX}/one-time/${id}`), randomKeyPair().secretKey)
      }
      changed = true
    }
    return changed
  }

  async contents (): Promise<Omit<BundleContents, 'peers' | 'sequence'>> {
    const current = (await this.signedPrekeys()).find(s => s.retiredAt == null)
    if (current == null) {
      throw new PrekeyBundleError('No signed prekey yet: call maintain() first')
    }
    const oneTimePrekeys = []
    for (const id of await this.oneTimeIds()) {
      const secret = await this.datastore.get(new Key(`${PREFIX}/one-time/${id}`))
      oneTimePrekeys.push({ id, key: x25519.getPublicKey(secret) })
    }
    return { signedPrekeyId: current.id, signedPrekey: x25519.getPublicKey(hexToBytes(current.secret)), oneTimePrekeys }
  }

  async signedPrekey (id: number): Promise<KeyPair | undefined> {
    const found = (await this.signedPrekeys()).find(s => s.id === id)
    if (found == null) {
      return undefined
    }
    const secretKey = hexToBytes(found.secret)
    return { secretKey, publicKey: x25519.getPublicKey(secretKey) }
  }

  /** The one-time prekey with this id, unused or used within its grace; `useOneTime` once a first message decrypted (X3DH §3.4) */
  async oneTime (id: number): Promise<KeyPair | undefined> {
    const unused = new Key(`${PREFIX}/one-time/${id}`)
    let secretKey: Uint8Array
    if (await this.datastore.has(unused)) {
      // a copy: the caller wipes it after use, and a memory datastore hands out what it holds
      secretKey = (await this.datastore.get(unused)).slice()
    } else {
      const used = await this.used(id)
      if (used == null || this.pastGrace(used, this.now())) {
        return undefined
      }
      secretKey = hexToBytes(used.secret)
    }
    return { secretKey, publicKey: x25519.getPublicKey(secretKey) }
  }

  /**
   * Takes a one-time prekey out of the bundle, keeping its secret for the
   * grace period (the first use's time counts); false when it was already
   * out. Called only after a first message decrypted, so a forged init
   * cannot burn one-time prekeys.
   */
  async useOneTime (id: number): Promise<boolean> {
    const unused = new Key(`${PREFIX}/one-time/${id}`)
    if (!(await this.datastore.has(unused))) {
      return false
    }
    const record: UsedOneTimePrekey = { secret: bytesToHex(await this.datastore.get(unused)), usedAt: this.now() }
    const batch = this.datastore.batch()
    batch.put(new Key(`${PREFIX}/used/${id}`), utf8ToBytes(JSON.stringify(record)))
    batch.delete(unused)
    await batch.commit()
    return true
  }

  private async used (id: number): Promise<UsedOneTimePrekey | undefined> {
    const key = new Key(`${PREFIX}/used/${id}`)
    if (!(await this.datastore.has(key))) {
      return undefined
    }
    return decodeUsed(await this.datastore.get(key))
  }

  private pastGrace (used: UsedOneTimePrekey, now: number): boolean {
    return now - used.usedAt > ONE_TIME_PREKEY_GRACE_MS
  }

  private async signedPrekeys (): Promise<StoredSignedPrekey[]> {
    const out: StoredSignedPrekey[] = []
    for await (const { value } of this.datastore.query({ prefix: `${PREFIX}/signed/` })) {
      out.push(JSON.parse(new TextDecoder().decode(value)))
    }
    return out.sort((a, b) => a.id - b.id)
  }

  private async putSigned (s: StoredSignedPrekey): Promise<void> {
    await this.datastore.put(new Key(`${PREFIX}/signed/${s.id}`), utf8ToBytes(JSON.stringify(s)))
  }

  private async oneTimeIds (): Promise<number[]> {
    const ids: number[] = []
    for await (const key of this.datastore.queryKeys({ prefix: `${PREFIX}/one-time/` })) {
      ids.push(Number(key.baseNamespace()))
    }
    return ids.sort((a, b) => a - b)
  }

  private async nextId (): Promise<number> {
    const key = new Key(`${PREFIX}/next-id`)
    const next = (await this.datastore.has(key)) ? Number(new TextDecoder().decode(await this.datastore.get(key))) : 1
    await this.datastore.put(key, utf8ToBytes(String(next + 1)))
    return next
  }
}
