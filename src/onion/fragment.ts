import { MessageTooLargeError } from './errors.ts'

/** At most this many fragments per message (~90 KiB) */
export const MAX_FRAGMENTS = 64

export function splitMessage (data: Uint8Array, firstCapacity: number, capacity: number): Uint8Array[] {
  if (firstCapacity <= 0 || capacity <= 0) {
    throw new MessageTooLargeError('The reply blocks asked for leave no room for data')
  }
  const parts: Uint8Array[] = [data.subarray(0, firstCapacity)]
  for (let offset = firstCapacity; offset < data.length; offset += capacity) {
    parts.push(data.subarray(offset, offset + capacity))
  }
  if (parts.length > MAX_FRAGMENTS) {
    throw new MessageTooLargeError(`A message of ${data.length} bytes needs ${parts.length} fragments; at most ${MAX_FRAGMENTS}`)
  }
  return parts
}

/**
 * Splits `data` over fragments whose data room depends on the fragment
 * (`capacityOf(i)`: a fragment that also carries reply blocks holds less).
 * The first `minFragments` fragments exist even if the data is used up
 * before them (they carry reply blocks and no data); a fragment with no room
 * beyond those is an error.
 */
export function splitByCapacity (data: Uint8Array, capacityOf: (fragment: number) => number, minFragments = 1): Uint8Array[] {
  const parts: Uint8Array[] = []
  let offset = 0
  for (let i = 0; i < Math.max(1, minFragments) || offset < data.length; i++) {
    if (i >= MAX_FRAGMENTS) {
      throw new MessageTooLargeError(`A message of ${data.length} bytes and its reply blocks need more than ${MAX_FRAGMENTS} fragments`)
    }
    const capacity = capacityOf(i)
    if (capacity < 0 || (capacity === 0 && i >= minFragments)) {
      throw new MessageTooLargeError('The reply blocks asked for leave no room for data')
    }
    parts.push(data.subarray(offset, offset + capacity))
    offset += capacity
  }
  return parts
}

interface Pending {
  kind: string
  parts: Array<Uint8Array | undefined>
  received: number
  surbs: Uint8Array[]
  expires: number
}

/**
 * Reassembles fragments by message id. Duplicates (a retry after a lost ack)
 * are ignored, incomplete messages expire, and completed ids are remembered
 * for a while so a late duplicate does not deliver the message twice.
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>()
  private readonly done = new Map<string, number>()
  private readonly ttlMs: number
  private readonly maxPending: number
  private readonly maxDone: number

  /**
   * `maxDone` bounds the completed ids remembered: a sender of many one-packet
   * messages would otherwise grow them for the whole TTL; past it the oldest
   * is forgotten (a duplicate of it that late is delivered again, and the
   * layers above drop duplicates by message id)
   */
  constructor (ttlMs = 120_000, maxPending = 1_000, maxDone = 100_000) {
    this.ttlMs = ttlMs
    this.maxPending = maxPending
    this.maxDone = maxDone
  }

  /** Completed ids remembered now */
  get remembered (): number {
    return this.done.size
  }

  /** Returns the whole message when this fragment completes it */
  add (id: string, fragment: number, fragments: number, kind: string, data: Uint8Array, surbs: Uint8Array[], now = Date.now()): { kind: string, data: Uint8Array, surbs: Uint8Array[] } | undefined {
    this.expire(now)
    if (this.done.has(id) || fragments > MAX_FRAGMENTS) {
      return undefined
    }
    let p = this.pending.get(id)
    if (p == null) {
      if (this.pending.size >= this.maxPending) {
        return undefined
      }
      p = { kind, parts: new Array(fragments), received: 0, surbs: [], expires: now + this.ttlMs }
      this.pending.set(id, p)
    }
    if (p.parts.length !== fragments || p.parts[fragment] != null) {
      return undefined
    }
    p.parts[fragment] = data
    p.received++
    if (surbs.length > 0) {
      p.surbs.push(...surbs)
    }
    if (p.received < fragments) {
      return undefined
    }
    this.pending.delete(id)
    this.done.set(id, now + this.ttlMs)
    if (this.done.size > this.maxDone) {
      this.done.delete(this.done.keys().next().value as string)
    }
    const total = p.parts.reduce((n, part) => n + (part?.length ?? 0), 0)
    const out = new Uint8Array(total)
    let offset = 0
    for (const part of p.parts) {
      out.set(part ?? new Uint8Array(0), offset)
      offset += part?.length ?? 0
    }
    return { kind: p.kind, data: out, surbs: p.surbs }
  }

  /**
   * Both maps are in insertion order and every entry lives the same TTL, so
   * the expired ones are at the front: stop at the first live one (walking
   * them all on every fragment made each packet cost O(ids remembered))
   */
  private expire (now: number): void {
    for (const [id, p] of this.pending) {
      if (p.expires > now) { break }
      this.pending.delete(id)
    }
    for (const [id, until] of this.done) {
      if (until > now) { break }
      this.done.delete(id)
    }
  }
}
