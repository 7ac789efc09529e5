/**
 * Mailbox keys and proofs of possession. A mailbox is named by the hash of
 * an Ed25519 public key; whoever holds the private key fetches and acks,
 * signing a fresh challenge from the store node it talks to.
 */

import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { KEY_BYTES, SIGNATURE_BYTES } from './constants.ts'
import { sha256 as sha256Payload } from './hash.ts'
import type { Proof } from './store.ts'

/** What FETCH / ACK prove possession for; part of the signed message */
export type ProofOp = 'fetch' | 'ack'

const PROOF_DOMAIN = utf8ToBytes('murmur/store/1 proof\n')
const TOPIC_DOMAIN = utf8ToBytes('murmur/store/1 topic\n')

/** A mailbox key pair: the public key names the mailbox, the secret signs proofs */
export interface MailboxKey {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

/** A fresh mailbox key pair (keep `seed` to restore it) */
export function generateMailboxKey (seed: Uint8Array = ed25519.utils.randomSecretKey()): MailboxKey & { seed: Uint8Array } {
  const secret = Uint8Array.from(seed)
  return {
    seed: secret,
    publicKey: ed25519.getPublicKey(secret),
    sign: (message) => ed25519.sign(message, secret)
  }
}

/** The mailbox a public key names: sha256(key) */
export function mailboxName (publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(sha256(publicKey))
}

/** The pseudo-mailbox a group topic's history is kept under */
export function topicMailbox (topic: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(sha256(concatBytes(TOPIC_DOMAIN, utf8ToBytes(topic))))
}

/** The id of an envelope: the same on every replica */
export function envelopeId (payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return sha256Payload(payload)
}

/**
 * The message a proof signs: the operation, the store node's peer id (so a
 * proof given to one store node is no good at another), the challenge, the
 * mailbox and, for ACK, the hash of the acked ids.
 */
export function proofMessage (op: ProofOp, storePeer: Uint8Array, challenge: Uint8Array, mailbox: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  return sha256(concatBytes(PROOF_DOMAIN, utf8ToBytes(op), new Uint8Array([0]), sha256(storePeer), challenge, mailbox, sha256(body)))
}

export function ackBody (ids: Uint8Array[]): Uint8Array {
  return concatBytes(...ids)
}

export function signProof (key: MailboxKey, op: ProofOp, storePeer: Uint8Array, challenge: Uint8Array, body?: Uint8Array): Proof {
  const mailbox = mailboxName(key.publicKey)
  return {
    mailboxKey: Uint8Array.from(key.publicKey),
    challenge: Uint8Array.from(challenge),
    signature: Uint8Array.from(key.sign(proofMessage(op, storePeer, challenge, mailbox, body)))
  }
}

/** True when `proof` is a valid signature by the key that names `mailbox` (freshness is the caller's to check) */
export function proofSignatureValid (proof: Proof, op: ProofOp, storePeer: Uint8Array, mailbox: Uint8Array, body?: Uint8Array): boolean {
  if (proof.mailboxKey.length !== KEY_BYTES || proof.signature.length !== SIGNATURE_BYTES) {
    return false
  }
  try {
    return ed25519.verify(proof.signature, proofMessage(op, storePeer, proof.challenge, mailbox, body), proof.mailboxKey)
  } catch {
    return false
  }
}
