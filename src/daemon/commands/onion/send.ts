import { peerIdFromString } from '@libp2p/peer-id'
import { UsageError } from '../../errors.ts'
import { CLIENT_OPTIONS } from '../command.ts'
import type { SendResult } from '../../../onion/index.ts'
import type { Command } from '../command.ts'

export const onionSend: Command = {
  name: 'onion send',
  summary: 'Send a text to a peer over an onion route and wait for its ack',
  usage: 'onion send <peer-id> <text> [--hops N] [--json]',
  positionals: { min: 2, max: 2 },
  options: {
    ...CLIENT_OPTIONS,
    hops: { type: 'string', arg: 'N', description: 'Relays on the route, 1 to 4 (default 3)' }
  },
  async run (ctx) {
    const [peerId, text] = ctx.positionals
    try {
      peerIdFromString(peerId)
    } catch {
      throw new UsageError(`Not a peer id: ${peerId}`)
    }
    let hops: number | undefined
    if (ctx.values.hops !== undefined) {
      hops = Number(ctx.values.hops)
      if (!Number.isInteger(hops) || hops < 1 || hops > 4) {
        throw new UsageError('--hops must be an integer from 1 to 4')
      }
    }
    const result = await (await ctx.client()).post<SendResult & { ms: number }>('/v1/onion/send', { peerId, text, hops })
    ctx.print(`acked by ${peerId} in ${result.ms} ms (message ${result.messageId}, ${result.fragments} fragment(s), ${result.attempts} route(s))`, result)
    return 0
  }
}
