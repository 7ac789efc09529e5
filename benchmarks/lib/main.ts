/**
 * `npm run bench -- <scenario> [options]`: reads the command line, runs the
 * scenario, writes its files and prints the summary. Exit codes: 0 done,
 * 1 the run failed, 2 a bad command line.
 */

import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SCENARIOS } from '../scenarios/index.ts'
import { machine, software } from './environment.ts'
import { Prng, randomSeed } from './prng.ts'
import { Progress } from './progress.ts'
import { runSummary, textTable, writeReport } from './report.ts'
import { camelCase, COMMON_OPTIONS, optionsHelp, parseOptions, UsageError } from './scenario.ts'
import type { ClusterMode } from './cluster.ts'
import type { OptionValue, Scenario } from './scenario.ts'

export interface MainIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url))

function usage (): string {
  const names = Object.values(SCENARIOS).map(s => `  ${s.name.padEnd(10)} ${s.summary}`).join('\n')
  return [
    'usage: npm run bench -- <scenario> [options]',
    '       npm run bench -- list [--json]',
    '       npm run bench -- <scenario> --help',
    '',
    'scenarios:',
    names
  ].join('\n')
}

function scenarioHelp (scenario: Scenario<any>): string {
  return [
    `usage: npm run bench -- ${scenario.name} [options]`,
    '',
    scenario.summary,
    '',
    'options:',
    optionsHelp(scenario.options),
    optionsHelp(Object.fromEntries(Object.entries(COMMON_OPTIONS).filter(([k]) => k !== 'procs' || scenario.supportsProcs)))
  ].join('\n')
}

function listScenarios (args: string[], io: MainIo): number {
  const opts = parseOptions(args, { json: COMMON_OPTIONS.json })
  if (opts.json === true) {
    io.stdout.write(JSON.stringify(Object.values(SCENARIOS).map(s => ({
      name: s.name,
      summary: s.summary,
      supportsProcs: s.supportsProcs,
      options: s.options
    })), null, 2) + '\n')
  } else {
    io.stdout.write(`${usage()}\n\nSee "npm run bench -- <scenario> --help" for a scenario's options.\n`)
  }
  return 0
}

function timestamp (d: Date): string {
  return d.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/** Quotes a word for a shell command line when it needs it */
function shellWord (w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`
}

/** The command that repeats a run: every scenario option spelled out, the seed fixed */
function repeatCommand (scenario: Scenario<any>, params: Record<string, OptionValue>, seed: number, mode: ClusterMode): string {
  const words = [scenario.name]
  for (const [k, spec] of Object.entries(scenario.options)) {
    const v = params[camelCase(k)]
    if (spec.type === 'boolean') {
      if (v === true) {
        words.push(`--${k}`)
      }
    } else if (v != null) {
      words.push(`--${k}`, String(v))
    }
  }
  words.push('--seed', String(seed))
  if (mode === 'procs') {
    words.push('--procs')
  }
  return `npm run bench -- ${words.map(shellWord).join(' ')}`
}

/** Runs a scenario whose options are read, writes its files and prints its summary */
async function runScenario (scenario: Scenario<any>, all: Record<string, OptionValue>, io: MainIo): Promise<void> {
  const name = scenario.name
  const { seed: seedOpt, out, procs, json, quiet, help: _help, ...params } = all
  const seed = typeof seedOpt === 'number' && seedOpt >= 0 ? seedOpt : randomSeed()
  const mode = procs === true ? 'procs' : 'inproc'
  const startedAt = new Date()
  const outDir = typeof out === 'string' ? resolve(out) : join(BENCH_DIR, 'results', `${name}-${timestamp(startedAt)}`)
  const progress = new Progress({ quiet: quiet === true, stream: io.stderr })
  const env = { machine: machine(), software: software() }

  const command = repeatCommand(scenario, params, seed, mode)
  progress.note(`${name}: seed ${seed}, ${mode === 'procs' ? 'one process per node' : 'in one process'}, results in ${outDir}`)
  let output
  try {
    output = await scenario.run({ params, seed, prng: new Prng(seed), mode, progress })
  } finally {
    progress.stop()
  }
  const result = await writeReport({
    outDir,
    scenario: name,
    command,
    seed,
    mode,
    params,
    startedAt,
    finishedAt: new Date(),
    ...env,
    output
  })
  const table = `\n${textTable(result.comparisons)}\n\nresults: ${outDir}\n`
  if (json === true) {
    io.stderr.write(table)
    io.stdout.write(JSON.stringify(runSummary(result, outDir), null, 2) + '\n')
  } else {
    io.stdout.write(table)
  }
}

export async function main (argv: string[], io: MainIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...args] = argv
  try {
    if (name == null) {
      throw new UsageError('no scenario given')
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(`${usage()}\n`)
      return 0
    }
    if (name === 'list') {
      return listScenarios(args, io)
    }
    const scenario = SCENARIOS[name]
    if (scenario == null) {
      throw new UsageError(`unknown scenario "${name}" (known: ${['list', ...Object.keys(SCENARIOS)].join(', ')})`)
    }
    const specs = { ...scenario.options, ...COMMON_OPTIONS }
    const all = parseOptions(args, specs)
    if (all.help === true) {
      io.stdout.write(`${scenarioHelp(scenario)}\n`)
      return 0
    }
    if (all.procs === true && !scenario.supportsProcs) {
      throw new UsageError(`scenario "${name}" does not support --procs`)
    }
    await runScenario(scenario, all, io)
    return 0
  } catch (err: any) {
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n\n${name != null && SCENARIOS[name] != null ? scenarioHelp(SCENARIOS[name]) : usage()}\n`)
      return UsageError.exitCode
    }
    io.stderr.write(`benchmark failed: ${err?.stack ?? String(err)}\n`)
    return 1
  }
}
