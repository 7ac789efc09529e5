import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'
import type { NodeStatus } from '../../node/index.ts'

export const status: Command = {
  name: 'status',
  summary: 'Show the running daemon\'s state: peers, routing table, roles, uptime',
  usage: 'status [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const s = await (await ctx.client()).get<NodeStatus>('/v1/status')
    ctx.print([
      `peer id:        ${s.peerId}`,
      `version:        ${s.version}`,
      `roles:          ${s.roles.length > 0 ? s.roles.join(', ') : '(none)'}`,
      `peers:          ${s.peers} connected (${s.connections} connections), ${s.knownPeers} known`,
      `routing table:  ${s.routingTable} peers, DHT ${s.dhtMode} mode`,
      `uptime:         ${s.uptimeSeconds} s (since ${s.startedAt})`,
      'addresses:',
      ...s.addresses.map(a => `  ${a}`)
    ].join('\n'), s)
    return 0
  }
}
