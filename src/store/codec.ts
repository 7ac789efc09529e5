/**
 * Decoding with limits: a frame is checked for size, decoded with protons'
 * repeated-field limits, then every field for its length and range. Bad input
 * is a StoreRequestError / StoreMessageTooLargeError, never anything else.
 */

import { CHALLENGE_BYTES, ID_BYTES, KEY_BYTES, MAILBOX_BYTES, MAX_ACK_IDS, MAX_DEPOSIT_BATCH, MAX_FRAME_BYTES, MAX_PAGE, MAX_PAYLOAD_BYTES, MAX_SYNC_ITEMS, MAX_RECORD_BYTES, MAX_RECORD_KEY_BYTES, MAX_TOPIC_LENGTH, SIGNATURE_BYTES, SYNC_BUCKETS, BUCKET_DIGEST_BYTES } from './constants.ts'
import { MailboxProofRequiredError, StoreMessageTooLargeError, StoreRequestError } from './errors.ts'
import { StoreRequest, StoreResponse, Sync } from './store.ts'
import type { AckProof, Envelope, Proof } from './store.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const ENVELOPE_LIMITS = { envelopes: MAX_PAGE }

export function decodeRequest (data: Uint8Array | Uint8ArrayList): StoreRequest {
  if (data.byteLength > MAX_FRAME_BYTES) {
    throw new StoreMessageTooLargeError(`A store request is at most ${MAX_FRAME_BYTES} bytes`)
  }
  let req: StoreRequest
  try {
    req = StoreRequest.decode(data, {
      limits: {
        deposit: { envelopes: MAX_DEPOSIT_BATCH },
        ack: { ack: { ids: MAX_ACK_IDS } },
        sync: { buckets: SYNC_BUCKETS, items: MAX_SYNC_ITEMS, envelopes: MAX_PAGE, acks: MAX_PAGE, peers: 64 }
      }
    })
  } catch (err: any) {
    throw new StoreRequestError(`Undecodable store request: ${err.message}`)
  }
  validateRequest(req)
  return req
}

export function decodeResponse (data: Uint8Array | Uint8ArrayList): StoreResponse {
  if (data.byteLength > MAX_FRAME_BYTES) {
    throw new StoreMessageTooLargeError(`A store response is at most ${MAX_FRAME_BYTES} bytes`)
  }
  let res: StoreResponse
  try {
    res = StoreResponse.decode(data, {
      limits: { ...ENVELOPE_LIMITS, sync: { buckets: SYNC_BUCKETS, items: MAX_SYNC_ITEMS, envelopes: MAX_PAGE, acks: MAX_PAGE, peers: 64 } }
    })
  } catch (err: any) {
    throw new StoreRequestError(`Undecodable store response: ${err.message}`)
  }
  if (!Object.values(StoreResponse.Status).includes(res.status)) {
    throw new StoreRequestError('Unknown response status')
  }
  if ((res.record?.length ?? 0) > MAX_RECORD_BYTES) {
    throw new StoreMessageTooLargeError(`A record is at most ${MAX_RECORD_BYTES} bytes`)
  }
  res.envelopes.forEach(e => { checkEnvelope(e, false) })
  if (res.sync != null) {
    checkSync(res.sync)
  }
  return res
}

function bytesOf (value: Uint8Array, length: number, what: string): void {
  if (value.length !== length) {
    throw new StoreRequestError(`${what} must be ${length} bytes, not ${value.length}`)
  }
}

export function checkEnvelope (e: Envelope, deposit: boolean): void {
  bytesOf(e.mailbox, MAILBOX_BYTES, 'envelope mailbox')
  bytesOf(e.id, ID_BYTES, 'envelope id')
  if (e.payload.length === 0) {
    throw new StoreRequestError('An envelope must have a payload')
  }
  if (e.payload.length > MAX_PAYLOAD_BYTES) {
    throw new StoreMessageTooLargeError(`An envelope payload is at most ${MAX_PAYLOAD_BYTES} bytes, not ${e.payload.length}`)
  }
  if (!deposit && e.expires === 0n) {
    throw new StoreRequestError('A stored envelope must have an expiry')
  }
}

function checkProof (p: Proof | undefined): Proof {
  if (p == null) {
    throw new MailboxProofRequiredError()
  }
  bytesOf(p.mailboxKey, KEY_BYTES, 'mailbox key')
  bytesOf(p.challenge, CHALLENGE_BYTES, 'challenge')
  bytesOf(p.signature, SIGNATURE_BYTES, 'signature')
  return p
}

export function checkAckProof (a: AckProof): void {
  bytesOf(a.mailbox, MAILBOX_BYTES, 'ack mailbox')
  if (a.ids.length === 0) {
    throw new StoreRequestError('An ack names at least one message')
  }
  a.ids.forEach(id => { bytesOf(id, ID_BYTES, 'acked id') })
  if (a.storePeer.length === 0 || a.storePeer.length > 128) {
    throw new StoreRequestError('An ack names the store peer it was made for')
  }
  checkProof(a.proof)
}

function checkSync (s: Sync): void {
  if (!Object.values(Sync.Step).includes(s.step)) {
    throw new StoreRequestError('Unknown sync step')
  }
  if (s.buckets.length !== 0 && s.buckets.length !== SYNC_BUCKETS) {
    throw new StoreRequestError(`A sync summary has ${SYNC_BUCKETS} buckets`)
  }
  s.buckets.forEach(b => { bytesOf(b, BUCKET_DIGEST_BYTES, 'bucket digest') })
  s.items.forEach(i => {
    bytesOf(i.mailbox, MAILBOX_BYTES, 'sync item mailbox')
    bytesOf(i.id, ID_BYTES, 'sync item id')
  })
  s.envelopes.forEach(e => { checkEnvelope(e, false) })
  s.acks.forEach(checkAckProof)
  s.peers.forEach(p => {
    if (p.length === 0 || p.length > 128) {
      throw new StoreRequestError('A sync peer id is malformed')
    }
  })
}

/** A record key is "/<namespace>/<rest>": the namespace picks the validator */
export function recordNamespace (key: Uint8Array): string {
  if (key.length < 3 || key.length > MAX_RECORD_KEY_BYTES) {
    throw new StoreRequestError(`A record key is 3 to ${MAX_RECORD_KEY_BYTES} bytes`)
  }
  const text = new TextDecoder().decode(key)
  const parts = text.split('/')
  if (parts.length < 3 || parts[0] !== '' || parts[1] === '') {
    throw new StoreRequestError('A record key is "/<namespace>/<rest>"')
  }
  return parts[1]
}

function checkRecordRequest (req: StoreRequest): void {
  if (req.type === StoreRequest.Type.LOOKUP) {
    if (req.lookup == null) {
      throw new StoreRequestError('A lookup names a key')
    }
    recordNamespace(req.lookup.key)
    return
  }
  if (req.publish == null || req.publish.value.length === 0) {
    throw new StoreRequestError('A publish carries a key and a record')
  }
  recordNamespace(req.publish.key)
  if (req.publish.value.length > MAX_RECORD_BYTES) {
    throw new StoreMessageTooLargeError(`A record is at most ${MAX_RECORD_BYTES} bytes`)
  }
}

function validateRequest (req: StoreRequest): void {
  switch (req.type) {
    case StoreRequest.Type.DEPOSIT:
      if (req.deposit == null || req.deposit.envelopes.length === 0) {
        throw new StoreRequestError('A deposit carries at least one envelope')
      }
      req.deposit.envelopes.forEach(e => { checkEnvelope(e, true) })
      break
    case StoreRequest.Type.CHALLENGE:
      break
    case StoreRequest.Type.FETCH:
      if (req.fetch == null) {
        throw new StoreRequestError('A fetch names its mailbox')
      }
      bytesOf(req.fetch.mailbox, MAILBOX_BYTES, 'fetch mailbox')
      if (req.fetch.cursor.length !== 0 && req.fetch.cursor.length !== 8 + ID_BYTES) {
        throw new StoreRequestError('Malformed cursor')
      }
      checkProof(req.fetch.proof)
      break
    case StoreRequest.Type.ACK:
      if (req.ack?.ack == null) {
        throw new StoreRequestError('An ack carries its proof')
      }
      checkAckProof(req.ack.ack)
      break
    case StoreRequest.Type.SYNC:
      if (req.sync == null) {
        throw new StoreRequestError('A sync request carries a step')
      }
      checkSync(req.sync)
      break
    case StoreRequest.Type.HISTORY:
      if (req.history == null || req.history.topic === '' || req.history.topic.length > MAX_TOPIC_LENGTH) {
        throw new StoreRequestError(`A history request names a topic of 1 to ${MAX_TOPIC_LENGTH} characters`)
      }
      if (req.history.cursor.length !== 0 && req.history.cursor.length !== 8 + ID_BYTES) {
        throw new StoreRequestError('Malformed cursor')
      }
      break
    case StoreRequest.Type.PUBLISH:
    case StoreRequest.Type.LOOKUP:
      checkRecordRequest(req)
      break
    default:
      throw new StoreRequestError(`Unknown request type ${String(req.type)}`)
  }
}
