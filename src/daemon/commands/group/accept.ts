import { CLIENT_OPTIONS } from '../command.ts'
import { DISPLAY_NAME_OPTION, formatGroup } from './shared.ts'
import type { GroupInfo } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupAccept: Command = {
  name: 'group accept',
  summary: 'Join the group of the latest invite a contact sent (see `contact:invite` on the event stream)',
  usage: 'group accept [--from CONTACT] [--display-name NAME] [--json]',
  positionals: { min: 0, max: 0 },
  options: {
    ...CLIENT_OPTIONS,
    from: { type: 'string', arg: 'CONTACT', description: 'The latest invite from this contact (default: from anyone)' },
    'display-name': DISPLAY_NAME_OPTION
  },
  async run (ctx) {
    const group = await (await ctx.client()).post<GroupInfo>('/v1/groups/accept', {
      from: ctx.values.from,
      displayName: ctx.values['display-name']
    })
    ctx.print(`joined ${formatGroup(group)}`, group)
    return 0
  }
}
