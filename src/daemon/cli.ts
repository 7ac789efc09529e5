/**
 * The `murmur` command line: `murmur <command> [subcommand] [args] [flags]`.
 * A command's name may have several words (`group send`), one file each under
 * `commands/<group>/`. Parses the
 * grammar, builds a context and runs the command; returns the exit code
 * (0 done, 1 failed, 2 bad usage or configuration — nothing done).
 */

import { parseArgs } from 'node:util'
import { chat } from './commands/chat.ts'
import { GLOBAL_OPTIONS, helpText, makeContext } from './commands/command.ts'
import { connect } from './commands/connect.ts'
import { contactAdd } from './commands/contact/add.ts'
import { contactCard } from './commands/contact/card.ts'
import { contactList } from './commands/contact/list.ts'
import { daemon } from './commands/daemon.ts'
import { groupAccept } from './commands/group/accept.ts'
import { groupCreate } from './commands/group/create.ts'
import { groupDelete } from './commands/group/delete.ts'
import { groupEdit } from './commands/group/edit.ts'
import { groupInvite } from './commands/group/invite.ts'
import { groupJoin } from './commands/group/join.ts'
import { groupLeave } from './commands/group/leave.ts'
import { groupList } from './commands/group/list.ts'
import { groupMembers } from './commands/group/members.ts'
import { groupReact } from './commands/group/react.ts'
import { groupRead } from './commands/group/read.ts'
import { groupRemove } from './commands/group/remove.ts'
import { groupSend } from './commands/group/send.ts'
import { groupTail } from './commands/group/tail.ts'
import { id } from './commands/id.ts'
import { identityExport } from './commands/identity/export.ts'
import { identityImport } from './commands/identity/import.ts'
import { identityShow } from './commands/identity/show.ts'
import { inbox } from './commands/inbox.ts'
import { init } from './commands/init.ts'
import { onionSend } from './commands/onion/send.ts'
import { onionStatus } from './commands/onion/status.ts'
import { peers } from './commands/peers.ts'
import { ping } from './commands/ping.ts'
import { send } from './commands/send.ts'
import { status } from './commands/status.ts'
import { stop } from './commands/stop.ts'
import { storeDeposit } from './commands/store/deposit.ts'
import { storeFetch } from './commands/store/fetch.ts'
import { storeFollow } from './commands/store/follow.ts'
import { storeStatus } from './commands/store/status.ts'
import { exitCodeOf, UsageError } from './errors.ts'
import type { Command, CommandIo, OptionSpec } from './commands/command.ts'

export const COMMANDS: readonly Command[] = [
  init, daemon, id, status, peers, connect, ping, stop,
  identityShow, identityExport, identityImport,
  contactCard, contactAdd, contactList, send, inbox, chat,
  onionStatus, onionSend,
  storeStatus, storeDeposit, storeFetch, storeFollow,
  groupCreate, groupInvite, groupJoin, groupSend, groupEdit, groupDelete, groupReact,
  groupRead, groupTail, groupMembers, groupRemove, groupLeave, groupList, groupAccept
]

export function mainHelp (commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map(c => c.name.length))
  return [
    'Usage: murmur <command> [options]',
    '',
    'Murmur: a metadata-private messaging network on libp2p.',
    '',
    'Commands:',
    ...commands.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --home DIR, --json and --help.',
    'Run `murmur <command> --help` for its options.',
    ''
  ].join('\n')
}

function toParseArgs (options: Record<string, OptionSpec>): Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> {
  return Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, {
    type: spec.type,
    ...(spec.multiple === true ? { multiple: true } : {}),
    ...(spec.short != null ? { short: spec.short } : {})
  }]))
}

export async function main (argv: string[], io: CommandIo): Promise<number> {
  const [name] = argv
  if (name == null || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(mainHelp())
    return name == null ? 2 : 0
  }
  if (name === '--version' || name === 'version') {
    const { VERSION } = await import('../node/version.ts')
    io.stdout.write(VERSION + '\n')
    return 0
  }
  const found = findCommand(argv)
  if (found == null) {
    // `murmur group` alone, or with an unknown subcommand: list that family
    const family = COMMANDS.filter(c => c.name.startsWith(`${name} `))
    if (family.length > 0) {
      const sub = argv[1]
      const asksHelp = sub === '--help' || sub === '-h'
      const complaint = sub == null || asksHelp ? '' : `murmur: unknown command "${name} ${sub}"\n\n`
      ;(asksHelp ? io.stdout : io.stderr).write(complaint + mainHelp(family))
      return asksHelp ? 0 : 2
    }
    io.stderr.write(`murmur: unknown command "${name}"\n\n${mainHelp()}`)
    return 2
  }
  const { command, rest } = found

  try {
    return await runCommand(command, rest, io)
  } catch (err: any) {
    const code = exitCodeOf(err)
    if (rest.includes('--json')) {
      io.stderr.write(JSON.stringify({ error: { code: err?.name ?? 'Error', message: err?.message ?? String(err) } }) + '\n')
    } else {
      const hint = code === 2 ? `\nRun \`murmur ${command.name} --help\` for usage.` : ''
      io.stderr.write(`murmur ${command.name}: ${err?.message ?? String(err)}${hint}\n`)
    }
    return code
  }
}

/** The command whose (possibly multi-word) name starts argv, the longest first */
export function findCommand (argv: string[]): { command: Command, rest: string[] } | undefined {
  let best: { command: Command, rest: string[] } | undefined
  for (const command of COMMANDS) {
    const words = command.name.split(' ')
    if (words.every((w, i) => argv[i] === w) && (best == null || words.length > best.command.name.split(' ').length)) {
      best = { command, rest: argv.slice(words.length) }
    }
  }
  return best
}

async function runCommand (command: Command, args: string[], io: CommandIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      options: toParseArgs({ ...command.options, ...GLOBAL_OPTIONS }),
      allowPositionals: true,
      allowNegative: true,
      strict: true
    })
  } catch (err: any) {
    throw new UsageError(err.message)
  }
  if (parsed.values.help === true) {
    io.stdout.write(helpText(command))
    return 0
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 }
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw new UsageError(`${parsed.positionals.length < min ? 'missing' : 'unexpected'} argument: usage is murmur ${command.usage}`)
  }
  return command.run(makeContext(io, parsed.values, parsed.positionals))
}
