import { CLIENT_OPTIONS } from '../command.ts'
import { formatEntry, resolveGroup } from './shared.ts'
import type { MemberInfo, TimelineEntry } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupTail: Command = {
  name: 'group tail',
  summary: "Follow a group's new messages, edits and membership changes live, until Ctrl-C",
  usage: 'group tail <group> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const group = await resolveGroup(client, ctx.positionals[0])
    let members = group.members
    const stop = new AbortController()
    const onSignal = (): void => { stop.abort() }
    ctx.io.signals?.on('SIGINT', onSignal)
    ctx.io.signals?.on('SIGTERM', onSignal)
    try {
      for await (const { event, data } of client.events({ signal: stop.signal })) {
        const detail = data as { groupId?: string, entry?: TimelineEntry, members?: MemberInfo[] }
        if (!event.startsWith('group:') || detail.groupId !== group.id) {
          continue
        }
        if (event === 'group:membership' && detail.members != null) {
          members = detail.members
          ctx.print(`members: ${members.map(m => m.name ?? m.id.slice(0, 8)).join(', ')}`, { event, ...detail })
        } else if (detail.entry != null) {
          ctx.print(`${event === 'group:update' ? '~ ' : ''}${formatEntry(detail.entry, members)}`, { event, ...detail })
        }
      }
    } catch (err: any) {
      if (!stop.signal.aborted) {
        throw err
      }
    } finally {
      ctx.io.signals?.off('SIGINT', onSignal)
      ctx.io.signals?.off('SIGTERM', onSignal)
    }
    return 0
  }
}
