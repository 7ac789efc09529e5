/**
 * The primitives a Sphinx hop needs, behind one interface so the same packet
 * code runs on native `node:crypto` in Node (measured faster) and on the noble
 * libraries in browsers; both are checked against the same fixed vectors.
 *
 * Primitives (all audited, none home-made): X25519, SHA-256, HMAC-SHA256 (RFC
 * 2104), HKDF-SHA256, ChaCha20 (RFC 8439 keystream, counter 0, zero nonce: every key is used for
 * one message only, so a fixed nonce is never reused under one key).
 */
export interface SphinxCrypto {
  readonly name: string
  /** X25519(private, public); throws on a low-order public key (all-zero shared secret) */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array
  x25519PublicKey(privateKey: Uint8Array): Uint8Array
  /**
   * A fresh X25519 private key, where the backend makes one that is cheaper
   * to use than random bytes (the sender makes one per hop of every packet
   * and reply block); random bytes otherwise
   */
  x25519GenerateKey?(): Uint8Array
  /** HKDF-SHA256 with an empty salt */
  hkdf(ikm: Uint8Array, info: string, length: number): Uint8Array
  sha256(data: Uint8Array): Uint8Array
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array
  /** `data` XOR ChaCha20(key, zero nonce), into a new array */
  xorStream(key: Uint8Array, data: Uint8Array): Uint8Array
  /** ChaCha20(key, zero nonce) keystream of `length` bytes */
  stream(key: Uint8Array, length: number): Uint8Array
  /** Constant-time equality of two byte strings of one length */
  equal(a: Uint8Array, b: Uint8Array): boolean
  randomBytes(length: number): Uint8Array
}

export { nobleCrypto } from './noble.ts'
export { nativeCrypto, defaultCrypto } from './native.ts'
