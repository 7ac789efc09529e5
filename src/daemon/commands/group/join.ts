import { CLIENT_OPTIONS } from '../command.ts'
import { DISPLAY_NAME_OPTION, formatGroup } from './shared.ts'
import type { GroupInfo } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupJoin: Command = {
  name: 'group join',
  summary: 'Join a group with an invite code',
  usage: 'group join <invite-code> [--display-name NAME] [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS, 'display-name': DISPLAY_NAME_OPTION },
  async run (ctx) {
    const group = await (await ctx.client()).post<GroupInfo>('/v1/groups/join', {
      invite: ctx.positionals[0],
      displayName: ctx.values['display-name']
    })
    ctx.print(`joined ${formatGroup(group)}`, group)
    return 0
  }
}
