import { CLIENT_OPTIONS } from './command.ts'
import { formatMessage } from './contact/format.ts'
import type { Command } from './command.ts'
import type { ContactInfo, DirectMessage } from '../../contacts/index.ts'

export const inbox: Command = {
  name: 'inbox',
  summary: '1:1 messages, oldest first (all contacts, or one)',
  usage: 'inbox [--contact C] [--limit N] [--json]',
  options: {
    ...CLIENT_OPTIONS,
    contact: { type: 'string', arg: 'C', description: 'Only this contact (name, id or id prefix)' },
    limit: { type: 'string', arg: 'N', description: 'Only the last N messages' }
  },
  async run (ctx) {
    const client = await ctx.client()
    const q = new URLSearchParams()
    if (typeof ctx.values.contact === 'string') {
      q.set('contact', ctx.values.contact)
    }
    if (typeof ctx.values.limit === 'string') {
      q.set('limit', ctx.values.limit)
    }
    const res = await client.get<{ messages: DirectMessage[] }>(`/v1/inbox?${q.toString()}`)
    const { contacts } = await client.get<{ contacts: ContactInfo[] }>('/v1/contacts')
    const names = new Map(contacts.map(c => [c.id, c.name ?? c.id.slice(0, 8)]))
    ctx.print(res.messages.length > 0 ? res.messages.map(m => formatMessage(m, names)).join('\n') : '(no messages)', res)
    return 0
  }
}
