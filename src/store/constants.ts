/** The store protocol: deposit, fetch, ack and replica sync of sealed envelopes */
export const STORE_PROTOCOL = '/murmur/store/1.0.0'

/** How many store peers keep each mailbox (the k closest to its name) */
export const DEFAULT_REPLICAS = 3

/** Messages and history are kept at most this long: DESIGN.md's 7 days */
export const MAX_TTL_MS = 7 * 24 * 60 * 60 * 1000

/** A mailbox name, a message id and a mailbox key are all this long */
export const MAILBOX_BYTES = 32
export const ID_BYTES = 32
export const KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
export const CHALLENGE_BYTES = 32

/** The largest sealed envelope a store node accepts */
export const MAX_PAYLOAD_BYTES = 64 * 1024

/** The largest request or response frame on the wire (a deposit batch or a page) */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024

/** Envelopes in one DEPOSIT request */
export const MAX_DEPOSIT_BATCH = 256

/** Envelopes in one page of FETCH / HISTORY */
export const MAX_PAGE = 1000

/** Ids in one ACK, items and buckets in one SYNC step */
export const MAX_ACK_IDS = 1000
export const MAX_SYNC_ITEMS = 4096
export const SYNC_BUCKETS = 256
export const BUCKET_DIGEST_BYTES = 8

/** A challenge is good for this long after the store node issued it */
export const CHALLENGE_TTL_MS = 30_000

/** Sender clocks may be this far off the store node's */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000

/** Topic length for group history */
export const MAX_TOPIC_LENGTH = 256

/** A public record's key ("/<namespace>/<rest>") and value (a prekey bundle is at most 8 KiB) */
export const MAX_RECORD_KEY_BYTES = 256
export const MAX_RECORD_BYTES = 16 * 1024

/** Public records a store node keeps at most (each passed its namespace's signature check) */
export const MAX_RECORDS = 100_000
