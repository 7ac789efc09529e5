import { CLIENT_OPTIONS } from '../command.ts'
import type { Command } from '../command.ts'

export const contactCard: Command = {
  name: 'contact card',
  summary: 'Print a contact card: the string to give someone so they can write to you',
  usage: 'contact card [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).post<{ card: string }>('/v1/contacts/card')
    ctx.print(res.card, res)
    return 0
  }
}
