import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { encodePublicIdentity } from '../identity/index.ts'
import { DecryptionError } from './errors.ts'
import { randomKeyPair } from './ratchet.ts'
import type { KeyPair } from './ratchet.ts'
import type { PublicIdentity } from '../identity/index.ts'

/**
 * X3DH (Signal, "The X3DH Key Agreement Protocol", revision 1) with
 * curve X25519, hash SHA-256 and info "murmur/x3dh/v1" (§2.1). The identity
 * DH key is the messaging identity's X25519 key; its Ed25519 key signs the
 * prekey bundle (Murmur keeps two keys where Signal uses XEdDSA, see
 * `src/identity/identity.ts`).
 */

/** HKDF info (§2.1 "info: An ASCII string identifying the application") */
export const X3DH_INFO = utf8ToBytes('murmur/x3dh/v1')
/** §2.2: F is 32 0xFF bytes for X25519, prepended to the DH outputs */
const F = new Uint8Array(32).fill(0xff)
/** §2.2: HKDF salt is a zero-filled byte sequence the length of the hash output */
const SALT = new Uint8Array(32)

/** What X3DH needs of the local identity: the public keys and DH with its secret X25519 key (a `MessagingIdentity`) */
export interface IdentityKeys {
  readonly publicIdentity: PublicIdentity
  dh(theirDhKey: Uint8Array): Uint8Array
}

/** A prekey bundle whose signature is already checked */
export interface VerifiedBundle {
  identity: PublicIdentity
  signedPrekeyId: number
  signedPrekey: Uint8Array
  oneTimePrekey?: { id: number, key: Uint8Array }
}

/** The initiator's part of the first message (§3.3) */
export interface X3dhInit {
  identity: PublicIdentity
  ephemeral: Uint8Array
  signedPrekeyId: number
  oneTimePrekeyId?: number
}

export interface X3dhResult {
  /** SK: the Double Ratchet's first root key */
  sharedKey: Uint8Array
  /** AD = Encode(IK_A) ‖ Encode(IK_B) (§3.3) */
  associatedData: Uint8Array
}

function kdf (dhs: Uint8Array[]): Uint8Array {
  const ikm = concatBytes(F, ...dhs)
  const sk = hkdf(sha256, ikm, SALT, X3DH_INFO, 32)
  ikm.fill(0)
  for (const d of dhs) {
    d.fill(0)
  }
  return sk
}

function x (secret: Uint8Array, pub: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(secret, pub)
  } catch {
    throw new DecryptionError('An X3DH public key is not a usable X25519 key')
  }
}

function identityDh (self: IdentityKeys, pub: Uint8Array): Uint8Array {
  try {
    return self.dh(pub)
  } catch {
    throw new DecryptionError('An X3DH public key is not a usable X25519 key')
  }
}

/**
 * Alice's side (§3.3): DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B),
 * DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B) when a one-time prekey is
 * offered; SK = KDF(DH1 ‖ DH2 ‖ DH3 [‖ DH4]). The ephemeral secret is zeroed.
 */
export function x3dhInitiate (self: IdentityKeys, bundle: VerifiedBundle, ephemeral: KeyPair = randomKeyPair()): X3dhResult & { init: X3dhInit } {
  const dhs = [
    identityDh(self, bundle.signedPrekey),
    x(ephemeral.secretKey, bundle.identity.dhKey),
    x(ephemeral.secretKey, bundle.signedPrekey)
  ]
  if (bundle.oneTimePrekey != null) {
    dhs.push(x(ephemeral.secretKey, bundle.oneTimePrekey.key))
  }
  const sharedKey = kdf(dhs)
  ephemeral.secretKey.fill(0)
  return {
    sharedKey,
    associatedData: concatBytes(encodePublicIdentity(self.publicIdentity), encodePublicIdentity(bundle.identity)),
    init: {
      identity: self.publicIdentity,
      ephemeral: ephemeral.publicKey,
      signedPrekeyId: bundle.signedPrekeyId,
      oneTimePrekeyId: bundle.oneTimePrekey?.id
    }
  }
}

/** Bob's side (§3.4): the same DHs from his secrets; the caller deletes the one-time prekey afterwards */
export function x3dhRespond (self: IdentityKeys, init: X3dhInit, signedPrekey: KeyPair, oneTimePrekey?: KeyPair): X3dhResult {
  const dhs = [
    x(signedPrekey.secretKey, init.identity.dhKey),
    identityDh(self, init.ephemeral),
    x(signedPrekey.secretKey, init.ephemeral)
  ]
  if (oneTimePrekey != null) {
    dhs.push(x(oneTimePrekey.secretKey, init.ephemeral))
  }
  return {
    sharedKey: kdf(dhs),
    associatedData: concatBytes(encodePublicIdentity(init.identity), encodePublicIdentity(self.publicIdentity))
  }
}
