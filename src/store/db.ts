/**
 * The store node's durable part: envelopes, tombstones of acked messages and
 * their ack proofs in LevelDB, written with `sync: true` before anything is
 * acknowledged. Concurrent writes share one synced batch (group commit), so a
 * busy node pays one fsync per batch rather than per deposit.
 *
 Keys (binary):
 * - `m ‖ mailbox ‖ ts(8) ‖ id` → Envelope: the mailbox, in order
 * - `i ‖ mailbox ‖ id` → ts ‖ expires ‖ size: lookup by id
 * - `t ‖ mailbox ‖ id` → expires ‖ proofHash: tombstone of an acked message
 * - `p ‖ proofHash` → expires ‖ AckProof: the owner's signed ack
 * - `x ‖ expires ‖ kind ‖ key` → empty: the sweeper's queue of tombstones and proofs (a message's expiry is in its `i` entry and in memory)
 * - `f ‖ topic` → empty: followed topics
 *
 * An in-memory index of every item (a few dozen bytes each, bounded by the
 * quotas) answers quotas, status and anti-entropy digests without a scan.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { Level } from 'level'
import { fromString as u8FromString } from 'uint8arrays/from-string'
import { toString as u8ToString } from 'uint8arrays/to-string'
import { BUCKET_DIGEST_BYTES, MAX_RECORDS, SYNC_BUCKETS } from './constants.ts'
import { MailboxQuotaError, StorageFullError } from './errors.ts'
import { AckProof, Envelope } from './store.ts'

const M = 0x6d
const I = 0x69
const T = 0x74
const P = 0x70
const X = 0x78
const F = 0x66
/** public records: R ‖ record key → expires (u64 ms) ‖ value */
const R = 0x72
const KIND_MESSAGE = 0
const KIND_TOMBSTONE = 1
const KIND_PROOF = 2

export interface StoreQuotas {
  /**
   * Messages one mailbox may hold
   *
   * @default 20000
   */
  maxMessagesPerMailbox: number
  /**
   * Payload bytes one mailbox may hold
   *
   * @default 64 MiB
   */
  maxBytesPerMailbox: number
  /**
   * Payload bytes the whole node may hold
   *
   * @default 1 GiB
   */
  maxBytes: number
  /**
   * Messages the whole node may hold: bounds the in-memory index (a few
   * hundred bytes per message) whatever the payload sizes
   *
   * @default 1000000
   */
  maxMessages: number
}

export interface ItemMeta {
  ts: bigint
  expires: number
  size: number
  tombstone: boolean
  /** 64 bits of sha256(mailbox ‖ id ‖ kind): this item's share of its bucket digest */
  digest: bigint
}

export interface MailboxState {
  mailbox: Uint8Array<ArrayBuffer>
  topic: boolean
  messages: number
  bytes: number
  tombstones: number
  items: Map<string, ItemMeta>
}

export interface StoreTotals {
  mailboxes: number
  messages: number
  bytes: number
  tombstones: number
  oldest?: number
}

export interface Page {
  envelopes: Envelope[]
  cursor: Uint8Array<ArrayBuffer>
  more: boolean
}

function varintLength (n: number): number {
  let length = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    length++
  }
  return length
}

function u64 (n: bigint | number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

function readU64 (b: Uint8Array, offset = 0): bigint {
  return new DataView(b.buffer, b.byteOffset + offset, 8).getBigUint64(0)
}

export function hex (b: Uint8Array): string {
  return u8ToString(b, 'base16')
}

export function unhex (s: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(u8FromString(s, 'base16'))
}

function itemDigest (mailbox: Uint8Array, id: Uint8Array, tombstone: boolean): bigint {
  return readU64(sha256(concatBytes(mailbox, id, new Uint8Array([tombstone ? KIND_TOMBSTONE : KIND_MESSAGE]))).subarray(0, BUCKET_DIGEST_BYTES))
}

/** The anti-entropy bucket of a message id */
export function bucketOf (id: Uint8Array): number {
  return id[0] % SYNC_BUCKETS
}

type Op = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

interface PendingWrite {
  ops: Op[]
  resolve(): void
  reject(err: Error): void
}

export class StoreDb {
  private readonly db: Level<Uint8Array, Uint8Array>
  private readonly quotas: StoreQuotas
  private readonly sync: boolean
  readonly mailboxes = new Map<string, MailboxState>()
  private totalBytes = 0
  private totalMessages = 0
  private pending: PendingWrite[] = []
  private flushing?: Promise<void>
  private opened = false

  constructor (path: string, quotas: StoreQuotas, options: { sync?: boolean } = {}) {
    this.db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
    this.quotas = quotas
    this.sync = options.sync ?? true
  }

  async open (): Promise<void> {
    await this.db.open()
    this.opened = true
    await this.loadIndex()
  }

  async close (): Promise<void> {
    if (!this.opened) {
      return
    }
    await this.flushing
    this.opened = false
    await this.db.close()
  }

  get bytes (): number {
    return this.totalBytes
  }

  totals (now = Date.now()): StoreTotals {
    let messages = 0
    let tombstones = 0
    let oldest: number | undefined
    let mailboxes = 0
    for (const state of this.mailboxes.values()) {
      if (state.messages > 0) {
        mailboxes++
      }
      messages += state.messages
      for (const item of state.items.values()) {
        if (item.tombstone) {
          tombstones++
        } else if (item.expires > now) {
          const at = Number(item.ts / 1000n)
          oldest = oldest == null || at < oldest ? at : oldest
        }
      }
    }
    return { mailboxes, messages, bytes: this.totalBytes, tombstones, oldest }
  }

  private state (mailbox: Uint8Array, topic = false): MailboxState {
    const key = hex(mailbox)
    let state = this.mailboxes.get(key)
    if (state == null) {
      state = { mailbox: Uint8Array.from(mailbox), topic, messages: 0, bytes: 0, tombstones: 0, items: new Map() }
      this.mailboxes.set(key, state)
    }
    return state
  }

  /** Expiry of every public record held, by hex key: counts them against MAX_RECORDS and drives the sweep */
  readonly records = new Map<string, number>()

  private async loadIndex (): Promise<void> {
    for await (const [key, value] of this.db.iterator({ gt: Uint8Array.of(R), lt: Uint8Array.of(R + 1) })) {
      this.records.set(hex(key.subarray(1)), Number(readU64(value, 0)))
    }
    for await (const [key, value] of this.db.iterator({ gt: Uint8Array.of(I), lt: Uint8Array.of(I + 1) })) {
      const mailbox = key.subarray(1, 33)
      const id = key.subarray(33)
      const state = this.state(mailbox)
      const size = new DataView(value.buffer, value.byteOffset + 16, 4).getUint32(0)
      const meta: ItemMeta = { ts: readU64(value, 0), expires: Number(readU64(value, 8)), size, tombstone: false, digest: itemDigest(mailbox, id, false) }
      state.items.set(hex(id), meta)
      this.count(state, meta)
    }
    for await (const [key, value] of this.db.iterator({ gt: Uint8Array.of(T), lt: Uint8Array.of(T + 1) })) {
      const mailbox = key.subarray(1, 33)
      const id = key.subarray(33)
      const state = this.state(mailbox)
      state.items.set(hex(id), { ts: 0n, expires: Number(readU64(value, 0)), size: 0, tombstone: true, digest: itemDigest(mailbox, id, true) })
      state.tombstones++
    }
    for await (const key of this.db.keys({ gt: Uint8Array.of(F), lt: Uint8Array.of(F + 1) })) {
      this.followed.add(new TextDecoder().decode(key.subarray(1)))
    }
  }

  /** Topics whose history this node keeps (persisted, so a restart resumes them) */
  readonly followed = new Set<string>()

  async follow (topic: string, mailbox: Uint8Array): Promise<void> {
    this.state(mailbox, true).topic = true
    this.followed.add(topic)
    await this.write([{ type: 'put', key: concatBytes(Uint8Array.of(F), utf8ToBytes(topic)), value: new Uint8Array(0) }])
  }

  /** One synced batch for every write queued meanwhile */
  private async write (ops: Op[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => { this.pending.push({ ops, resolve, reject }) })
    this.flushing ??= this.flush()
    return done
  }

  private async flush (): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending
        this.pending = []
        try {
          await this.db.batch(batch.flatMap(w => w.ops), { sync: this.sync })
          batch.forEach(w => { w.resolve() })
        } catch (err: any) {
          batch.forEach(w => { w.reject(err) })
        }
      }
    } finally {
      this.flushing = undefined
    }
  }

  has (mailbox: Uint8Array, id: Uint8Array): ItemMeta | undefined {
    return this.mailboxes.get(hex(mailbox))?.items.get(hex(id))
  }

  /**
   * Stores envelopes (each with its absolute `expires`) durably. Envelopes
   * already held or already acked are accepted and not stored again. All or
   * nothing: one over-quota envelope refuses the whole call.
   */
  async put (envelopes: Envelope[], options: { topic?: boolean } = {}): Promise<number> {
    const ops: Op[] = []
    const added: Array<{ state: MailboxState, id: string, meta: ItemMeta }> = []
    const seen = new Set<string>()
    const grow = new Map<MailboxState, { messages: number, bytes: number }>()
    let growBytes = 0
    for (const e of envelopes) {
      const state = this.state(e.mailbox, options.topic)
      const id = hex(e.id)
      if (state.items.has(id) || seen.has(hex(e.mailbox) + id)) {
        continue
      }
      seen.add(hex(e.mailbox) + id)
      const g = grow.get(state) ?? { messages: 0, bytes: 0 }
      g.messages++
      g.bytes += e.payload.length
      grow.set(state, g)
      growBytes += e.payload.length
      const meta: ItemMeta = { ts: e.timestamp, expires: Number(e.expires), size: e.payload.length, tombstone: false, digest: itemDigest(e.mailbox, e.id, false) }
      added.push({ state, id, meta })
      ops.push(
        { type: 'put', key: concatBytes(Uint8Array.of(M), e.mailbox, u64(e.timestamp), e.id), value: Envelope.encode(e) },
        { type: 'put', key: concatBytes(Uint8Array.of(I), e.mailbox, e.id), value: concatBytes(u64(e.timestamp), u64(e.expires), sizeBytes(e.payload.length)) }
      )
    }
    for (const [state, g] of grow) {
      if (state.messages + g.messages > this.quotas.maxMessagesPerMailbox) {
        throw new MailboxQuotaError(`The mailbox holds ${state.messages} messages; its quota is ${this.quotas.maxMessagesPerMailbox}`)
      }
      if (state.bytes + g.bytes > this.quotas.maxBytesPerMailbox) {
        throw new MailboxQuotaError(`The mailbox holds ${state.bytes} bytes; its quota is ${this.quotas.maxBytesPerMailbox}`)
      }
    }
    if (this.totalMessages + added.length > this.quotas.maxMessages) {
      throw new StorageFullError(`The store node holds ${this.totalMessages} of ${this.quotas.maxMessages} messages`)
    }
    if (this.totalBytes + growBytes > this.quotas.maxBytes) {
      throw new StorageFullError(`The store node holds ${this.totalBytes} of ${this.quotas.maxBytes} bytes`)
    }
    if (ops.length === 0) {
      return 0
    }
    // count before the write so that concurrent deposits see the quota taken
    for (const { state, id, meta } of added) {
      state.items.set(id, meta)
      state.messages++
      state.bytes += meta.size
    }
    this.totalBytes += growBytes
    this.totalMessages += added.length
    try {
      await this.write(ops)
    } catch (err) {
      for (const { state, id, meta } of added) {
        if (state.items.get(id) === meta) {
          state.items.delete(id)
          state.messages--
          state.bytes -= meta.size
          this.totalBytes -= meta.size
          this.totalMessages--
        }
      }
      throw err
    }
    return added.length
  }

  /**
   * A page of unexpired envelopes after `cursor` (ts ‖ id), or after `since`
   * (µs); with `maxBytes`, only as many as take at most that many bytes as
   * repeated fields of a response, less `moreBytes` when the page says there
   * is more (at least one, so a page always moves on)
   */
  async page (mailbox: Uint8Array, options: { cursor?: Uint8Array, since?: bigint, limit: number, maxBytes?: number, moreBytes?: number, now?: number }): Promise<Page> {
    const now = options.now ?? Date.now()
    const prefix = concatBytes(Uint8Array.of(M), mailbox)
    let gt = prefix
    if (options.cursor != null && options.cursor.length > 0) {
      gt = concatBytes(prefix, options.cursor)
    } else if (options.since != null && options.since > 0n) {
      gt = concatBytes(prefix, u64(options.since), new Uint8Array(32).fill(0xff))
    }
    const lt = concatBytes(prefix, new Uint8Array(40).fill(0xff))
    const envelopes: Envelope[] = []
    let cursor = Uint8Array.from(options.cursor ?? new Uint8Array(0))
    let more = false
    let bytes = 0
    /** The size and the cursor after each envelope taken, to give back the last ones when `more` costs room */
    const taken: Array<{ size: number, cursor: Uint8Array<ArrayBuffer> }> = []
    for await (const [key, value] of this.db.iterator({ gt, lt })) {
      if (envelopes.length >= options.limit) {
        more = true
        break
      }
      const e = Envelope.decode(value)
      // the sweeper may not have run yet: an expired message is never served
      if (Number(e.expires) <= now) {
        cursor = Uint8Array.from(key.subarray(33))
        continue
      }
      // as a repeated message field: tag, length, the envelope
      const size = 1 + varintLength(value.length) + value.length
      if (options.maxBytes != null && envelopes.length > 0 && bytes + size > options.maxBytes) {
        more = true
        break
      }
      bytes += size
      cursor = Uint8Array.from(key.subarray(33))
      envelopes.push(e)
      taken.push({ size, cursor })
    }
    if (more && options.maxBytes != null) {
      // saying "more" takes room too: the page ends earlier if it no longer fits (the rest comes next page)
      while (envelopes.length > 1 && bytes > options.maxBytes - (options.moreBytes ?? 0)) {
        envelopes.pop()
        bytes -= taken.pop()?.size ?? 0
        cursor = taken[taken.length - 1].cursor
      }
    }
    return { envelopes, cursor, more }
  }

  async getEnvelope (mailbox: Uint8Array, id: Uint8Array): Promise<Envelope | undefined> {
    const meta = this.has(mailbox, id)
    if (meta == null || meta.tombstone) {
      return undefined
    }
    const value = await this.db.get(concatBytes(Uint8Array.of(M), mailbox, u64(meta.ts), id))
    return value == null ? undefined : Envelope.decode(value)
  }

  async getAckProof (mailbox: Uint8Array, id: Uint8Array): Promise<AckProof | undefined> {
    const t = await this.db.get(concatBytes(Uint8Array.of(T), mailbox, id))
    if (t == null) {
      return undefined
    }
    const p = await this.db.get(concatBytes(Uint8Array.of(P), t.subarray(8)))
    return p == null ? undefined : AckProof.decode(p.subarray(8))
  }

  /**
   * Deletes acked messages and keeps a tombstone (with the owner's signed
   * proof, so other replicas can check it) until the latest time any copy
   * of them could still exist, so that an acked message never comes back.
   */
  async ack (proof: AckProof, now = Date.now()): Promise<number> {
    const state = this.state(proof.mailbox)
    const encoded = AckProof.encode(proof)
    const proofHash = sha256(encoded)
    const until = now + 7 * 24 * 3600 * 1000
    const ops: Op[] = [
      { type: 'put', key: concatBytes(Uint8Array.of(P), proofHash), value: concatBytes(u64(until), encoded) },
      { type: 'put', key: concatBytes(Uint8Array.of(X), u64(until), Uint8Array.of(KIND_PROOF), proofHash), value: new Uint8Array(0) }
    ]
    const changes: Array<{ key: string, old?: ItemMeta, tomb: ItemMeta }> = []
    let deleted = 0
    const seen = new Set<string>()
    for (const id of proof.ids) {
      const key = hex(id)
      const meta = state.items.get(key)
      if (meta?.tombstone === true || seen.has(key)) {
        continue
      }
      seen.add(key)
      // tombstones of ids never seen here keep a late copy from coming back, but an owner acking
      // made-up ids must not grow the node without bound
      if (meta == null && state.tombstones + changes.length >= this.quotas.maxMessagesPerMailbox) {
        continue
      }
      if (meta != null) {
        deleted++
        ops.push(
          { type: 'del', key: concatBytes(Uint8Array.of(M), proof.mailbox, u64(meta.ts), id) },
          { type: 'del', key: concatBytes(Uint8Array.of(I), proof.mailbox, id) }
        )
      }
      ops.push(
        { type: 'put', key: concatBytes(Uint8Array.of(T), proof.mailbox, id), value: concatBytes(u64(until), proofHash) },
        { type: 'put', key: concatBytes(Uint8Array.of(X), u64(until), Uint8Array.of(KIND_TOMBSTONE), proof.mailbox, id), value: new Uint8Array(0) }
      )
      changes.push({ key, old: meta, tomb: { ts: 0n, expires: until, size: 0, tombstone: true, digest: itemDigest(proof.mailbox, id, true) } })
    }
    if (changes.length === 0) {
      return 0
    }
    // the tombstones count before the write, as deposits do: a copy of an acked message that arrives
    // meanwhile (a replica's push, an anti-entropy pull) is refused by the index instead of being written
    // beside the tombstone, where FETCH served it again
    for (const { key, old, tomb } of changes) {
      if (old != null) {
        this.uncount(state, old)
      }
      state.tombstones++
      state.items.set(key, tomb)
    }
    try {
      await this.write(ops)
    } catch (err) {
      for (const { key, old, tomb } of changes) {
        if (state.items.get(key) !== tomb) {
          continue
        }
        state.tombstones--
        if (old == null) {
          state.items.delete(key)
        } else {
          state.items.set(key, old)
          this.count(state, old)
        }
      }
      throw err
    }
    return deleted
  }

  private count (state: MailboxState, message: ItemMeta): void {
    state.messages++
    state.bytes += message.size
    this.totalBytes += message.size
    this.totalMessages++
  }

  private uncount (state: MailboxState, message: ItemMeta): void {
    state.messages--
    state.bytes -= message.size
    this.totalBytes -= message.size
    this.totalMessages--
  }

  /** The unexpired public record under `key` */
  async getRecord (key: Uint8Array, now = Date.now()): Promise<Uint8Array | undefined> {
    const expires = this.records.get(hex(key))
    if (expires == null || expires <= now) {
      return undefined
    }
    const value = await this.db.get(concatBytes(Uint8Array.of(R), key))
    return value?.subarray(8)
  }

  /** Replaces the public record under `key` (the caller validated it and chose it over the one held) */
  async putRecord (key: Uint8Array, value: Uint8Array, expires: number): Promise<void> {
    const id = hex(key)
    if (!this.records.has(id) && this.records.size >= MAX_RECORDS) {
      throw new StorageFullError(`The store node holds ${this.records.size} of ${MAX_RECORDS} records`)
    }
    await this.write([{ type: 'put', key: concatBytes(Uint8Array.of(R), key), value: concatBytes(u64(expires), value) }])
    this.records.set(id, expires)
  }

  /** Deletes everything past its expiry; returns how many messages went */
  async sweep (now = Date.now()): Promise<number> {
    const ops: Op[] = []
    const changes: Array<() => void> = []
    let expired = 0
    // messages: from the in-memory index, which knows every expiry (one write less per deposit than a queue on disk)
    for (const state of this.mailboxes.values()) {
      for (const [key, meta] of state.items) {
        if (meta.tombstone || meta.expires > now || expired >= 10_000) {
          continue
        }
        const id = unhex(key)
        const mailbox = state.mailbox
        ops.push({ type: 'del', key: concatBytes(Uint8Array.of(M), mailbox, u64(meta.ts), id) }, { type: 'del', key: concatBytes(Uint8Array.of(I), mailbox, id) })
        expired++
        changes.push(() => { this.forget(mailbox, id, false) })
      }
    }
    // tombstones and ack proofs: from the queue on disk
    for await (const key of this.db.keys({ gt: Uint8Array.of(X), lt: concatBytes(Uint8Array.of(X), u64(now)), limit: 10_000 })) {
      ops.push({ type: 'del', key })
      const kind = key[9]
      const rest = key.subarray(10)
      if (kind === KIND_TOMBSTONE) {
        const mailbox = rest.subarray(0, 32)
        const id = rest.subarray(32)
        ops.push({ type: 'del', key: concatBytes(Uint8Array.of(T), mailbox, id) })
        changes.push(() => { this.forget(mailbox, id, true) })
      } else {
        ops.push({ type: 'del', key: concatBytes(Uint8Array.of(P), rest) })
      }
    }
    for (const [key, expires] of this.records) {
      if (expires <= now) {
        ops.push({ type: 'del', key: concatBytes(Uint8Array.of(R), unhex(key)) })
        changes.push(() => { if (this.records.get(key) === expires) { this.records.delete(key) } })
      }
    }
    if (ops.length > 0) {
      await this.write(ops)
      changes.forEach(c => { c() })
    }
    return expired
  }

  private forget (mailbox: Uint8Array, id: Uint8Array, tombstone: boolean): void {
    const state = this.mailboxes.get(hex(mailbox))
    const meta = state?.items.get(hex(id))
    if (state == null || meta == null || meta.tombstone !== tombstone) {
      return
    }
    state.items.delete(hex(id))
    if (tombstone) {
      state.tombstones--
    } else {
      state.messages--
      state.bytes -= meta.size
      this.totalBytes -= meta.size
      this.totalMessages--
    }
    if (state.items.size === 0 && !state.topic) {
      this.mailboxes.delete(hex(mailbox))
    }
  }

  /**
   * Bucket digests over the items of the mailboxes `include` accepts: the
   * XOR of each item's 64-bit digest, by the first byte of its id.
   */
  summary (include: (state: MailboxState) => boolean, now = Date.now()): Array<Uint8Array<ArrayBuffer>> {
    const buckets = new Array<bigint>(SYNC_BUCKETS).fill(0n)
    for (const state of this.mailboxes.values()) {
      if (state.topic || !include(state)) {
        continue
      }
      for (const [id, meta] of state.items) {
        if (!meta.tombstone && meta.expires <= now) {
          continue
        }
        const b = parseInt(id.slice(0, 2), 16) % SYNC_BUCKETS
        buckets[b] ^= meta.digest
      }
    }
    return buckets.map(b => u64(b))
  }

  /** The items of the given buckets, in the mailboxes `include` accepts */
  itemsIn (buckets: Set<number>, include: (state: MailboxState) => boolean, now = Date.now()): Array<{ mailbox: Uint8Array<ArrayBuffer>, id: Uint8Array<ArrayBuffer>, tombstone: boolean }> {
    const out: Array<{ mailbox: Uint8Array<ArrayBuffer>, id: Uint8Array<ArrayBuffer>, tombstone: boolean }> = []
    for (const state of this.mailboxes.values()) {
      if (state.topic || !include(state)) {
        continue
      }
      for (const [id, meta] of state.items) {
        if (!meta.tombstone && meta.expires <= now) {
          continue
        }
        if (buckets.has(parseInt(id.slice(0, 2), 16) % SYNC_BUCKETS)) {
          out.push({ mailbox: state.mailbox, id: unhex(id), tombstone: meta.tombstone })
        }
      }
    }
    return out
  }
}

function sizeBytes (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}
