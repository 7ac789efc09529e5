/**
 * What the `group …` commands share: finding a group or a member by what the
 * user typed (an id, a unique id prefix or a name) and printing entries.
 */

import { UsageError } from '../../errors.ts'
import type { GroupInfo, MemberInfo, TimelineEntry } from '../../../groups/index.ts'
import type { ApiClient } from '../../api/client.ts'

/** Shortest id prefix accepted in place of a whole id */
const MIN_PREFIX = 4

export async function resolveGroup (client: ApiClient, ref: string): Promise<GroupInfo> {
  const { groups } = await client.get<{ groups: GroupInfo[] }>('/v1/groups')
  const exact = groups.find(g => g.id === ref)
  if (exact != null) {
    return exact
  }
  const byPrefix = ref.length >= MIN_PREFIX ? groups.filter(g => g.id.startsWith(ref)) : []
  const byName = groups.filter(g => g.name === ref)
  const matches = byPrefix.length > 0 ? byPrefix : byName
  if (matches.length === 1) {
    return matches[0]
  }
  if (matches.length === 0) {
    throw new UsageError(`no group "${ref}" (see \`murmur group list\`)`)
  }
  throw new UsageError(`"${ref}" names ${matches.length} groups: use the id`)
}

export function resolveMember (group: GroupInfo, ref: string): MemberInfo {
  const matches = group.members.filter(m => m.id === ref || (ref.length >= MIN_PREFIX && m.id.startsWith(ref)) || m.name === ref)
  if (matches.length === 1) {
    return matches[0]
  }
  throw new UsageError(matches.length === 0 ? `no member "${ref}" in ${group.name}` : `"${ref}" names ${matches.length} members: use the id`)
}

export function memberLabel (members: MemberInfo[], id: string): string {
  const m = members.find(x => x.id === id)
  return m?.name != null ? `${m.name} (${id.slice(0, 8)})` : id.slice(0, 8)
}

export function formatEntry (entry: TimelineEntry, members: MemberInfo[]): string {
  const time = new Date(entry.timestamp).toISOString().replace('T', ' ').slice(0, 19)
  const text = entry.deleted ? '(deleted)' : entry.content + (entry.edited ? ' (edited)' : '')
  const reply = entry.replyTo != null ? ` ↩ ${entry.replyTo.slice(0, 8)}` : ''
  const reactions = Object.entries(entry.reactions).map(([r, who]) => `${r} ${who.length}`).join(' ')
  return `${time}  #${entry.channel}  ${memberLabel(members, entry.author)}${reply}: ${text}${reactions !== '' ? `  [${reactions}]` : ''}  <${entry.id}>`
}

export function formatGroup (g: GroupInfo): string {
  return `${g.id}  ${g.name}  (${g.members.length} member${g.members.length === 1 ? '' : 's'}, epoch ${g.epoch}${g.admin ? ', admin' : ''})`
}

export const DISPLAY_NAME_OPTION = { type: 'string' as const, arg: 'NAME', description: 'Your display name in this group' }
