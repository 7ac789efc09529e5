import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupDelete: Command = {
  name: 'group delete',
  summary: 'Delete one of your messages',
  usage: 'group delete <group> <msg-id> [--json]',
  positionals: { min: 2, max: 2 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const res = await client.request('DELETE', `/v1/groups/${group.id}/messages/${encodeURIComponent(ctx.positionals[1])}`)
    ctx.print(`deleted ${ctx.positionals[1]}`, res)
    return 0
  }
}
