import { CLIENT_OPTIONS } from '../command.ts'
import type { ContactInfo } from '../../../contacts/index.ts'
import type { Command } from '../command.ts'

export const contactList: Command = {
  name: 'contact list',
  summary: 'List contacts',
  usage: 'contact list [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).get<{ contacts: ContactInfo[] }>('/v1/contacts')
    const lines = res.contacts.map(c => `${c.id}  ${(c.name ?? '-').padEnd(16)}  ${c.session ? 'session' : 'no session yet'}`)
    ctx.print(lines.length > 0 ? lines.join('\n') : '(no contacts: add one with `murmur contact add <card>`)', res)
    return 0
  }
}
