import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup, resolveMember } from './shared.ts'
import type { Command } from '../command.ts'

export const groupRemove: Command = {
  name: 'group remove',
  summary: 'Remove a member (admins only); rotates the group key so the member reads nothing new',
  usage: 'group remove <group> <member> [--json]',
  positionals: { min: 2, max: 2 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const member = resolveMember(group, ctx.positionals[1])
    const res = await client.request('DELETE', `/v1/groups/${group.id}/members/${member.id}`)
    ctx.print(`removed ${member.name ?? member.id} from ${group.name}; the group key was rotated`, res)
    return 0
  }
}
