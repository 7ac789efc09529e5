import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from './fixtures.ts'

describe('benchmark scenario churn (a small run)', function () {
  this.timeout(120_000)
  let dir: string | undefined

  after(async () => { await removeDir(dir) })

  it('reports online and offline delivery, latency, duplicates and catch-up under churn, beside the same workload without', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['churn', '--nodes', '4', '--stores', '1', '--churn', '0.5', '--duration', '6', '--rate', '3', '--interval', '3', '--downtime', '1.5', '--poll', '500', '--drain', '20', '--seed', '4', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('churn')
    for (const file of ['result.json', 'samples.csv', 'restarts.csv', 'summary.md', 'metrics.prom', 'latency-cdf.svg']) {
      await access(join(dir, file))
    }
    const result = await readResult(dir)
    const get = (what: string): { murmur?: number | null, baseline?: number | null } => {
      const c = result.comparisons.find(c => c.metric === `murmur_bench_churn_${what}`)
      expect(c, what).to.not.equal(undefined)
      return c?.values ?? {}
    }
    for (const what of ['delivery_ratio', 'online_delivery_ratio']) {
      expect(get(what).murmur, what).to.be.a('number').within(0, 1)
      expect(get(what).baseline, what).to.be.a('number').within(0, 1)
    }
    // the churn run had peers down when messages were sent to them; the baseline never did
    expect(get('offline_delivery_ratio').murmur).to.be.a('number').within(0, 1)
    expect(get('offline_delivery_ratio').baseline).to.equal(null)
    expect(get('latency_p50_seconds').murmur).to.be.above(0)
    expect(get('latency_p99_seconds').baseline).to.be.at.least(get('latency_p50_seconds').baseline ?? Infinity)
    expect(get('duplicates').murmur).to.be.at.least(0)
    const s = result.summary as { crashes: number, churn: { expected: number, online: { expected: number }, offline: { expected: number } }, baseline: { expected: number, offline: { expected: number } } }
    expect(s.crashes).to.be.at.least(1)
    expect(s.churn.offline.expected).to.be.above(0)
    expect(s.churn.online.expected + s.churn.offline.expected).to.equal(s.churn.expected)
    expect(s.baseline.offline.expected).to.equal(0)
    // one sample row per (recipient, message) of each run, one restart row per crash
    expect(result.samples.samples.rows).to.have.length(s.churn.expected + s.baseline.expected)
    expect(result.samples.restarts.rows.filter(r => r[0] === 'churn')).to.have.length(s.crashes)
  })
})
