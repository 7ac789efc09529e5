import { UsageError } from '../../errors.ts'
import { CLIENT_OPTIONS } from '../command.ts'
import { formatEntry, resolveGroup } from './shared.ts'
import type { TimelineEntry } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupRead: Command = {
  name: 'group read',
  summary: "Print a group's timeline, edits, deletes and reactions applied",
  usage: 'group read <group> [--channel C] [--since CURSOR] [--limit N] [--json]',
  positionals: { min: 1, max: 1 },
  options: {
    ...CLIENT_OPTIONS,
    channel: { type: 'string', arg: 'C', description: 'Only this channel' },
    since: { type: 'string', arg: 'CURSOR', description: 'Only entries after this cursor (from an earlier read)' },
    limit: { type: 'string', arg: 'N', description: 'At most N entries (default 500)' }
  },
  async run (ctx) {
    const limit = ctx.values.limit as string | undefined
    if (limit != null && !/^[1-9][0-9]*$/.test(limit)) {
      throw new UsageError('--limit is a positive integer')
    }
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    const query = new URLSearchParams()
    for (const key of ['channel', 'since', 'limit']) {
      const value = ctx.values[key]
      if (typeof value === 'string') {
        query.set(key, value)
      }
    }
    const res = await client.get<{ entries: TimelineEntry[], cursor: string }>(`/v1/groups/${group.id}/messages?${query}`)
    const lines = res.entries.map(e => formatEntry(e, group.members))
    ctx.print(lines.length === 0 ? `no messages (cursor ${res.cursor})` : `${lines.join('\n')}\ncursor ${res.cursor}`, res)
    return 0
  }
}
