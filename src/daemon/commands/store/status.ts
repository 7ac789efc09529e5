import { CLIENT_OPTIONS } from '../command.ts'
import type { StoreServerStatus } from '../../../store/index.ts'
import type { Command } from '../command.ts'

type StatusAnswer = { serving: false } | ({ serving: true } & StoreServerStatus)

export const storeStatus: Command = {
  name: 'store status',
  summary: 'Show the store node\'s mailboxes, messages, bytes, oldest message and replica sync state',
  usage: 'store status [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const s = await (await ctx.client()).get<StatusAnswer>('/v1/store/status')
    if (!s.serving) {
      ctx.print('This node does not serve mailboxes (start the daemon with --roles store)', s)
      return 0
    }
    ctx.print([
      `mailboxes:       ${s.mailboxes}`,
      `messages:        ${s.messages}`,
      `bytes:           ${s.bytes} of ${s.maxBytes}`,
      `tombstones:      ${s.tombstones}`,
      `oldest message:  ${s.oldestMessage ?? '(none)'}`,
      `ttl:             ${Math.round(s.ttlMs / 3_600_000)} h`,
      `followed topics: ${s.followedTopics.length}`,
      'replicas:',
      ...(s.replicas.length === 0 ? ['  (no sync yet)'] : s.replicas.map(r => `  ${r.peer}  ${r.lastResult ?? '?'}  ${r.lastSync ?? ''}${r.error != null ? `  ${r.error}` : ''}`))
    ].join('\n'), s)
    return 0
  }
}
