import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupEdit: Command = {
  name: 'group edit',
  summary: 'Edit one of your messages',
  usage: 'group edit <group> <msg-id> <text> [--json]',
  positionals: { min: 3, max: 3 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const res = await client.request('PUT', `/v1/groups/${group.id}/messages/${encodeURIComponent(ctx.positionals[1])}`, { content: ctx.positionals[2] })
    ctx.print(`edited ${ctx.positionals[1]}`, res)
    return 0
  }
}
