import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from './fixtures.ts'

describe('benchmark scenario store (a small run)', function () {
  this.timeout(120_000)
  let dir: string | undefined

  after(async () => {
    await removeDir(dir)
  })

  it('measures durable deposits, drain (direct and over onion routes) and recovery against raw level in the same run', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['store', '--deposits', '300', '--backlog', '200', '--batch', '16', '--concurrency', '2', '--seed', '4', '--onion', '--relays', '3', '--drains', '1', '--out', dir, '--quiet'])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('store')
    const result = await readResult(dir)
    const metrics = result.comparisons.map(c => c.metric)
    expect(metrics).to.include.members(['murmur_bench_store_deposits_per_second', 'murmur_bench_store_drain_seconds', 'murmur_bench_store_recovery_seconds', 'murmur_bench_store_onion_drain_seconds'])
    const onion = result.summary.onion as { exchanges?: number, cpuSeconds?: number, retried?: number } | undefined
    expect(onion?.exchanges, 'onion exchanges').to.be.above(0)
    expect(onion?.cpuSeconds, 'CPU time of the onion drain').to.be.above(0)
    expect(onion?.retried, 'asks sent again').to.be.a('number')
    expect(metrics).to.include('murmur_bench_store_onion_over_direct_drain_seconds')
    for (const c of result.comparisons) {
      expect(c.values.murmur, c.metric).to.be.above(0)
      expect(c.values.baseline, c.metric).to.be.above(0)
      expect(c.ratio, c.metric).to.be.a('number')
    }
  })

  it('with --procs runs the store node and the relays each in a process of its own and reads their CPU time apart', async () => {
    await removeDir(dir)
    dir = await tempDir()
    const { code, stderr } = await runInProcess(['store', '--deposits', '100', '--backlog', '100', '--batch', '16', '--concurrency', '2', '--seed', '5', '--onion', '--relays', '3', '--drains', '1', '--procs', '--out', dir, '--quiet'])
    expect(code, stderr).to.equal(0)
    const result = await readResult(dir)
    expect(result.mode).to.equal('procs')
    const onion = result.summary.onion as { exchanges?: number, cpuSeconds?: number, storeCpuSeconds?: number, relaysCpuSeconds?: number } | undefined
    expect(onion?.exchanges, 'onion exchanges').to.be.above(0)
    expect(onion?.cpuSeconds, 'CPU time of the reader\'s process').to.be.above(0)
    // the store node answered every page and the relays carried every packet, in processes of their own
    expect(onion?.storeCpuSeconds, 'CPU time of the store node\'s process').to.be.above(0)
    expect(onion?.relaysCpuSeconds, 'CPU time of the relays\' processes').to.be.above(0)
    const figures = result.figures.map(f => f.name)
    expect(figures).to.include.members(['murmur_bench_store_onion_drain_store_cpu_seconds', 'murmur_bench_store_onion_drain_relays_cpu_seconds'])
  })
})
