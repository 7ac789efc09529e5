import { parseDialable } from '../../node/murmur.ts'
import { UsageError } from '../errors.ts'
import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'

interface PingResult { addr: string, rttsMs: number[], lost: number, minMs: number, medianMs: number, maxMs: number }

export const ping: Command = {
  name: 'ping',
  summary: 'Measure the round trip to a peer with libp2p ping (dials it if needed)',
  usage: 'ping <multiaddr> [--count N] [--json]',
  positionals: { min: 1, max: 1 },
  options: {
    ...CLIENT_OPTIONS,
    count: { type: 'string', arg: 'N', description: 'Pings to send, 1 to 20 (default 3)' }
  },
  async run (ctx) {
    const [addr] = ctx.positionals
    try {
      parseDialable(addr)
    } catch (err: any) {
      throw new UsageError(err.message)
    }
    const count = ctx.values.count === undefined ? 3 : Number(ctx.values.count)
    if (!Number.isInteger(count) || count < 1 || count > 20) {
      throw new UsageError('--count must be an integer from 1 to 20')
    }
    const result = await (await ctx.client()).post<PingResult>('/v1/ping', { addr, count })
    ctx.print(`${result.addr}: ${result.rttsMs.map(r => `${r} ms`).join(', ')} (median ${result.medianMs} ms${result.lost > 0 ? `, ${result.lost} lost` : ''})`, result)
    return 0
  }
}
