import { parseDialable } from '../../node/murmur.ts'
import { UsageError } from '../errors.ts'
import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'
import type { PeerSummary } from '../../node/index.ts'

export const connect: Command = {
  name: 'connect',
  summary: 'Make the daemon dial a peer by its full multiaddr (…/p2p/<peer id>)',
  usage: 'connect <multiaddr> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const [addr] = ctx.positionals
    try {
      parseDialable(addr)
    } catch (err: any) {
      throw new UsageError(err.message)
    }
    const peer = await (await ctx.client()).post<PeerSummary>('/v1/connect', { addr })
    ctx.print(`connected to ${peer.peerId} at ${peer.addresses.join(' ')}`, peer)
    return 0
  }
}
