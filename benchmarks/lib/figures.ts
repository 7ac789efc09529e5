/**
 * Figures and the Prometheus names they carry, so that a benchmark run and a
 * live deployment's `/metrics` can be set side by side. Every figure is a
 * gauge named `murmur_bench_<scenario>_<what>_<unit>` in base units
 * (seconds, bytes), labelled with the system it measures. A comparison with
 * the baseline is the same name followed by `_baseline_ratio` (system /
 * baseline, unitless).
 */

import { ratio } from './stats.ts'
import type { SystemName } from './systems.ts'

/** How a figure is shown to a person; the stored value is always in base units */
export type Unit = 'ratio' | 'seconds' | 'bytes' | 'per_second' | 'count' | 'cpu_fraction'

export interface Figure {
  name: string
  help: string
  labels: Record<string, string>
  value: number | null
}

/** One row of a summary table: a figure for each system, and system/baseline */
export interface Comparison {
  /** human label, e.g. "latency p50" */
  label: string
  /** Prometheus name in base units, e.g. murmur_bench_gossip_latency_p50_seconds */
  metric: string
  help: string
  unit: Unit
  values: Partial<Record<SystemName, number | null>>
  /** the subject system over the baseline, null without both */
  ratio: number | null
  /** the system the ratio is of (default murmur) */
  subject?: SystemName
}

export const METRIC_PREFIX = 'murmur_bench'

/**
 * The name of a figure's ratio to the baseline: the figure's own name (unit
 * included, so it is clear what was divided) with `_baseline_ratio` after it,
 * e.g. murmur_bench_gossip_latency_p50_seconds_baseline_ratio
 */
export function ratioMetricName (metric: string): string {
  return `${metric}_baseline_ratio`
}

export function metricName (scenario: string, what: string): string {
  const name = `${METRIC_PREFIX}_${scenario}_${what}`
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
    throw new Error(`"${name}" is not a valid Prometheus metric name`)
  }
  return name
}

export function compare (init: Omit<Comparison, 'ratio'>, subject: SystemName = 'murmur', baseline: SystemName = 'baseline'): Comparison {
  const a = init.values[subject]
  const b = init.values[baseline]
  return { ...init, ratio: a == null || b == null ? null : ratio(a, b), ...(subject !== 'murmur' ? { subject } : {}) }
}

/** The flat figure list of a set of comparisons: one per system, one per ratio */
export function figuresOf (comparisons: readonly Comparison[], labels: Record<string, string> = {}, subject: SystemName = 'murmur'): Figure[] {
  const out: Figure[] = []
  for (const c of comparisons) {
    for (const [system, value] of Object.entries(c.values)) {
      out.push({ name: c.metric, help: c.help, labels: { ...labels, system }, value: value ?? null })
    }
    if (Object.keys(c.values).length > 1) {
      out.push({ name: ratioMetricName(c.metric), help: `${c.help} (${c.subject ?? subject} / baseline)`, labels: { ...labels, system: c.subject ?? subject }, value: c.ratio })
    }
  }
  return out
}

function escapeLabel (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Prometheus text exposition format (gauges); figures without a value are left out */
export function toPrometheusText (figures: readonly Figure[]): string {
  const byName = new Map<string, Figure[]>()
  for (const f of figures) {
    byName.set(f.name, [...(byName.get(f.name) ?? []), f])
  }
  const lines: string[] = []
  for (const [name, list] of byName) {
    lines.push(`# HELP ${name} ${list[0].help.replace(/\n/g, ' ')}`)
    lines.push(`# TYPE ${name} gauge`)
    for (const f of list) {
      if (f.value == null || !Number.isFinite(f.value)) {
        continue
      }
      const labels = Object.entries(f.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
      lines.push(`${name}${labels !== '' ? `{${labels}}` : ''} ${f.value}`)
    }
  }
  return lines.join('\n') + '\n'
}

export function formatValue (value: number | null | undefined, unit: Unit): string {
  if (value == null || !Number.isFinite(value)) {
    return '–'
  }
  switch (unit) {
    case 'ratio':
      return value.toFixed(4)
    case 'seconds':
      return value < 1 ? `${(value * 1000).toFixed(2)} ms` : `${value.toFixed(3)} s`
    case 'bytes':
      if (Math.abs(value) >= 1024 * 1024) {
        return `${(value / 1024 / 1024).toFixed(2)} MiB`
      }
      return Math.abs(value) >= 1024 ? `${(value / 1024).toFixed(2)} KiB` : `${value.toFixed(0)} B`
    case 'per_second':
      return `${value.toFixed(1)}/s`
    case 'count':
      return Number.isInteger(value) ? String(value) : value.toFixed(2)
    case 'cpu_fraction':
      return `${(value * 100).toFixed(2)} %`
    default:
      return String(value)
  }
}

export function formatRatio (value: number | null): string {
  return value == null ? '–' : `${value.toFixed(2)}×`
}
