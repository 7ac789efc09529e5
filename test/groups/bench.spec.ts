import { expect } from 'aegir/chai'
import { readResult, removeDir, runInProcess, tempDir } from '../benchmarks/fixtures.ts'

describe('the groups benchmark scenario (a small run)', function () {
  this.timeout(180_000)
  let dir: string | undefined

  afterEach(async () => {
    await removeDir(dir)
    dir = undefined
  })

  it('delivers every encrypted group message and reports it beside the same node without groups and plain gossipsub', async () => {
    dir = await tempDir()
    const { code, stderr } = await runInProcess(['groups', '--nodes', '5', '--messages', '8', '--rate', '20', '--warmup', '2', '--drain', '10',
      '--degree', '2', '--seed', '3', '--out', dir])
    expect(code, stderr).to.equal(0)
    const result = await readResult(dir)
    const delivery = result.comparisons.find(c => c.metric === 'murmur_bench_groups_delivery_ratio')
    expect(delivery?.values).to.deep.equal({ groups: 1, murmur: 1, baseline: 1 })
    expect(delivery?.subject).to.equal('groups')
    const p50 = result.comparisons.find(c => c.metric === 'murmur_bench_groups_latency_p50_seconds')
    expect(p50?.ratio).to.be.a('number').and.above(0)
    expect(result.notes.join('\n')).to.include('groups / murmur')
    const graphs = result.summary as Record<string, { graph: { edges: number } }>
    expect(graphs.groups.graph.edges).to.equal(graphs.baseline.graph.edges)
  })
})
