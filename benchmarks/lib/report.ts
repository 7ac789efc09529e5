/**
 * The files of a run: result.json (everything), samples.csv (+ one CSV per
 * further table), the SVG plots, metrics.prom (the figures in Prometheus text
 * format) and summary.md (the table, with the plots linked). Also the table
 * printed on the terminal and the `--json` summary.
 */

import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { figuresOf, formatRatio, formatValue, ratioMetricName, toPrometheusText } from './figures.ts'
import { renderSvg } from './plots.ts'
import type { ClusterMode } from './cluster.ts'
import type { Machine, Software } from './environment.ts'
import type { Comparison, Figure } from './figures.ts'
import type { OptionValue, ScenarioOutput, Table } from './scenario.ts'

export const RESULT_SCHEMA_VERSION = 1

export interface RunResult {
  schemaVersion: number
  scenario: string
  /** the command line that repeats this run */
  command: string
  seed: number
  mode: ClusterMode
  params: Record<string, OptionValue>
  startedAt: string
  finishedAt: string
  durationSeconds: number
  machine: Machine
  software: Software
  comparisons: Comparison[]
  figures: Figure[]
  summary: Record<string, unknown>
  notes: string[]
  files: string[]
  samples: Record<string, Table>
}

/** What `--json` prints: the result without the raw samples */
export type RunSummary = Omit<RunResult, 'samples'> & { outDir: string }

function csvCell (v: string | number | boolean | null): string {
  if (v == null) {
    return ''
  }
  const s = String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv (table: Table): string {
  const lines = [table.columns.map(csvCell).join(',')]
  for (const row of table.rows) {
    lines.push(row.map(csvCell).join(','))
  }
  return lines.join('\n') + '\n'
}

/** The comparison table as aligned text columns, for the terminal */
export function textTable (comparisons: readonly Comparison[]): string {
  const systems = [...new Set(comparisons.flatMap(c => Object.keys(c.values)))]
  const header = ['figure', ...systems, `${comparisons[0]?.subject ?? 'murmur'}/baseline`]
  const rows = comparisons.map(c => [
    c.label,
    ...systems.map(s => formatValue(c.values[s as keyof typeof c.values], c.unit)),
    formatRatio(c.ratio)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function markdownTable (comparisons: readonly Comparison[]): string {
  const systems = [...new Set(comparisons.flatMap(c => Object.keys(c.values)))]
  const lines = [
    `| figure | ${systems.join(' | ')} | ${comparisons[0]?.subject ?? 'murmur'}/baseline | Prometheus name |`,
    `| --- | ${systems.map(() => '---:').join(' | ')} | ---: | --- |`
  ]
  for (const c of comparisons) {
    lines.push(`| ${c.label} | ${systems.map(s => formatValue(c.values[s as keyof typeof c.values], c.unit)).join(' | ')} | ${formatRatio(c.ratio)} | \`${c.metric}\` |`)
  }
  return lines.join('\n')
}

function markdownValue (v: unknown): string {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? String(v) : v.toPrecision(6)
  }
  if (typeof v === 'object' && v != null) {
    return `\`${JSON.stringify(v)}\``
  }
  return String(v)
}

function summaryMarkdown (result: RunResult, plots: Array<{ file: string, title: string }>, otherFiles: string[]): string {
  const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(1)} GiB`
  const lines: string[] = [
    `# Benchmark: ${result.scenario}`,
    '',
    `Run ${result.startedAt} for ${result.durationSeconds.toFixed(1)} s, seed ${result.seed}, ${result.mode === 'procs' ? 'one process per node' : 'all nodes in one process'}.`,
    '',
    'Repeat it with:',
    '',
    '```sh',
    result.command,
    '```',
    '',
    '## Figures',
    '',
    markdownTable(result.comparisons),
    ''
  ]
  const compared = new Set(result.comparisons.map(c => c.metric))
  const others = result.figures.filter(f => !compared.has(f.name) && !result.comparisons.some(c => ratioMetricName(c.metric) === f.name))
  if (others.length > 0) {
    lines.push('| other figure | labels | value |', '| --- | --- | ---: |')
    for (const f of others) {
      lines.push(`| \`${f.name}\` | ${Object.entries(f.labels).map(([k, v]) => `${k}=${v}`).join(', ')} | ${f.value == null ? '–' : markdownValue(f.value)} |`)
    }
    lines.push('')
  }
  const extra = Object.entries(result.summary)
  if (extra.length > 0) {
    lines.push('## Summary', '', '| | |', '| --- | --- |')
    for (const [k, v] of extra) {
      lines.push(`| ${k} | ${markdownValue(v)} |`)
    }
    lines.push('')
  }
  if (result.notes.length > 0) {
    lines.push('## Notes', '')
    for (const note of result.notes) {
      lines.push(`- ${note}`)
    }
    lines.push('')
  }
  if (plots.length > 0) {
    lines.push('## Plots', '')
    for (const p of plots) {
      lines.push(`### ${p.title}`, '', `![${p.title}](${p.file})`, '')
    }
  }
  lines.push('## Parameters', '', '| parameter | value |', '| --- | --- |')
  for (const [k, v] of Object.entries(result.params)) {
    lines.push(`| ${k} | ${markdownValue(v)} |`)
  }
  lines.push(
    '',
    '## Machine and software',
    '',
    `- ${result.machine.os} ${result.machine.release} ${result.machine.arch}, ${result.machine.cpus} × ${result.machine.cpuModel}, ${gib(result.machine.memoryBytes)}, load average at start ${result.machine.loadAverage.join(' ')}`,
    `- Node ${result.software.node} (V8 ${result.software.v8}), murmur ${result.software.murmur}, commit ${result.software.gitCommit ?? 'unknown'}${result.software.gitDirty === true ? ' (with uncommitted changes)' : ''}`,
    `- ${Object.entries(result.software.packages).map(([p, v]) => `${p} ${v ?? '?'}`).join(', ')}`,
    '',
    '## Files',
    '',
    ...otherFiles.map(f => `- [${f}](${f})`),
    ''
  )
  return lines.join('\n')
}

export interface WriteInit {
  outDir: string
  scenario: string
  command: string
  seed: number
  mode: ClusterMode
  params: Record<string, OptionValue>
  startedAt: Date
  finishedAt: Date
  machine: Machine
  software: Software
  output: ScenarioOutput
}

/** Writes every file of a run and answers the result (with the files' names) */
export async function writeReport (init: WriteInit): Promise<RunResult> {
  const { outDir, output } = init
  await mkdir(outDir, { recursive: true })
  const files: string[] = []
  const write = async (name: string, content: string): Promise<void> => {
    await writeFile(join(outDir, name), content)
    files.push(name)
  }

  await write('samples.csv', toCsv(output.tables.samples))
  for (const [name, table] of Object.entries(output.tables)) {
    if (name !== 'samples') {
      await write(`${name}.csv`, toCsv(table))
    }
  }
  const plots: Array<{ file: string, title: string }> = []
  for (const plot of output.plots) {
    await write(plot.file, await renderSvg(plot.spec))
    plots.push({ file: plot.file, title: plot.title })
  }
  const figures = [...figuresOf(output.comparisons, { mode: init.mode }), ...output.figures]
  await write('metrics.prom', toPrometheusText(figures))

  const result: RunResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    scenario: init.scenario,
    command: init.command,
    seed: init.seed,
    mode: init.mode,
    params: init.params,
    startedAt: init.startedAt.toISOString(),
    finishedAt: init.finishedAt.toISOString(),
    durationSeconds: (init.finishedAt.getTime() - init.startedAt.getTime()) / 1000,
    machine: init.machine,
    software: init.software,
    comparisons: output.comparisons,
    figures,
    summary: output.summary,
    notes: output.notes,
    files: [],
    samples: output.tables
  }
  const otherFiles = [...files, 'result.json']
  await write('summary.md', summaryMarkdown(result, plots, otherFiles))
  result.files = [...files, 'result.json']
  await writeFile(join(outDir, 'result.json'), JSON.stringify(result, null, 1) + '\n')
  return result
}

export function runSummary (result: RunResult, outDir: string): RunSummary {
  const { samples: _samples, ...rest } = result
  return { ...rest, outDir: relative(process.cwd(), outDir) || '.' }
}
