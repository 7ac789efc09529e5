import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, concatBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { open, seal, verifySignature } from '../identity/index.ts'
import { groupIdBytes } from './topic.ts'
import type { MessagingIdentity } from '../identity/index.ts'

/** An epoch key: 32 random bytes shared by the members of one epoch */
export const EPOCH_KEY_BYTES = 32
/** XChaCha20-Poly1305: a 24-byte nonce is safe to pick at random for every envelope */
export const NONCE_BYTES = 24
export const TAG_BYTES = 16

const ENVELOPE_INFO = utf8ToBytes('murmur/group/envelope/v1')
const AD_DOMAIN = utf8ToBytes('murmur/group/ad/v1')
const SIGNATURE_DOMAIN = utf8ToBytes('murmur/group/signature/v1')
const KEY_BOX_DOMAIN = utf8ToBytes('murmur/group/epoch-key/v1')

export function newEpochKey (): Uint8Array {
  return randomBytes(EPOCH_KEY_BYTES)
}

function u64 (n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

/** The AEAD key of an epoch: bound to the group so one epoch key never serves two groups */
function envelopeKey (epochKey: Uint8Array, groupId: string): Uint8Array {
  return hkdf(sha256, epochKey, groupIdBytes(groupId), ENVELOPE_INFO, 32)
}

/** Binds a ciphertext to its group and epoch: moving it to another topic or relabelling its epoch fails authentication */
function associatedData (groupId: string, version: number, epoch: number): Uint8Array {
  return concatBytes(AD_DOMAIN, groupIdBytes(groupId), Uint8Array.of(version), u64(epoch))
}

export function encryptPayload (epochKey: Uint8Array, groupId: string, version: number, epoch: number, plaintext: Uint8Array): { nonce: Uint8Array, ciphertext: Uint8Array } {
  const nonce = randomBytes(NONCE_BYTES)
  const key = envelopeKey(epochKey, groupId)
  try {
    return { nonce, ciphertext: xchacha20poly1305(key, nonce, associatedData(groupId, version, epoch)).encrypt(plaintext) }
  } finally {
    key.fill(0)
  }
}

/** Throws when the ciphertext was not made with this key, group and epoch, or was altered */
export function decryptPayload (epochKey: Uint8Array, groupId: string, version: number, epoch: number, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const key = envelopeKey(epochKey, groupId)
  try {
    return xchacha20poly1305(key, nonce, associatedData(groupId, version, epoch)).decrypt(ciphertext)
  } finally {
    key.fill(0)
  }
}

/** What the author signs: the body bound to the group and epoch, so a member cannot re-post it elsewhere */
function signedMessage (groupId: string, epoch: number, body: Uint8Array): Uint8Array {
  return concatBytes(SIGNATURE_DOMAIN, groupIdBytes(groupId), u64(epoch), body)
}

export function signBody (identity: MessagingIdentity, groupId: string, epoch: number, body: Uint8Array): Uint8Array {
  return identity.sign(signedMessage(groupId, epoch, body))
}

/** Imported WebCrypto keys by signing key (hex): members are few, envelopes many */
const verifyKeys = new Map<string, Promise<CryptoKey | undefined>>()
const MAX_VERIFY_KEYS = 4096

/**
 * Ed25519 through WebCrypto where the platform has it (Node >= 20, current
 * Chromium): native code, measured an order of magnitude faster than the
 * pure-JS verify on the 30-node benchmark, where verification was most of the
 * CPU. Elsewhere `verifySignature` of src/identity (noble).
 */
async function webCryptoKey (signingKey: Uint8Array): Promise<CryptoKey | undefined> {
  const id = bytesToHex(signingKey)
  let key = verifyKeys.get(id)
  if (key == null) {
    if (verifyKeys.size >= MAX_VERIFY_KEYS) {
      verifyKeys.clear()
    }
    key = (async () => {
      try {
        return await globalThis.crypto.subtle.importKey('raw', signingKey.slice(), { name: 'Ed25519' }, false, ['verify'])
      } catch {
        return undefined
      }
    })()
    verifyKeys.set(id, key)
  }
  return key
}

export async function verifyBody (signingKey: Uint8Array, groupId: string, epoch: number, body: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const message = signedMessage(groupId, epoch, body)
  if (signature.length !== 64) {
    return false
  }
  const key = await webCryptoKey(signingKey)
  if (key == null) {
    return verifySignature(signingKey, message, signature)
  }
  try {
    return await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, key, new Uint8Array(signature), new Uint8Array(message))
  } catch {
    return false
  }
}

function keyBoxAd (groupId: string, epoch: number): Uint8Array {
  return concatBytes(KEY_BOX_DOMAIN, groupIdBytes(groupId), u64(epoch))
}

/** A new epoch key sealed to one member's X25519 key, usable only for this group and epoch */
export function sealEpochKey (dhKey: Uint8Array, epochKey: Uint8Array, groupId: string, epoch: number): Uint8Array {
  return seal(dhKey, epochKey, keyBoxAd(groupId, epoch))
}

/** Throws `SealedBoxError` when the box is not for `identity` */
export function openEpochKey (identity: MessagingIdentity, box: Uint8Array, groupId: string, epoch: number): Uint8Array {
  const key = open(identity, box, keyBoxAd(groupId, epoch))
  if (key.length !== EPOCH_KEY_BYTES) {
    throw new Error(`An epoch key is ${EPOCH_KEY_BYTES} bytes`)
  }
  return key
}
