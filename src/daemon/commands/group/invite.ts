import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupInvite: Command = {
  name: 'group invite',
  summary: 'Print an invite code for a group (it carries the group key: share it only with the invitee)',
  usage: 'group invite <group> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const { invite } = await client.post<{ invite: string }>(`/v1/groups/${group.id}/invite`)
    ctx.print(invite, { groupId: group.id, invite })
    return 0
  }
}
