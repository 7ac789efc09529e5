import { CLIENT_OPTIONS } from '../command.ts'
import { DISPLAY_NAME_OPTION } from './shared.ts'
import type { GroupInfo } from '../../../groups/index.ts'
import type { Command } from '../command.ts'

export const groupCreate: Command = {
  name: 'group create',
  summary: 'Create an end-to-end encrypted group; prints its id and an invite code',
  usage: 'group create <name> [--display-name NAME] [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS, 'display-name': DISPLAY_NAME_OPTION },
  async run (ctx) {
    const group = await (await ctx.client()).post<GroupInfo & { invite: string }>('/v1/groups', {
      name: ctx.positionals[0],
      displayName: ctx.values['display-name']
    })
    ctx.print(`group ${group.name} ${group.id}\ninvite: ${group.invite}`, group)
    return 0
  }
}
