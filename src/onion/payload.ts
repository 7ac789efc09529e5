import { LIONESS_KEY_SIZE, LIONESS_L_SIZE, PAYLOAD_BODY_SIZE, PAYLOAD_SIZE, PAYLOAD_TAG_SIZE } from './constants.ts'
import { PayloadSizeError } from './errors.ts'
import type { SphinxCrypto } from './crypto/index.ts'

/**
 * The payload δ is protected by Lioness (Anderson & Biham 1996), the wide-block
 * cipher the Sphinx paper names: a change to any bit of the block changes every
 * bit of its decryption, so tampering at any hop destroys the k zero bytes the
 * destination checks. Built from ChaCha20 (the stream cipher S) and
 * HMAC-SHA256 (the keyed hash H), both audited, over L = 32 bytes (S's key
 * size) and R = the rest: R ^= S(L ^ K1); L ^= H_K2(R); R ^= S(L ^ K3);
 * L ^= H_K4(R).
 *
 * A relay only ever decrypts; the sender encrypts once per hop in reverse
 * route order, so each relay's decryption peels one layer.
 */

function xorInto (target: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < target.length; i++) {
    target[i] ^= source[i]
  }
}

function xor32 (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) {
    out[i] = a[i] ^ b[i]
  }
  return out
}

function checkKey (key: Uint8Array): void {
  if (key.length !== LIONESS_KEY_SIZE) {
    throw new PayloadSizeError(`A Lioness key is ${LIONESS_KEY_SIZE} bytes, not ${key.length}`)
  }
}

/** Lioness encryption of a whole payload block; returns a new block */
export function lionessEncrypt (crypto: SphinxCrypto, key: Uint8Array, block: Uint8Array): Uint8Array {
  checkKey(key)
  const k1 = key.subarray(0, 32)
  const k2 = key.subarray(32, 64)
  const k3 = key.subarray(64, 96)
  const k4 = key.subarray(96, 128)
  const l = block.slice(0, LIONESS_L_SIZE)
  let r = crypto.xorStream(xor32(l, k1), block.subarray(LIONESS_L_SIZE))
  xorInto(l, crypto.hmac(k2, r))
  r = crypto.xorStream(xor32(l, k3), r)
  xorInto(l, crypto.hmac(k4, r))
  const out = new Uint8Array(block.length)
  out.set(l, 0)
  out.set(r, LIONESS_L_SIZE)
  return out
}

/** Lioness decryption: the four rounds in reverse; written into `out` when given (a relay writes the next packet in place) */
export function lionessDecrypt (crypto: SphinxCrypto, key: Uint8Array, block: Uint8Array, out: Uint8Array = new Uint8Array(block.length)): Uint8Array {
  checkKey(key)
  const k1 = key.subarray(0, 32)
  const k2 = key.subarray(32, 64)
  const k3 = key.subarray(64, 96)
  const k4 = key.subarray(96, 128)
  const l = block.slice(0, LIONESS_L_SIZE)
  let r: Uint8Array = block.subarray(LIONESS_L_SIZE)
  xorInto(l, crypto.hmac(k4, r))
  r = crypto.xorStream(xor32(l, k3), r)
  xorInto(l, crypto.hmac(k2, r))
  r = crypto.xorStream(xor32(l, k1), r)
  out.set(l, 0)
  out.set(r, LIONESS_L_SIZE)
  return out
}

/** The plaintext payload before any layer: k zero bytes, then the body padded with zeros */
export function encodePayloadBody (body: Uint8Array): Uint8Array {
  if (body.length > PAYLOAD_BODY_SIZE) {
    throw new PayloadSizeError(`A packet body holds at most ${PAYLOAD_BODY_SIZE} bytes, not ${body.length}`)
  }
  const block = new Uint8Array(PAYLOAD_SIZE)
  block.set(body, PAYLOAD_TAG_SIZE)
  return block
}

/** The body if the k zero bytes are intact, else undefined (the payload was tampered with) */
export function decodePayloadBody (crypto: SphinxCrypto, block: Uint8Array): Uint8Array | undefined {
  if (!crypto.equal(block.subarray(0, PAYLOAD_TAG_SIZE), new Uint8Array(PAYLOAD_TAG_SIZE))) {
    return undefined
  }
  return block.subarray(PAYLOAD_TAG_SIZE)
}
