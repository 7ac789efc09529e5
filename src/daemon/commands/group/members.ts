import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { MemberInfo } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupMembers: Command = {
  name: 'group members',
  summary: 'List the members of a group as this peer knows them',
  usage: 'group members <group> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const res = await client.get<{ members: MemberInfo[] }>(`/v1/groups/${group.id}/members`)
    const lines = res.members.map(m => `${m.id}  ${m.name ?? ''}${m.admin ? '  admin' : ''}${m.self ? '  (you)' : ''}`)
    ctx.print(lines.join('\n'), res)
    return 0
  }
}
