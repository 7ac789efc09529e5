import { BUCKET_DIGEST_BYTES, CHALLENGE_BYTES, SYNC_BUCKETS } from '../../../src/store/constants.ts'
import { decodeRequest, decodeResponse, envelopeId, generateMailboxKey, MailboxProofRequiredError, mailboxName, signProof, StoreMessageTooLargeError, StoreRequest, StoreRequestError, StoreResponse, Sync, topicMailbox } from '../../../src/store/index.ts'
import { decoderTarget } from '../registry.ts'
import type { Envelope } from '../../../src/store/index.ts'
import type { FuzzTarget } from '../registry.ts'

const STORE_PEER: Uint8Array<ArrayBuffer> = Uint8Array.from({ length: 38 }, (_, i) => i)
const RECORD_KEY = new TextEncoder().encode('/murmur-prekeys/' + 'ab'.repeat(32))
const NO_SYNC: Sync = { step: Sync.Step.SUMMARY, buckets: [], items: [], envelopes: [], acks: [], peers: [] }

function envelope (mailbox: Uint8Array<ArrayBuffer>, text: string, expires = 0n): Envelope {
  const payload = new TextEncoder().encode(text)
  return { mailbox, id: envelopeId(payload), timestamp: 1_700_000_000_000_000n, expires, payload }
}

/** One valid request of each type, with real proofs */
function requests (): Uint8Array[] {
  const key = generateMailboxKey(new Uint8Array(32).fill(1))
  const mailbox = mailboxName(key.publicKey)
  const challenge = new Uint8Array(CHALLENGE_BYTES).fill(2)
  const stored = envelope(mailbox, 'hello', 1_800_000_000_000n)
  const ack = { mailbox, ids: [stored.id], storePeer: STORE_PEER, proof: signProof(key, 'ack', STORE_PEER, challenge) }
  return [
    StoreRequest.encode({ type: StoreRequest.Type.CHALLENGE }),
    StoreRequest.encode({ type: StoreRequest.Type.DEPOSIT, deposit: { envelopes: [envelope(mailbox, 'a'), envelope(topicMailbox('t'), 'b')] } }),
    StoreRequest.encode({ type: StoreRequest.Type.FETCH, fetch: { mailbox, cursor: new Uint8Array(0), limit: 5, proof: signProof(key, 'fetch', STORE_PEER, challenge) } }),
    StoreRequest.encode({ type: StoreRequest.Type.ACK, ack: { ack } }),
    StoreRequest.encode({ type: StoreRequest.Type.SYNC, sync: { ...NO_SYNC, buckets: Array.from({ length: SYNC_BUCKETS }, () => new Uint8Array(BUCKET_DIGEST_BYTES)) } }),
    StoreRequest.encode({ type: StoreRequest.Type.SYNC, sync: { ...NO_SYNC, step: Sync.Step.PUSH, envelopes: [stored], acks: [ack], peers: [STORE_PEER] } }),
    StoreRequest.encode({ type: StoreRequest.Type.HISTORY, history: { topic: 'murmur/group/ab', cursor: new Uint8Array(0), since: 0n, limit: 10 } }),
    StoreRequest.encode({ type: StoreRequest.Type.PUBLISH, publish: { key: RECORD_KEY, value: new Uint8Array(200).fill(6) } }),
    StoreRequest.encode({ type: StoreRequest.Type.LOOKUP, lookup: { key: RECORD_KEY } })
  ]
}

function responses (): Uint8Array[] {
  const mailbox = mailboxName(generateMailboxKey(new Uint8Array(32).fill(3)).publicKey)
  const ok = { status: StoreResponse.Status.OK, error: '', challenge: new Uint8Array(0), envelopes: [], cursor: new Uint8Array(0), more: false, accepted: 0 }
  return [
    StoreResponse.encode({ ...ok, challenge: new Uint8Array(CHALLENGE_BYTES).fill(4) }),
    StoreResponse.encode({ ...ok, envelopes: [envelope(mailbox, 'x', 1_800_000_000_000n), envelope(mailbox, 'y', 1_800_000_000_001n)], cursor: new Uint8Array(40).fill(5), more: true }),
    StoreResponse.encode({ ...ok, status: StoreResponse.Status.QUOTA_EXCEEDED, error: 'full' }),
    StoreResponse.encode({ ...ok, record: new Uint8Array(200).fill(6) }),
    StoreResponse.encode({ ...ok, status: StoreResponse.Status.INVALID_RECORD, error: 'forged' }),
    StoreResponse.encode({ ...ok, sync: { ...NO_SYNC, step: Sync.Step.PULL, items: [{ mailbox, id: new Uint8Array(32), tombstone: true }] } })
  ]
}

export function storeTargets (): FuzzTarget[] {
  return [
    decoderTarget('store: request (decodeRequest)', decodeRequest, {
      expected: [StoreRequestError, StoreMessageTooLargeError, MailboxProofRequiredError],
      samples: requests,
      maxLength: 2048
    }),
    decoderTarget('store: response (decodeResponse)', decodeResponse, {
      expected: [StoreRequestError, StoreMessageTooLargeError],
      samples: responses,
      maxLength: 2048
    })
  ]
}
