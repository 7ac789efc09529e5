import { CLIENT_OPTIONS } from '../command.ts'
import type { Command } from '../command.ts'

export const identityShow: Command = {
  name: 'identity show',
  summary: 'Show the messaging identity (who you are to contacts; not the peer id)',
  usage: 'identity show [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).get<{ id: string, signingKey: string, dhKey: string }>('/v1/identity')
    ctx.print([
      `identity:     ${res.id}`,
      `signing key:  ${res.signingKey} (Ed25519)`,
      `DH key:       ${res.dhKey} (X25519)`
    ].join('\n'), res)
    return 0
  }
}
