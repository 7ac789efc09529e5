import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from './fixtures.ts'

describe('benchmark scenario e2e (small run)', function () {
  this.timeout(120_000)
  let dir: string | undefined

  afterEach(async () => {
    await removeDir(dir)
    dir = undefined
  })

  it('reports setup, per-message and loopback figures, each with its baseline and ratio', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['e2e', '--setups', '5', '--messages', '20', '--size', '64', '--pairs', '1', '--seed', '4', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('e2e')
    const result = await readResult(dir)
    const metrics = result.comparisons.map(c => c.metric)
    expect(metrics).to.deep.equal([
      'murmur_bench_e2e_session_setup_p50_seconds',
      'murmur_bench_e2e_message_same_chain_p50_seconds',
      'murmur_bench_e2e_message_sealed_p50_seconds',
      'murmur_bench_e2e_message_reply_p50_seconds',
      'murmur_bench_e2e_loopback_send_p50_seconds'
    ])
    for (const c of result.comparisons) {
      expect(c.values.murmur, c.label).to.be.above(0)
      expect(c.values.baseline, c.label).to.be.above(0)
      expect(c.ratio, c.label).to.be.above(0)
    }
  })
})
