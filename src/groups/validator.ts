/**
 * The checks every envelope passes before it reaches a timeline, in the
 * order that costs least first: size, shape, epoch, AEAD, signature, body,
 * author, freshness, replay. The first failure names the verdict; gossipsub's
 * topic validator turns `reject` into REJECT, so peer scoring punishes the
 * peer that forwarded it.
 */

import { hexToBytes } from '@noble/hashes/utils.js'
import { identityId } from '../identity/index.ts'
import { decodeBody, decodeEnvelope, DecryptError, openPayload } from './codec.ts'
import { verifyBody } from './crypto.ts'
import { MalformedEnvelopeError } from './errors.ts'
import { findMember } from './membership.ts'
import type { Body, WireEnvelope } from './codec.ts'
import type { GroupState } from './timeline.ts'
import type { PublicIdentity } from '../identity/index.ts'

export type RejectReason =
  'oversized' | 'malformed' | 'unknown_epoch' | 'decrypt' | 'bad_signature' | 'removed_member' |
  'retired_epoch' | 'stale' | 'future' | 'replayed'
export type IgnoreReason = 'pending_epoch' | 'own' | 'duplicate' | 'not_member'

/** An envelope that passed: who sent which body under which epoch */
export interface Accepted {
  result: 'accept'
  envelope: WireEnvelope
  sender: PublicIdentity
  senderId: string
  body: Body
}

export type Verdict =
  Accepted |
  { result: 'reject', reason: RejectReason, detail?: string } |
  { result: 'ignore', reason: IgnoreReason, envelope?: WireEnvelope }

export interface ValidationPolicy {
  maxEnvelopeBytes: number
  /** envelopes older than this are stale */
  maxAgeMs: number
  /** envelopes dated further ahead than this are refused */
  maxFutureMs: number
}

export interface ValidationInput {
  bytes: Uint8Array
  state: GroupState
  selfId: string
  now: number
  policy: ValidationPolicy
  /** whether this author's message id was accepted before */
  seen(author: string, id: string): Promise<boolean>
}

export async function validateEnvelope (input: ValidationInput): Promise<Verdict> {
  const { bytes, state, policy } = input
  if (bytes.length > policy.maxEnvelopeBytes) {
    return { result: 'reject', reason: 'oversized', detail: `${bytes.length} bytes` }
  }
  let envelope: WireEnvelope
  try {
    envelope = decodeEnvelope(bytes, policy.maxEnvelopeBytes)
  } catch (err: any) {
    return { result: 'reject', reason: 'malformed', detail: err.message }
  }
  const keyHex = state.keys[String(envelope.epoch)]
  if (keyHex == null) {
    // the next epoch's key may still be on its way (the REKEY crosses the
    // mesh while members already use the new key): not the forwarder's fault
    if (envelope.epoch === state.epoch + 1) {
      return { result: 'ignore', reason: 'pending_epoch', envelope }
    }
    return { result: 'reject', reason: 'unknown_epoch', detail: `epoch ${envelope.epoch}` }
  }
  let opened: ReturnType<typeof openPayload>
  try {
    opened = openPayload(envelope, hexToBytes(keyHex), state.id)
  } catch (err: any) {
    if (err instanceof DecryptError) {
      return { result: 'reject', reason: 'decrypt' }
    }
    return { result: 'reject', reason: 'malformed', detail: err.message }
  }
  if (!(await verifyBody(opened.sender.signingKey, state.id, envelope.epoch, opened.bodyBytes, opened.signature))) {
    return { result: 'reject', reason: 'bad_signature' }
  }
  let body: Body
  try {
    body = decodeBody(opened.bodyBytes)
  } catch (err: any) {
    return { result: 'reject', reason: 'malformed', detail: err instanceof MalformedEnvelopeError ? err.message : String(err) }
  }
  const senderId = identityId(opened.sender)
  if (state.removed.includes(senderId)) {
    return { result: 'reject', reason: 'removed_member' }
  }
  // a retired epoch's key is also held by whoever was removed with it: only
  // those still members may still use it
  if (envelope.epoch < state.epoch && findMember(state, senderId) == null) {
    return { result: 'reject', reason: 'retired_epoch' }
  }
  const timestamp = Number(body.timestamp)
  if (input.now - timestamp > policy.maxAgeMs) {
    return { result: 'reject', reason: 'stale', detail: `${input.now - timestamp} ms old` }
  }
  if (timestamp - input.now > policy.maxFutureMs) {
    return { result: 'reject', reason: 'future', detail: `${timestamp - input.now} ms ahead` }
  }
  if (await input.seen(senderId, body.id)) {
    // our own envelope coming back (published from an onion exit) is no attack
    return senderId === input.selfId ? { result: 'ignore', reason: 'own' } : { result: 'reject', reason: 'replayed' }
  }
  return { result: 'accept', envelope, sender: opened.sender, senderId, body }
}
