import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupInvite: Command = {
  name: 'group invite',
  summary: 'Print an invite code for a group (it carries the group key: share it only with the invitee), or send it to a contact',
  usage: 'group invite <group> [--to CONTACT] [--json]',
  positionals: { min: 1, max: 1 },
  options: {
    ...CLIENT_OPTIONS,
    to: { type: 'string', arg: 'CONTACT', description: 'Send the code to this contact through its 1:1 session instead of printing it' }
  },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const to = ctx.values.to as string | undefined
    const res = await client.post<{ invite: string, to?: string }>(`/v1/groups/${group.id}/invite`, to != null ? { to } : undefined)
    ctx.print(to != null ? `invite to ${group.name} sent to ${to}` : res.invite, { groupId: group.id, ...res })
    return 0
  }
}
