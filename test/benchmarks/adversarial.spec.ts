import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from './fixtures.ts'
import type { RunResult } from '../../benchmarks/lib/report.ts'

function values (result: RunResult, what: string): { murmur?: number | null, baseline?: number | null } {
  const c = result.comparisons.find(c => c.metric === `murmur_bench_adversarial_${what}`)
  expect(c, what).to.not.equal(undefined)
  return c?.values ?? {}
}

describe('benchmark scenario adversarial (small runs)', function () {
  this.timeout(120_000)
  let dir: string | undefined

  afterEach(async () => {
    await removeDir(dir)
    dir = undefined
  })

  it('drop: delivery, latency, retries and the droppers\' scores beside an all-honest run', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['adversarial', '--relays', '5', '--clients', '2', '--messages', '20', '--rate', '10', '--ack-timeout', '1500', '--drain', '3', '--seed', '4', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('adversarial')
    for (const file of ['result.json', 'samples.csv', 'scores.csv', 'summary.md', 'metrics.prom', 'latency-cdf.svg', 'relay-scores.svg']) {
      await access(join(dir, file))
    }
    const result = await readResult(dir)
    for (const what of ['delivery_ratio', 'acked_ratio']) {
      expect(values(result, what).murmur, what).to.be.a('number').within(0, 1)
      expect(values(result, what).baseline, what).to.be.a('number').within(0, 1)
    }
    expect(values(result, 'routes_per_message').murmur).to.be.at.least(1)
    expect(values(result, 'routes_per_message').baseline).to.be.at.least(1)
    expect(values(result, 'latency_p50_seconds').baseline).to.be.above(0)
    // the relay that dropped was tried and scored down; in the honest run the same relay was not
    expect(values(result, 'bad_relay_score').murmur).to.be.below(values(result, 'bad_relay_score').baseline ?? 0)
    expect(result.samples.samples.rows).to.have.length(40)
    expect((result.summary as { badRelays: number[] }).badRelays).to.have.length(1)
  })

  it('delay: the same figures when the bad relays hold every packet', async () => {
    dir = await tempDir()
    const { code, stderr } = await runInProcess(['adversarial', '--mode', 'delay', '--delay', '2000', '--relays', '5', '--clients', '2', '--messages', '10', '--rate', '10', '--ack-timeout', '1000', '--drain', '3', '--seed', '4', '--out', dir])
    expect(code, stderr).to.equal(0)
    const result = await readResult(dir)
    expect(values(result, 'delivery_ratio').murmur).to.be.a('number').within(0, 1)
    expect(values(result, 'routes_per_message').murmur).to.be.at.least(1)
    expect((result.summary as { mode: string }).mode).to.equal('delay')
  })
})
