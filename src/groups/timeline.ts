/**
 * Persistence of groups in the node's datastore, under `/murmur/groups/…`:
 *
 * - `/murmur/groups/state/<group>`: the group (name, epoch keys, members) as JSON
 * - `/murmur/groups/timeline/<group>/<cursor>`: one timeline entry as JSON
 * - `/murmur/groups/ids/<group>/<message id>`: the cursor of a message, or `-`
 * for an operation (edit, delete, reaction, join…): every id this peer has
 * accepted, so a replayed envelope is known after a restart too
 * - `/murmur/groups/pending/<group>/<target>/<id>`: an edit, delete or
 * reaction that arrived before its message
 *
 * Cursors are the local arrival order, zero-padded so the keys sort.
 */

import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { Key } from 'interface-datastore'
import type { TimelineEntry } from './index.ts'
import type { Datastore } from 'interface-datastore'

const ROOT = '/murmur/groups'
const CURSOR_DIGITS = 16
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface StoredMember {
  /** identity id */
  id: string
  /** hex of the 64-byte public identity */
  identity: string
  name?: string
  admin: boolean
}

export interface GroupState {
  id: string
  name: string
  topic: string
  createdAt: number
  /** the current epoch: new envelopes use its key */
  epoch: number
  /** epoch → hex key; older epochs stay so history still opens */
  keys: Record<string, string>
  members: StoredMember[]
  /** identity ids an admin removed: their envelopes are refused */
  removed: string[]
  /** this peer was removed: it keeps its history but no longer follows the topic */
  removedSelf: boolean
  /** the last cursor handed out */
  seq: number
}

/** An entry as stored: `self` is derived on reading */
export type StoredEntry = Omit<TimelineEntry, 'self'>

/** An edit, delete or reaction waiting for its message */
export interface PendingOp {
  id: string
  type: 'EDIT' | 'DELETE' | 'REACT'
  author: string
  timestamp: number
  content: string
}

export function formatCursor (seq: number): string {
  return seq.toString().padStart(CURSOR_DIGITS, '0')
}

export function isCursor (s: string): boolean {
  return new RegExp(`^[0-9]{${CURSOR_DIGITS}}$`).test(s)
}

function json (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

function parse<T> (bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T
}

export class GroupStore {
  private readonly datastore: Datastore
  /**
   * `<group>/<target>` of every waiting operation: a datastore query per
   * message (a memory datastore scans every key) is paid only when something
   * waits for that message
   */
  private readonly pendingTargets = new Set<string>()

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  /** Learns which operations wait, once at start */
  async loadPending (): Promise<void> {
    this.pendingTargets.clear()
    for await (const key of this.datastore.queryKeys({ prefix: `${ROOT}/pending/` })) {
      const [group, target] = key.toString().slice(`${ROOT}/pending/`.length).split('/')
      this.pendingTargets.add(`${group}/${target}`)
    }
  }

  async loadGroups (): Promise<GroupState[]> {
    const out: GroupState[] = []
    for await (const { value } of this.datastore.query({ prefix: `${ROOT}/state/` })) {
      out.push(parse<GroupState>(value))
    }
    return out
  }

  async saveGroup (state: GroupState): Promise<void> {
    await this.datastore.put(new Key(`${ROOT}/state/${state.id}`), json(state))
  }

  /**
   * An envelope this peer published while nobody was subscribed: kept until it
   * goes out, so a crash before then does not lose a message the sender's
   * timeline already shows
   */
  async saveOutbox (topic: string, id: string, envelope: Uint8Array): Promise<void> {
    await this.datastore.put(new Key(`${ROOT}/outbox/${id}`), json({ topic, envelope: bytesToHex(envelope) }))
  }

  async dropOutbox (id: string): Promise<void> {
    await this.datastore.delete(new Key(`${ROOT}/outbox/${id}`))
  }

  /** Every envelope still waiting to go out: id, topic and bytes */
  async loadOutbox (): Promise<Array<{ id: string, topic: string, envelope: Uint8Array }>> {
    const out: Array<{ id: string, topic: string, envelope: Uint8Array }> = []
    for await (const { key, value } of this.datastore.query({ prefix: `${ROOT}/outbox/` })) {
      const { topic, envelope } = parse<{ topic: string, envelope: string }>(value)
      out.push({ id: key.baseNamespace(), topic, envelope: hexToBytes(envelope) })
    }
    return out
  }

  /** Forgets a group entirely: state, timeline, ids and pending operations */
  async deleteGroup (groupId: string): Promise<void> {
    await this.datastore.delete(new Key(`${ROOT}/state/${groupId}`))
    for (const part of ['timeline', 'ids', 'pending']) {
      const keys: Key[] = []
      for await (const key of this.datastore.queryKeys({ prefix: `${ROOT}/${part}/${groupId}/` })) {
        keys.push(key)
      }
      for (const key of keys) {
        await this.datastore.delete(key)
      }
    }
  }

  async putEntry (entry: StoredEntry): Promise<void> {
    await this.datastore.put(new Key(`${ROOT}/timeline/${entry.groupId}/${entry.cursor}`), json(entry))
  }

  async getEntry (groupId: string, cursor: string): Promise<StoredEntry | undefined> {
    const key = new Key(`${ROOT}/timeline/${groupId}/${cursor}`)
    return (await this.datastore.has(key)) ? parse<StoredEntry>(await this.datastore.get(key)) : undefined
  }

  /** Every entry of a group in cursor order */
  async entries (groupId: string): Promise<StoredEntry[]> {
    const out: StoredEntry[] = []
    for await (const { value } of this.datastore.query({ prefix: `${ROOT}/timeline/${groupId}/` })) {
      out.push(parse<StoredEntry>(value))
    }
    // a memory datastore does not sort by key
    return out.sort((a, b) => a.cursor.localeCompare(b.cursor))
  }

  /** The cursor of a message, `-` for an operation, undefined if never seen */
  async getId (groupId: string, id: string): Promise<string | undefined> {
    // has() first: most ids looked up are new, and a miss by get() costs an error with its stack
    const key = new Key(`${ROOT}/ids/${groupId}/${id}`)
    return (await this.datastore.has(key)) ? decoder.decode(await this.datastore.get(key)) : undefined
  }

  async putId (groupId: string, id: string, cursor: string): Promise<void> {
    await this.datastore.put(new Key(`${ROOT}/ids/${groupId}/${id}`), encoder.encode(cursor))
  }

  async putPending (groupId: string, target: string, op: PendingOp): Promise<void> {
    this.pendingTargets.add(`${groupId}/${target}`)
    await this.datastore.put(new Key(`${ROOT}/pending/${groupId}/${target}/${op.id}`), json(op))
  }

  /** Takes (and deletes) the operations waiting for `target` */
  async takePending (groupId: string, target: string): Promise<PendingOp[]> {
    if (!this.pendingTargets.delete(`${groupId}/${target}`)) {
      return []
    }
    const out: Array<{ key: Key, op: PendingOp }> = []
    for await (const { key, value } of this.datastore.query({ prefix: `${ROOT}/pending/${groupId}/${target}/` })) {
      out.push({ key, op: parse<PendingOp>(value) })
    }
    for (const { key } of out) {
      await this.datastore.delete(key)
    }
    return out.map(o => o.op).sort((a, b) => a.timestamp - b.timestamp)
  }
}
