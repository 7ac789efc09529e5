/**
 * The groups layer as the page sees it: the shape of `murmur.groups` from the
 * contract shared with the groups layer (BRIEF "The groups API"), declared
 * here structurally so the page builds whether or not this build has groups.
 */

import type { Murmur } from '../app/index.ts'
import type { TypedEventTarget } from '@libp2p/interface'

export interface MemberInfo { id: string, name?: string, admin: boolean, self: boolean }
export interface Attachment { name: string, type: string, size: number, hash: string }
export interface GroupInfo { id: string, name: string, topic: string, epoch: number, admin: boolean, members: MemberInfo[], createdAt: number }
export interface TimelineEntry {
  id: string
  groupId: string
  channel: string
  author: string
  self: boolean
  timestamp: number
  content: string
  replyTo?: string
  attachments: Attachment[]
  edited: boolean
  deleted: boolean
  reactions: Record<string, string[]>
  cursor: string
}

export interface GroupsEvents {
  message: CustomEvent<{ groupId: string, entry: TimelineEntry }>
  update: CustomEvent<{ groupId: string, entry: TimelineEntry }>
  membership: CustomEvent<{ groupId: string, members: MemberInfo[] }>
}

export interface GroupsApi extends TypedEventTarget<GroupsEvents> {
  create(name: string, opts?: { displayName?: string }): Promise<GroupInfo>
  invite(groupId: string): Promise<string>
  join(invite: string, opts?: { displayName?: string }): Promise<GroupInfo>
  list(): Promise<GroupInfo[]>
  get(groupId: string): Promise<GroupInfo>
  send(groupId: string, content: string, opts?: { channel?: string, replyTo?: string, attachments?: Attachment[] }): Promise<TimelineEntry>
  read(groupId: string, opts?: { channel?: string, since?: string, limit?: number }): Promise<{ entries: TimelineEntry[], cursor: string }>
  members(groupId: string): Promise<MemberInfo[]>
  leave(groupId: string): Promise<void>
}

export type WithGroups = Murmur & { groups?: GroupsApi }

/** The groups layer when this build has one */
export function groupsOf (murmur: Murmur): GroupsApi | undefined {
  return (murmur as WithGroups).groups
}
