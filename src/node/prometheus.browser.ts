/**
 * The browser stand-in for `prometheus.ts`: a page has no Prometheus
 * registry (`metricsRegistry` is refused there), so these are never
 * constructed; if one were, it says why it cannot be.
 */
import type * as Prom from 'prom-client'

class NoMetricsInBrowsers {
  constructor () {
    throw new Error('Prometheus metrics are not available in a browser')
  }
}

export const Counter = NoMetricsInBrowsers as unknown as typeof Prom.Counter
export const Gauge = NoMetricsInBrowsers as unknown as typeof Prom.Gauge
export const Histogram = NoMetricsInBrowsers as unknown as typeof Prom.Histogram
