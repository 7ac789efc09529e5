import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { IdentityFormatError } from './errors.ts'

/** Version byte of the exported secret form */
const SECRET_VERSION = 1
const KEY_BYTES = 32
/** version ‖ Ed25519 seed ‖ X25519 secret */
export const IDENTITY_SECRET_BYTES = 1 + KEY_BYTES + KEY_BYTES
/** Ed25519 public key ‖ X25519 public key */
export const PUBLIC_IDENTITY_BYTES = KEY_BYTES + KEY_BYTES

/** What others know of an identity: the keys to verify its signatures and to agree secrets with it */
export interface PublicIdentity {
  /** Ed25519 public key: verifies signatures */
  readonly signingKey: Uint8Array
  /** X25519 public key: Diffie-Hellman (X3DH, sealed boxes) */
  readonly dhKey: Uint8Array
}

/** Short, stable name of an identity for display and lookups: the first 16 bytes of SHA-256(public form), hex */
export function identityId (pub: PublicIdentity): string {
  return bytesToHex(sha256(encodePublicIdentity(pub)).subarray(0, 16))
}

export function encodePublicIdentity (pub: PublicIdentity): Uint8Array {
  const out = new Uint8Array(PUBLIC_IDENTITY_BYTES)
  out.set(pub.signingKey, 0)
  out.set(pub.dhKey, KEY_BYTES)
  return out
}

export function decodePublicIdentity (bytes: Uint8Array): PublicIdentity {
  if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_IDENTITY_BYTES) {
    throw new IdentityFormatError(`A public identity is ${PUBLIC_IDENTITY_BYTES} bytes, got ${bytes?.length ?? typeof bytes}`)
  }
  const signingKey = bytes.slice(0, KEY_BYTES)
  const dhKey = bytes.slice(KEY_BYTES)
  try {
    ed25519.Point.fromBytes(signingKey)
  } catch {
    throw new IdentityFormatError('The signing key is not an Ed25519 point')
  }
  return { signingKey, dhKey }
}

/** Checks an Ed25519 signature; a malformed key or signature is simply not valid */
export function verifySignature (signingKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.length === 64 && ed25519.verify(signature, message, signingKey)
  } catch {
    return false
  }
}

/**
 * A user's messaging identity: an Ed25519 key that signs and an X25519 key
 * that agrees secrets. Both are random — never equal to or derived from the
 * libp2p peer key, so a user's address on the network and who they are to
 * their contacts stay apart — and both move together between machines
 * (`export` / `MessagingIdentity.import`).
 *
 * Two keys rather than one Ed25519 key converted to X25519 (as XEdDSA allows):
 * no key is used with two algorithms, and the public form is still only 64
 * bytes.
 */
export class MessagingIdentity {
  readonly publicIdentity: PublicIdentity
  /** `identityId(publicIdentity)` */
  readonly id: string
  readonly #signingSeed: Uint8Array
  readonly #dhSecret: Uint8Array

  private constructor (signingSeed: Uint8Array, dhSecret: Uint8Array) {
    this.#signingSeed = signingSeed
    this.#dhSecret = dhSecret
    this.publicIdentity = {
      signingKey: ed25519.getPublicKey(signingSeed),
      dhKey: x25519.getPublicKey(dhSecret)
    }
    this.id = identityId(this.publicIdentity)
  }

  static generate (): MessagingIdentity {
    return new MessagingIdentity(randomBytes(KEY_BYTES), x25519.utils.randomSecretKey())
  }

  /** The inverse of `export()` */
  static import (secret: Uint8Array): MessagingIdentity {
    if (!(secret instanceof Uint8Array) || secret.length !== IDENTITY_SECRET_BYTES) {
      throw new IdentityFormatError(`An exported identity is ${IDENTITY_SECRET_BYTES} bytes, got ${secret?.length ?? typeof secret}`)
    }
    if (secret[0] !== SECRET_VERSION) {
      throw new IdentityFormatError(`Unknown identity format version ${secret[0]} (this build reads version ${SECRET_VERSION})`)
    }
    return new MessagingIdentity(secret.slice(1, 1 + KEY_BYTES), secret.slice(1 + KEY_BYTES))
  }

  /** The secret form, for moving the identity to another machine. Keep it as secret as the keys. */
  export (): Uint8Array {
    const out = new Uint8Array(IDENTITY_SECRET_BYTES)
    out[0] = SECRET_VERSION
    out.set(this.#signingSeed, 1)
    out.set(this.#dhSecret, 1 + KEY_BYTES)
    return out
  }

  sign (message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#signingSeed)
  }

  /** X25519 with this identity's DH key; throws on a low-order public key (an all-zero secret) */
  dh (theirDhKey: Uint8Array): Uint8Array {
    return x25519.getSharedSecret(this.#dhSecret, theirDhKey)
  }
}
