import { CLIENT_OPTIONS } from '../command.ts'
import type { DepositReceipt } from '../../../store/index.ts'
import type { Command } from '../command.ts'

export const storeDeposit: Command = {
  name: 'store deposit',
  summary: 'Deposit a text message in a mailbox (named by 64 hex characters) on its store nodes',
  usage: 'store deposit <mailbox> <text> [--ttl-ms N] [--json]',
  positionals: { min: 2, max: 2 },
  options: { ...CLIENT_OPTIONS, 'ttl-ms': { type: 'string', arg: 'N', description: 'Keep it at most N ms (the store node caps it)' } },
  async run (ctx) {
    const [mailbox, text] = ctx.positionals
    const ttl = ctx.values['ttl-ms'] != null ? Number(ctx.values['ttl-ms']) : undefined
    const receipt = await (await ctx.client()).post<DepositReceipt>('/v1/store/deposit', { mailbox, text, ttlMs: ttl })
    ctx.print(`deposited ${receipt.ids.join(', ')} on ${receipt.storedOn.length} store nodes`, receipt)
    return 0
  }
}
