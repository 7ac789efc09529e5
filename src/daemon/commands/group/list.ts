import { CLIENT_OPTIONS } from '../command.ts'
import { formatGroup } from './shared.ts'
import type { GroupInfo } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupList: Command = {
  name: 'group list',
  summary: 'List the groups this peer is in',
  usage: 'group list [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const res = await (await ctx.client()).get<{ groups: GroupInfo[] }>('/v1/groups')
    ctx.print(res.groups.length === 0 ? 'no groups' : res.groups.map(formatGroup).join('\n'), res)
    return 0
  }
}
