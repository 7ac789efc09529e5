import { CLIENT_OPTIONS } from '../command.ts'
import type { OnionStatus } from '../../../onion/index.ts'
import type { Command } from '../command.ts'

export const onionStatus: Command = {
  name: 'onion status',
  summary: 'Show the onion layer: key epoch, packets processed/forwarded/dropped, replay cache, known relays',
  usage: 'onion status [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const s = await (await ctx.client()).get<OnionStatus>('/v1/onion/status')
    const dropped = Object.entries(s.dropped)
    ctx.print([
      `relay:          ${s.relay ? 'yes' : 'no'}`,
      `key epoch:      ${s.epoch} (onion key ${s.onionKey.slice(0, 16)}…)`,
      `packets:        ${s.processed} processed, ${s.forwarded} forwarded, ${s.delivered} for this node`,
      `dropped:        ${dropped.length === 0 ? 'none' : dropped.map(([r, n]) => `${r} ${n}`).join(', ')}`,
      `sent:           ${s.sent} fragments, ${s.acked} acked, ${s.retried} retried, ${s.failed} failed`,
      `probes:         ${s.probes.sent} sent, ${s.probes.returned} returned, ${s.probes.lost} lost, ${s.probes.inFlight} out`,
      `replay cache:   ${s.replayCacheSize} tags`,
      `known relays:   ${s.knownRelays.length}`,
      ...s.knownRelays.map(r => `  ${r.peerId}  epoch ${r.epoch}  load ${r.load}/s  reliability ${r.reliability}`)
    ].join('\n'), s)
    return 0
  }
}
