/** Summary statistics over samples */

export interface Distribution {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of ascending `sorted`, by the nearest-rank
 * method: the smallest sample with at least q of the samples at or below it.
 */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) {
    return NaN
  }
  const rank = Math.ceil(q * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function distribution (samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((s, v) => s + v, 0)
  return {
    count: sorted.length,
    min: sorted.length > 0 ? sorted[0] : NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN
  }
}

/**
 * At most `points` (x, fraction ≤ x) pairs of the empirical CDF of `samples`,
 * evenly spaced in rank, always keeping the first and the last
 */
export function cdfPoints (samples: readonly number[], points = 400): Array<{ value: number, fraction: number }> {
  const sorted = [...samples].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) {
    return []
  }
  const step = Math.max(1, Math.floor(n / points))
  const out: Array<{ value: number, fraction: number }> = []
  for (let i = 0; i < n; i += step) {
    out.push({ value: sorted[i], fraction: (i + 1) / n })
  }
  if (out[out.length - 1].fraction !== 1) {
    out.push({ value: sorted[n - 1], fraction: 1 })
  }
  return out
}

/** a / b, or null when b is zero or either is not a number */
export function ratio (a: number, b: number): number | null {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return null
  }
  return a / b
}
