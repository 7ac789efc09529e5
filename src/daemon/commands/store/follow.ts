import { CLIENT_OPTIONS } from '../command.ts'
import type { Command } from '../command.ts'

export const storeFollow: Command = {
  name: 'store follow',
  summary: 'Keep a group topic\'s (encrypted) envelopes for history on this store node, for up to its TTL',
  usage: 'store follow <topic> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const [topic] = ctx.positionals
    const answer = await (await ctx.client()).post<{ following: string }>('/v1/store/follow', { topic })
    ctx.print(`following ${answer.following}`, answer)
    return 0
  }
}
