import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'

/**
 * The KDF chains of the Double Ratchet (Signal, "The Double Ratchet
 * Algorithm", §5.2 "Recommended cryptographic algorithms"), with SHA-256.
 */

/** Bytes of a root, chain or message key */
export const KEY_BYTES = 32

/** HKDF info of the root chain ("an application-specific byte sequence", §5.2) */
export const ROOT_INFO = utf8ToBytes('murmur/ratchet/root/v1')
/** HKDF info that expands a message key into an AEAD key and nonce */
export const MESSAGE_INFO = utf8ToBytes('murmur/ratchet/message/v1')

/** §5.2: "HMAC … using the chain key as HMAC key and … 0x01 as input to produce the message key" */
const MESSAGE_KEY_CONSTANT = Uint8Array.of(0x01)
/** §5.2: "… and a single byte 0x02 as input to produce the next chain key" */
const CHAIN_KEY_CONSTANT = Uint8Array.of(0x02)

/**
 * KDF_RK(rk, dh_out): HKDF-SHA256 with the root key as salt and the DH output
 * as input key material; 64 bytes out: the new root key and a chain key.
 */
export function kdfRk (rootKey: Uint8Array, dhOut: Uint8Array): { rootKey: Uint8Array, chainKey: Uint8Array } {
  const okm = hkdf(sha256, dhOut, rootKey, ROOT_INFO, 2 * KEY_BYTES)
  return { rootKey: okm.slice(0, KEY_BYTES), chainKey: okm.slice(KEY_BYTES) }
}

/** KDF_CK(ck): HMAC-SHA256(ck, 0x02) is the next chain key, HMAC-SHA256(ck, 0x01) the message key */
export function kdfCk (chainKey: Uint8Array): { chainKey: Uint8Array, messageKey: Uint8Array } {
  return {
    chainKey: hmac(sha256, chainKey, CHAIN_KEY_CONSTANT),
    messageKey: hmac(sha256, chainKey, MESSAGE_KEY_CONSTANT)
  }
}

/** AEAD key (32) and nonce (12) from a message key: each message key encrypts exactly one message, so a derived nonce never repeats */
export function messageCipherKeys (messageKey: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const okm = hkdf(sha256, messageKey, new Uint8Array(KEY_BYTES), MESSAGE_INFO, KEY_BYTES + 12)
  return { key: okm.slice(0, KEY_BYTES), nonce: okm.slice(KEY_BYTES) }
}
