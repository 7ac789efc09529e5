import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { Command } from '../command.ts'

export const groupLeave: Command = {
  name: 'group leave',
  summary: 'Leave a group and forget it (its history too)',
  usage: 'group leave <group> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const res = await client.post(`/v1/groups/${group.id}/leave`)
    ctx.print(`left ${group.name}`, res)
    return 0
  }
}
