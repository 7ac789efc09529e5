import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'

export const id: Command = {
  name: 'id',
  summary: 'Show the running daemon\'s peer id and every address it listens on, in full',
  usage: 'id [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).get<{ peerId: string, addresses: string[] }>('/v1/id')
    ctx.print([`peer id: ${res.peerId}`, 'addresses:', ...res.addresses.map(a => `  ${a}`)].join('\n'), res)
    return 0
  }
}
