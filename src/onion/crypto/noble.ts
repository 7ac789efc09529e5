import { chacha20 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import type { SphinxCrypto } from './index.ts'

const ZERO_NONCE = new Uint8Array(12)

/** The portable backend: pure JavaScript, runs in browsers and workers */
export const nobleCrypto: SphinxCrypto = {
  name: 'noble',
  x25519: (privateKey, publicKey) => x25519.getSharedSecret(privateKey, publicKey),
  x25519PublicKey: (privateKey) => x25519.getPublicKey(privateKey),
  hkdf: (ikm, info, length) => hkdf(sha256, ikm, undefined, utf8ToBytes(info), length),
  sha256: (data) => sha256(data),
  hmac: (key, data) => hmac(sha256, key, data),
  xorStream: (key, data) => chacha20(key, ZERO_NONCE, data),
  stream: (key, length) => chacha20(key, ZERO_NONCE, new Uint8Array(length)),
  equal: (a, b) => {
    if (a.length !== b.length) {
      return false
    }
    let diff = 0
    for (let i = 0; i < a.length; i++) {
      diff |= a[i] ^ b[i]
    }
    return diff === 0
  },
  randomBytes: (length) => randomBytes(length)
}
