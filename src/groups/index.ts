/**
 * @packageDocumentation
 *
 * End-to-end encrypted groups over gossipsub (DESIGN.md, "Groups").
 *
 * A group is a secret: its 32-byte id travels only in invite codes, and its
 * gossipsub topic `/murmur/1/g/<hex>` is a one-way hash of that id, so the
 * topic tells an outsider nothing. Every envelope on the topic is
 * `{ version, epoch, nonce, ciphertext }`; inside the XChaCha20-Poly1305
 * ciphertext (keyed by the epoch key) sit the author's public messaging
 * identity, its Ed25519 signature and the body (MESSAGE, EDIT, DELETE, REACT,
 * and the membership messages JOIN, LEAVE, ROSTER, REKEY). Gossipsub runs with
 * `StrictNoSign` and message id = SHA-256 of the envelope, so the libp2p layer
 * names no author.
 *
 * Membership: the creator is the admin. An invite carries the group id, the
 * current epoch key and the admin's public identity; a joiner announces
 * itself with a signed JOIN and the admin answers with a ROSTER. Removing a
 * member (or a member leaving) makes the admin draw a new epoch key and send
 * it, sealed to each remaining member's X25519 key (`seal` of src/identity),
 * in a REKEY under the old epoch; the removed member cannot open any box, and
 * its envelopes are refused from then on.
 *
 * Validation: the topic validator REJECTs envelopes that are oversized
 * (default 64 KiB), malformed, of an unknown epoch, that fail the AEAD or the
 * signature, are stale or from the future, replayed, or from a removed member;
 * the figures are `murmur_groups_envelopes_total{result,reason}`. EDIT and
 * DELETE are honoured only from the original author, REACT from any member.
 *
 * Persistence: groups, keys, members and timelines live in the node's
 * datastore under `/murmur/groups/…` (see `timeline.ts`).
 *
 * Hooks for the layers that come later:
 *
 * - Anonymous publish (onion layer): `sealEnvelope(groupId, message)` returns
 * `{ topic, envelope, messageId }` without publishing or touching the
 * timeline; hand `topic` and `envelope` to a route's exit, which calls
 * `publishEnvelope(topic, envelope)` on its own `murmur.groups` (it need not
 * be a member). The author gets its own message back from the topic like
 * every member, marked `self`.
 * - Group history (store layer): `ingestEnvelope(topic, envelope)` runs an
 * envelope fetched from elsewhere through the same validation (with a
 * history window of 7 days instead of the live window) into the timeline,
 * de-duplicated by message id; it answers `{ result, reason }`.
 *
 * @example
 *
 * ```TypeScript
 * import { createMurmur } from 'murmur'
 *
 * const alice = await createMurmur({ home: './alice' })
 * await alice.start()
 * const group = await alice.groups.create('ops-team', { displayName: 'alice' })
 * const invite = await alice.groups.invite(group.id)
 * // on another peer: await bob.groups.join(invite, { displayName: 'bob' })
 * alice.groups.addEventListener('message', (evt) => { console.info(evt.detail.entry.content) })
 * await alice.groups.send(group.id, 'hello')
 * ```
 */

import { DefaultGroups } from './groups.ts'
import type { GroupsMetrics } from './metrics.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurLogger } from '../node/index.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Startable } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { TypedEventTarget } from 'main-event'
import type { Registry } from 'prom-client'

export { groupTopic, GROUP_TOPIC_PREFIX } from './topic.ts'
export { encodeInvite, parseInvite, INVITE_PREFIX } from './invite.ts'
export type { Invite } from './invite.ts'
export { decodeEnvelope, decodeBody, DEFAULT_MAX_ENVELOPE_BYTES } from './codec.ts'
export * from './errors.ts'
export type { GroupsMetrics }

export interface GroupInfo {
  /** hex, the group's secret id */
  id: string
  name: string
  topic: string
  epoch: number
  /** whether this peer is an admin */
  admin: boolean
  members: MemberInfo[]
  createdAt: number
}

export interface MemberInfo {
  /** identity id */
  id: string
  name?: string
  admin: boolean
  self: boolean
}

export interface Attachment {
  name: string
  type: string
  size: number
  /** hex sha-256 of the content */
  hash: string
}

export interface TimelineEntry {
  id: string
  groupId: string
  channel: string
  /** identity id */
  author: string
  self: boolean
  /** ms */
  timestamp: number
  content: string
  replyTo?: string
  attachments: Attachment[]
  edited: boolean
  deleted: boolean
  /** reaction -> identity ids */
  reactions: Record<string, string[]>
  cursor: string
}

export interface GroupsEvents {
  /** a new entry in a timeline */
  message: CustomEvent<{ groupId: string, entry: TimelineEntry }>
  /** an entry edited, deleted or reacted to */
  update: CustomEvent<{ groupId: string, entry: TimelineEntry }>
  membership: CustomEvent<{ groupId: string, members: MemberInfo[] }>
}

/** What `sealEnvelope` can seal */
export type OutgoingMessage =
  { type: 'message', content: string, channel?: string, replyTo?: string, attachments?: Attachment[] } |
  { type: 'edit', target: string, content: string } |
  { type: 'delete', target: string } |
  { type: 'react', target: string, reaction: string }

export interface SealedEnvelope {
  topic: string
  envelope: Uint8Array
  messageId: string
}

export interface IngestResult {
  result: 'accept' | 'reject' | 'ignore'
  reason?: string
}

export interface Groups extends TypedEventTarget<GroupsEvents> {
  create(name: string, opts?: { displayName?: string }): Promise<GroupInfo>
  /** an invite code: a copyable string */
  invite(groupId: string): Promise<string>
  join(invite: string, opts?: { displayName?: string }): Promise<GroupInfo>
  list(): Promise<GroupInfo[]>
  get(groupId: string): Promise<GroupInfo>
  /** With `anonymous: true` the envelope enters the topic at an onion exit, not at this peer */
  send(groupId: string, content: string, opts?: { channel?: string, replyTo?: string, attachments?: Attachment[], anonymous?: boolean }): Promise<TimelineEntry>
  edit(groupId: string, messageId: string, content: string): Promise<void>
  delete(groupId: string, messageId: string): Promise<void>
  react(groupId: string, messageId: string, reaction: string): Promise<void>
  read(groupId: string, opts?: { channel?: string, since?: string, limit?: number }): Promise<{ entries: TimelineEntry[], cursor: string }>
  members(groupId: string): Promise<MemberInfo[]>
  remove(groupId: string, memberId: string): Promise<void>
  leave(groupId: string): Promise<void>

  /** Seals an envelope for `groupId` without publishing it (anonymous publish through an onion exit) */
  sealEnvelope(groupId: string, message: OutgoingMessage): Promise<SealedEnvelope>
  /** Publishes an envelope as is on a group topic; this peer need not be a member */
  publishEnvelope(topic: string, envelope: Uint8Array): Promise<void>
  /** Validates an envelope obtained elsewhere (a store node's history) and adds it to the timeline */
  ingestEnvelope(topic: string, envelope: Uint8Array): Promise<IngestResult>
}

export interface GroupsInit {
  /**
   * Largest envelope accepted or sent, in bytes
   *
   * @default 65536
   */
  maxEnvelopeBytes?: number
  /**
   * Live envelopes older than this (by their author's timestamp) are stale
   *
   * @default 600000 (10 minutes)
   */
  maxAgeMs?: number
  /**
   * Envelopes dated further ahead than this are refused (clock skew allowance)
   *
   * @default 120000 (2 minutes)
   */
  maxFutureMs?: number
  /**
   * How old an envelope given to `ingestEnvelope` (group history) may be
   *
   * @default 604800000 (7 days, the store's retention)
   */
  historyMaxAgeMs?: number
  /**
   * Entries `read` answers when no `limit` is given
   *
   * @default 500
   */
  readLimit?: number
}

/** Only what the layer uses, so a test can hand it stubs */
export interface GroupsComponents {
  pubsub: GossipSub
  datastore: Datastore
  logger: MurmurLogger
  metricsRegistry?: Registry
  identity: MessagingIdentity
  /**
   * Has an onion exit publish an envelope on a topic (`onion.publish`), for
   * `send(…, { anonymous: true })`; without it anonymous sends are refused
   */
  anonymousPublisher?(topic: string, envelope: Uint8Array): Promise<void>
}

export type GroupsLayer = Groups & Startable

export function groups (init: GroupsInit = {}): (components: GroupsComponents) => GroupsLayer {
  return (components) => new DefaultGroups(components, init)
}
