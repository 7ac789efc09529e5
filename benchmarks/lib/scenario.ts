/**
 * What a scenario is, and how its command line is read. A scenario declares
 * its options (with types, bounds and defaults); the harness parses and checks
 * them, gives the scenario a seeded PRNG and a progress display, and writes
 * what it returns (comparisons, tables of raw samples, plots) as files.
 */

import { parseArgs } from 'node:util'
import type { ClusterMode } from './cluster.ts'
import type { Comparison, Figure } from './figures.ts'
import type { Plot } from './plots.ts'
import type { Prng } from './prng.ts'
import type { Progress } from './progress.ts'

/** A bad command line: the harness prints it with the usage and exits with code 2 */
export class UsageError extends Error {
  static readonly exitCode = 2

  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export type OptionSpec =
  | { type: 'int', default: number, min?: number, max?: number, help: string }
  | { type: 'number', default: number, min?: number, max?: number, help: string }
  | { type: 'enum', values: readonly string[], default: string, help: string }
  | { type: 'boolean', help: string }
  | { type: 'string', default?: string, help: string }

export type OptionValue = number | string | boolean | undefined

export interface Table {
  columns: string[]
  rows: Array<Array<string | number | boolean | null>>
}

export interface ScenarioContext<P> {
  params: P
  seed: number
  prng: Prng
  mode: ClusterMode
  progress: Progress
}

export interface ScenarioOutput {
  /** rows of the summary table: each figure per system and its ratio to the baseline */
  comparisons: Comparison[]
  /** figures that compare nothing (e.g. how many nodes fit), in Prometheus form */
  figures: Figure[]
  /** further summary values for result.json and the --json output */
  summary: Record<string, unknown>
  /** things a reader must know to read the figures (profiles used, caveats of this run) */
  notes: string[]
  /** raw samples; `samples` is written to samples.csv, any other table to <name>.csv */
  tables: Record<string, Table> & { samples: Table }
  plots: Plot[]
}

export interface Scenario<P = Record<string, OptionValue>> {
  name: string
  /** one line for `list` */
  summary: string
  options: Record<string, OptionSpec>
  /** accepts --procs */
  supportsProcs: boolean
  run(ctx: ScenarioContext<P>): Promise<ScenarioOutput>
}

/** Options every scenario takes */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  seed: { type: 'int', default: -1, min: 0, max: 0xffffffff, help: 'seed of every random choice (default: a random seed, written to result.json)' },
  out: { type: 'string', help: 'directory to write results into (default: benchmarks/results/<scenario>-<timestamp>/)' },
  procs: { type: 'boolean', help: 'one OS process per node instead of all nodes in this process' },
  json: { type: 'boolean', help: 'print the summary as JSON on stdout (the table goes to stderr)' },
  quiet: { type: 'boolean', help: 'no progress output' },
  help: { type: 'boolean', help: 'show the options of this scenario' }
}

export function camelCase (name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

function parseNumber (name: string, spec: { type: 'int' | 'number', min?: number, max?: number }, raw: string): number {
  const value = raw.trim() === '' ? NaN : Number(raw)
  if (!Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got "${raw}"`)
  }
  if (spec.type === 'int' && !Number.isInteger(value)) {
    throw new UsageError(`--${name} must be a whole number, got "${raw}"`)
  }
  if (spec.min != null && value < spec.min) {
    throw new UsageError(`--${name} must be at least ${spec.min}, got ${raw}`)
  }
  if (spec.max != null && value > spec.max) {
    throw new UsageError(`--${name} must be at most ${spec.max}, got ${raw}`)
  }
  return value
}

/**
 * Reads `args` (the words after the scenario name) against `specs`. Unknown
 * options, missing values, stray words and values out of range are
 * `UsageError`s. Answers camelCased keys.
 */
export function parseOptions (args: string[], specs: Record<string, OptionSpec>): Record<string, OptionValue> {
  // "--rate -1" is a value for --rate, not an option "-1": join it so that the range check speaks
  const joined: string[] = []
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined
    const spec = name != null ? specs[name] : undefined
    if (spec != null && spec.type !== 'boolean' && /^-\d/.test(args[i + 1] ?? '')) {
      joined.push(`${args[i]}=${args[i + 1]}`)
      i++
    } else {
      joined.push(args[i])
    }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: joined,
      strict: true,
      allowPositionals: true,
      options: Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type === 'boolean' ? 'boolean' as const : 'string' as const }]))
    })
  } catch (err: any) {
    throw new UsageError(String(err.message).replace(/\. To specify a positional.*$/s, ''))
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`)
  }
  const out: Record<string, OptionValue> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const raw = parsed.values[name]
    const key = camelCase(name)
    switch (spec.type) {
      case 'boolean':
        out[key] = raw === true
        break
      case 'string':
        out[key] = typeof raw === 'string' ? raw : spec.default
        break
      case 'enum':
        if (typeof raw === 'string' && !spec.values.includes(raw)) {
          throw new UsageError(`--${name} must be one of ${spec.values.join(', ')}, got "${raw}"`)
        }
        out[key] = typeof raw === 'string' ? raw : spec.default
        break
      default:
        out[key] = typeof raw === 'string' ? parseNumber(name, spec, raw) : spec.default
    }
  }
  return out
}

export function optionsHelp (specs: Record<string, OptionSpec>): string {
  const lines: string[] = []
  for (const [name, spec] of Object.entries(specs)) {
    let flag = `--${name}`
    let dflt = ''
    switch (spec.type) {
      case 'int':
      case 'number':
        flag += ' N'
        dflt = spec.default >= 0 ? ` (default ${spec.default})` : ''
        break
      case 'enum':
        flag += ` ${spec.values.join('|')}`
        dflt = ` (default ${spec.default})`
        break
      case 'string':
        flag += ' VALUE'
        dflt = spec.default != null ? ` (default ${spec.default})` : ''
        break
      default:
        break
    }
    lines.push(`  ${flag.padEnd(34)} ${spec.help}${dflt}`)
  }
  return lines.join('\n')
}
