/**
 * What every command is made of: its grammar (name, positionals, options,
 * help text) and a handler that gets a context. The handlers never touch
 * `process` directly, so they run the same from the `murmur` binary and from
 * tests.
 */

import { ApiClient } from '../api/client.ts'
import { resolveHome } from '../home.ts'
import type { Readable, Writable } from 'node:stream'

export interface OptionSpec {
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  description: string
  /** Placeholder in help, e.g. `MA` */
  arg?: string
}

export interface CommandIo {
  stdout: Writable
  stderr: Writable
  /** Where interactive commands (`chat`) read lines; the binary's is process.stdin */
  stdin?: Readable
  env: NodeJS.ProcessEnv
  /** Where signals come from; the binary passes `process` */
  signals?: { on(signal: 'SIGINT' | 'SIGTERM', fn: () => void): unknown, off(signal: 'SIGINT' | 'SIGTERM', fn: () => void): unknown }
}

export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>

export interface CommandContext {
  io: CommandIo
  values: Values
  positionals: string[]
  json: boolean
  home: string
  /** A control-API client for the daemon on this home (honours `--api`) */
  client(): Promise<ApiClient>
  /** Prints `json` with --json, else the human text */
  print(human: string, json: unknown): void
}

export interface Command {
  name: string
  summary: string
  /** e.g. `connect <multiaddr>` */
  usage: string
  positionals?: { min: number, max: number }
  options: Record<string, OptionSpec>
  /** Returns the exit code */
  run(ctx: CommandContext): Promise<number>
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  home: { type: 'string', arg: 'DIR', description: 'Murmur home (default: $MURMUR_HOME or ~/.murmur)' },
  json: { type: 'boolean', description: 'Print JSON instead of text' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' }
}

/** For commands that talk to a running daemon */
export const CLIENT_OPTIONS: Record<string, OptionSpec> = {
  api: { type: 'string', arg: 'HOST:PORT', description: 'Control API address (default: the one the daemon on --home wrote)' }
}

export function makeContext (io: CommandIo, values: Values, positionals: string[]): CommandContext {
  const json = values.json === true
  const home = resolveHome(values.home as string | undefined, io.env)
  return {
    io,
    values,
    positionals,
    json,
    home,
    client: async () => ApiClient.forHome(home, values.api as string | undefined),
    print: (human, data) => {
      const text = json ? JSON.stringify(data, null, 2) : human
      io.stdout.write(text.endsWith('\n') ? text : text + '\n')
    }
  }
}

export function helpText (cmd: Command): string {
  const options = { ...cmd.options, ...GLOBAL_OPTIONS }
  const lines = [`Usage: murmur ${cmd.usage}`, '', cmd.summary, '', 'Options:']
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short != null ? `-${spec.short}, ` : '    '}--${name}${spec.arg != null ? ` ${spec.arg}` : ''}`
    return [flag, spec.description + (spec.multiple === true ? ' (repeatable)' : '')]
  })
  const width = Math.max(...rows.map(r => r[0].length))
  for (const [flag, text] of rows) {
    lines.push(`  ${flag.padEnd(width)}  ${text}`)
  }
  return lines.join('\n') + '\n'
}
