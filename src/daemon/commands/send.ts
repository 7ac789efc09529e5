import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'
import type { SendResult } from '../../contacts/index.ts'

export const send: Command = {
  name: 'send',
  summary: 'Send an end-to-end encrypted 1:1 message to a contact',
  usage: 'send <contact> <text> [--reply-to ID] [--json]',
  positionals: { min: 2, max: 2 },
  options: {
    ...CLIENT_OPTIONS,
    'reply-to': { type: 'string', arg: 'ID', description: 'The message this one answers' }
  },
  async run (ctx) {
    const [contact, content] = ctx.positionals
    const res = await (await ctx.client()).post<SendResult>(`/v1/contacts/${encodeURIComponent(contact)}/messages`, { content, replyTo: ctx.values['reply-to'] })
    ctx.print(`sent ${res.message.id} (${res.via === 'live' ? 'delivered live' : 'left in the contact\'s mailbox'})`, res)
    return 0
  }
}
