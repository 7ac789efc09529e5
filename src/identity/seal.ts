import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { SealedBoxError } from './errors.ts'
import type { MessagingIdentity } from './identity.ts'

const INFO = utf8ToBytes('murmur/sealed-box/v1')
const EPHEMERAL_BYTES = 32
const NONCE_BYTES = 24
const TAG_BYTES = 16
/** Bytes a sealed box adds to its plaintext */
export const SEAL_OVERHEAD = EPHEMERAL_BYTES + TAG_BYTES

/**
 * Anonymous sealed box to an X25519 key (the shape of libsodium's
 * `crypto_box_seal`, built from audited parts): a fresh ephemeral key, X25519
 * with the recipient's key, HKDF-SHA256 over (shared ‖ ephemeral ‖ recipient)
 * to a key and nonce, XChaCha20-Poly1305. The sender stays anonymous; only the
 * recipient can open it; `ad` binds the box to its context (a group, an epoch).
 */
export function seal (recipientDhKey: Uint8Array, plaintext: Uint8Array, ad: Uint8Array = new Uint8Array(0)): Uint8Array {
  const ephemeralSecret = x25519.utils.randomSecretKey()
  const ephemeral = x25519.getPublicKey(ephemeralSecret)
  const shared = x25519.getSharedSecret(ephemeralSecret, recipientDhKey)
  const { key, nonce } = boxKey(shared, ephemeral, recipientDhKey)
  const sealed = concatBytes(ephemeral, xchacha20poly1305(key, nonce, ad).encrypt(plaintext))
  ephemeralSecret.fill(0)
  shared.fill(0)
  key.fill(0)
  return sealed
}

/** Opens a box sealed to `identity`'s DH key; throws `SealedBoxError` otherwise */
export function open (identity: MessagingIdentity, sealed: Uint8Array, ad: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!(sealed instanceof Uint8Array) || sealed.length < SEAL_OVERHEAD) {
    throw new SealedBoxError(`A sealed box is at least ${SEAL_OVERHEAD} bytes`)
  }
  const ephemeral = sealed.subarray(0, EPHEMERAL_BYTES)
  let shared: Uint8Array
  try {
    shared = identity.dh(ephemeral)
  } catch {
    throw new SealedBoxError('The sealed box carries an invalid ephemeral key')
  }
  const { key, nonce } = boxKey(shared, ephemeral, identity.publicIdentity.dhKey)
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed.subarray(EPHEMERAL_BYTES))
  } catch {
    throw new SealedBoxError()
  } finally {
    shared.fill(0)
    key.fill(0)
  }
}

function boxKey (shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const okm = hkdf(sha256, concatBytes(shared, ephemeral, recipient), undefined, INFO, 32 + NONCE_BYTES)
  return { key: okm.slice(0, 32), nonce: okm.slice(32) }
}
