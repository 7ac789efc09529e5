import { CLIENT_OPTIONS } from '../command.ts'
import { resolveGroup } from './shared.ts'
import type { TimelineEntry } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupSend: Command = {
  name: 'group send',
  summary: 'Send a message to a group',
  usage: 'group send <group> <text> [--channel C] [--reply-to MSG] [--anonymous] [--json]',
  positionals: { min: 2, max: 2 },
  options: {
    ...CLIENT_OPTIONS,
    channel: { type: 'string', arg: 'C', description: 'Channel (default: general)' },
    'reply-to': { type: 'string', arg: 'MSG', description: 'Id of the message this answers' },
    anonymous: { type: 'boolean', description: 'Publish through an onion route: the message enters the group at an exit relay, not at this peer' }
  },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const entry = await client.post<TimelineEntry>(`/v1/groups/${group.id}/messages`, {
      content: ctx.positionals[1],
      channel: ctx.values.channel,
      replyTo: ctx.values['reply-to'],
      anonymous: ctx.values.anonymous === true ? true : undefined
    })
    ctx.print(entry.id, entry)
    return 0
  }
}
