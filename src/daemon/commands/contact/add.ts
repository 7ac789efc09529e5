import { CLIENT_OPTIONS } from '../command.ts'
import type { ContactInfo } from '../../../contacts/index.ts'
import type { Command } from '../command.ts'

export const contactAdd: Command = {
  name: 'contact add',
  summary: 'Add a contact from their card',
  usage: 'contact add <card> [--name NAME] [--json]',
  positionals: { min: 1, max: 1 },
  options: {
    ...CLIENT_OPTIONS,
    name: { type: 'string', arg: 'NAME', description: 'What to call this contact (used by send and chat)' }
  },
  async run (ctx) {
    const c = await (await ctx.client()).post<ContactInfo>('/v1/contacts', { card: ctx.positionals[0], name: ctx.values.name })
    ctx.print(`added contact ${c.name ?? ''} ${c.id}`.replace('  ', ' '), c)
    return 0
  }
}
