import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'
import type { PeerSummary } from '../../node/index.ts'

export const peers: Command = {
  name: 'peers',
  summary: 'List the peers the daemon is connected to, with their addresses',
  usage: 'peers [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).get<{ peers: PeerSummary[] }>('/v1/peers')
    const human = res.peers.length === 0
      ? 'no peers connected'
      : res.peers.map(p => `${p.peerId}  ${p.direction.padEnd(8)}  ${p.addresses.join(' ')}`).join('\n')
    ctx.print(human, res)
    return 0
  }
}
