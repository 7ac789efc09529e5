/**
 * prom-client's metric classes for the layers' `murmur_*` metrics. Browser
 * builds replace this module with `prometheus.browser.ts` (the `browser`
 * field of package.json): a page has no Prometheus registry, so the layers
 * never construct a metric there, and prom-client stays out of the bundle.
 */
export { Counter, Gauge, Histogram } from 'prom-client'
