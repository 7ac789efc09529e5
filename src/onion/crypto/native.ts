import crypto from 'node:crypto'
import { nobleCrypto } from './noble.ts'
import type { SphinxCrypto } from './index.ts'

// DER prefixes that wrap a raw 32-byte X25519 key (RFC 8410)
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const HMAC_BLOCK = 64

/**
 * A relay uses one private key for a whole epoch: keep its imported KeyObject
 * so each packet pays for importing the ephemeral public key only. A sender's
 * ephemeral keys are made as KeyObjects (`x25519GenerateKey`) and kept here
 * too: importing a raw private key costs more than making a fresh one.
 */
const privateKeys = new WeakMap<Uint8Array, crypto.KeyObject>()
/** Public keys of the private keys above, when known without deriving them */
const publicOf = new WeakMap<Uint8Array, Uint8Array>()
/**
 * Imported public keys by their array: a sender uses the directory's onion
 * key of a relay for every route through it (a relay's per-packet α is a
 * fresh array each time and simply falls out with it)
 */
const publicKeys = new WeakMap<Uint8Array, crypto.KeyObject>()

/**
 * Runs `fn` with V8's stack traces off. Node's key import (and every call
 * that takes a raw key: hkdfSync, createCipheriv) first asks whether the key
 * is a KeyObject or a CryptoKey by letting two private-field checks throw and
 * catching them; each throw captures a stack trace, which in a relay's deep
 * async stack cost more than the X25519 itself (a profiled relay spent 1.8 s
 * importing public keys next to 0.9 s of Diffie-Hellman). Nothing here
 * throws to the caller but a bad key, whose message stays.
 */
function quiet<T> (fn: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return fn()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** Node 24 imports a raw X25519 key without DER around it (~5 µs less); Node 22 takes the DER */
const RAW_KEYS = (() => {
  try {
    crypto.createPublicKey({ key: new Uint8Array(32).fill(9), format: 'raw-public', asymmetricKeyType: 'x25519' } as any)
    return true
  } catch {
    return false
  }
})()

function importPublicKey (raw: Uint8Array): crypto.KeyObject {
  return quiet(() => RAW_KEYS
    ? crypto.createPublicKey({ key: raw, format: 'raw-public', asymmetricKeyType: 'x25519' } as any)
    : crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }))
}

function publicKeyObject (raw: Uint8Array): crypto.KeyObject {
  let key = publicKeys.get(raw)
  if (key == null) {
    key = importPublicKey(raw)
    publicKeys.set(raw, key)
  }
  return key
}

function privateKeyObject (raw: Uint8Array): crypto.KeyObject {
  let key = privateKeys.get(raw)
  if (key == null) {
    key = quiet(() => crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' }))
    privateKeys.set(raw, key)
  }
  return key
}

function bytes (buf: Buffer | ArrayBuffer): Uint8Array {
  return buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

function sha256 (data: Uint8Array): Uint8Array {
  return bytes(crypto.hash('sha256', data, 'buffer'))
}

/** Where HMAC's inner message is put together: grown to the largest message seen, reused (every call is synchronous) */
let hmacInner = new Uint8Array(HMAC_BLOCK + 2048)
const hmacOuter = new Uint8Array(HMAC_BLOCK + 32)

/**
 * HMAC-SHA256 exactly as RFC 2104 defines it, over the one-shot native
 * SHA-256: `createHmac` costs ~13 µs per call here (it builds a key object),
 * two one-shot hashes over a reused buffer ~3 µs for a 2 KiB payload (~5 µs
 * with fresh buffers). Checked against noble's HMAC by the vectors.
 */
function hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > HMAC_BLOCK ? sha256(key) : key
  const n = HMAC_BLOCK + data.length
  if (hmacInner.length < n) {
    hmacInner = new Uint8Array(n)
  }
  const inner = hmacInner
  inner.fill(0, 0, HMAC_BLOCK)
  inner.set(k, 0)
  for (let i = 0; i < HMAC_BLOCK; i++) {
    inner[i] ^= 0x36
  }
  inner.set(data, HMAC_BLOCK)
  const outer = hmacOuter
  outer.fill(0, 0, HMAC_BLOCK)
  outer.set(k, 0)
  for (let i = 0; i < HMAC_BLOCK; i++) {
    outer[i] ^= 0x5c
  }
  outer.set(sha256(inner.subarray(0, n)), HMAC_BLOCK)
  return sha256(outer)
}

/** ChaCha20's 16-byte IV in OpenSSL: a 32-bit block counter (0) and the 96-bit nonce (0), as noble's counter 0 and zero nonce */
const ZERO_IV = new Uint8Array(16)

/** From this many bytes OpenSSL's ChaCha20 beats noble's (~6 µs against ~8 µs for a 2 KiB payload); below, noble's (~5 µs against ~6 µs for a hop's 866 key bytes) */
const NATIVE_STREAM_BYTES = 1024

function xorStream (key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length < NATIVE_STREAM_BYTES) {
    return nobleCrypto.xorStream(key, data)
  }
  // createCipheriv takes a raw key through the same throwing KeyObject checks as a key import
  return bytes(quiet(() => crypto.createCipheriv('chacha20', key, ZERO_IV)).update(data))
}

/**
 * The Node backend: OpenSSL for X25519, SHA-256 and the ChaCha20 of payloads;
 * noble's ChaCha20 for the short per-hop key streams.
 */
export const nativeCrypto: SphinxCrypto = {
  name: 'node:crypto',
  x25519: (privateKey, publicKey) => {
    // OpenSSL refuses an all-zero result (a low-order point), as noble does
    return bytes(crypto.diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) }))
  },
  x25519PublicKey: (privateKey) => {
    const known = publicOf.get(privateKey)
    if (known != null) {
      return known
    }
    const der = crypto.createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' })
    return bytes(der.subarray(SPKI_PREFIX.length))
  },
  x25519GenerateKey: () => {
    const { privateKey } = crypto.generateKeyPairSync('x25519')
    const jwk = privateKey.export({ format: 'jwk' })
    const raw = bytes(Buffer.from(jwk.d ?? '', 'base64url'))
    privateKeys.set(raw, privateKey)
    publicOf.set(raw, bytes(Buffer.from(jwk.x ?? '', 'base64url')))
    return raw
  },
  hkdf: (ikm, info, length) => bytes(quiet(() => crypto.hkdfSync('sha256', ikm, new Uint8Array(0), info, length))),
  sha256,
  hmac: hmacSha256,
  xorStream,
  stream: nobleCrypto.stream,
  equal: (a, b) => a.length === b.length && crypto.timingSafeEqual(a, b),
  randomBytes: (length) => bytes(crypto.randomBytes(length))
}

/** What this platform uses unless told otherwise (the browser build maps this file to native.browser.ts) */
export const defaultCrypto: SphinxCrypto = nativeCrypto
