/**
 * SVG plots, drawn by Vega-Lite specs compiled to Vega and rendered headless
 * with `View.toSVG()` (no canvas, no browser).
 */

import { parse, View } from 'vega'
import { compile } from 'vega-lite'
import type { TopLevelSpec } from 'vega-lite'

export interface Plot {
  /** file name in the output directory, ending in .svg */
  file: string
  title: string
  spec: TopLevelSpec
}

const WIDTH = 560
const HEIGHT = 320

export async function renderSvg (spec: TopLevelSpec): Promise<string> {
  const vega = compile(spec).spec
  const view = new View(parse(vega), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** One empirical CDF line per system; x in milliseconds on a log scale */
export function latencyCdfPlot (file: string, title: string, points: Array<{ system: string, latencyMs: number, fraction: number }>): Plot {
  return {
    file,
    title,
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: points.map(p => ({ ...p, latencyMs: Math.max(p.latencyMs, 0.01) })) },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'latencyMs', type: 'quantitative', title: 'publish → delivery latency (ms, log scale)', scale: { type: 'log' } },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of deliveries', scale: { domain: [0, 1] } },
        color: { field: 'system', type: 'nominal', title: 'system' }
      }
    }
  }
}

/** Deliveries in each second since the first measured publish, per system */
export function deliveryOverTimePlot (file: string, title: string, points: Array<{ system: string, second: number, deliveries: number }>): Plot {
  return {
    file,
    title,
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'second', type: 'quantitative', title: 'seconds since the first measured publish' },
        y: { field: 'deliveries', type: 'quantitative', title: 'deliveries in that second' },
        color: { field: 'system', type: 'nominal', title: 'system' }
      }
    }
  }
}

/** RSS and heap per node (MiB) against `xField`, per system; solid RSS, dashed heap */
export function memoryPerNodePlot (file: string, title: string, xTitle: string, points: Array<{ system: string, x: number, measure: 'rss' | 'heap', mib: number }>): Plot {
  return {
    file,
    title,
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: points },
      mark: { type: 'line' },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle },
        y: { field: 'mib', type: 'quantitative', title: 'MiB per node' },
        color: { field: 'system', type: 'nominal', title: 'system' },
        strokeDash: { field: 'measure', type: 'nominal', title: 'measure' }
      }
    }
  }
}

/** A generic line chart of `y` against `x`, one line per system */
export function linePlot (file: string, title: string, axes: { x: string, y: string }, points: Array<{ system: string, x: number, y: number }>): Plot {
  return {
    file,
    title,
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: axes.x },
        y: { field: 'y', type: 'quantitative', title: axes.y },
        color: { field: 'system', type: 'nominal', title: 'system' }
      }
    }
  }
}
