import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupReact: Command = {
  name: 'group react',
  summary: 'React to a message (any member may)',
  usage: 'group react <group> <msg-id> <reaction> [--json]',
  positionals: { min: 3, max: 3 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const res = await client.post(`/v1/groups/${group.id}/messages/${encodeURIComponent(ctx.positionals[1])}/reactions`, { reaction: ctx.positionals[2] })
    ctx.print(`reacted ${ctx.positionals[2]} to ${ctx.positionals[1]}`, res)
    return 0
  }
}
