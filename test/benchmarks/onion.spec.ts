import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from './fixtures.ts'

describe('benchmark scenario onion (small run)', function () {
  this.timeout(180_000)
  let dir: string | undefined

  after(async () => { await removeDir(dir) })

  it('reports per-hop, forwarding and latency figures, each beside its baseline', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['onion', '--packets', '400', '--frames', '100', '--messages', '10', '--seed', '4', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('onion')
    for (const file of ['result.json', 'samples.csv', 'summary.md', 'metrics.prom']) {
      await access(join(dir, file))
    }
    const result = await readResult(dir)
    for (const metric of ['murmur_bench_onion_hop_processing_per_second', 'murmur_bench_onion_relay_forwarding_per_second', 'murmur_bench_onion_relay_forwarding_per_cpu_second', 'murmur_bench_onion_route_latency_p50_seconds']) {
      const c = result.comparisons.find(c => c.metric === metric)
      expect(c?.values.murmur, metric).to.be.above(0)
      expect(c?.values.baseline, metric).to.be.above(0)
      expect(c?.ratio, metric).to.be.above(0)
    }
    expect(result.samples.samples.rows.filter(r => r[0] === 'onion')).to.have.length(10)
  })
})
