import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { readResult, removeDir, runCli, runInProcess, tempDir } from './fixtures.ts'
import type { Comparison } from '../../benchmarks/lib/figures.ts'
import type { RunResult } from '../../benchmarks/lib/report.ts'

/** Checks shared by every pub-sub run: files, sane figures, a baseline beside Murmur */
async function checkPubsubRun (dir: string, result: RunResult, nodes: number, messages: number): Promise<void> {
  for (const file of ['result.json', 'samples.csv', 'messages.csv', 'resources.csv', 'summary.md', 'metrics.prom', 'latency-cdf.svg', 'delivery-over-time.svg', 'memory-per-node.svg']) {
    await access(join(dir, file))
    expect(result.files).to.include(file)
  }
  for (const svg of ['latency-cdf.svg', 'delivery-over-time.svg', 'memory-per-node.svg']) {
    expect(await readFile(join(dir, svg), 'utf8')).to.match(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  }
  const byMetric = new Map(result.comparisons.map(c => [c.metric, c]))
  const get = (m: string): Comparison => {
    const c = byMetric.get(m)
    expect(c, m).to.not.equal(undefined)
    return c as Comparison
  }
  const ratio = get('murmur_bench_gossip_delivery_ratio')
  for (const system of ['murmur', 'baseline'] as const) {
    expect(ratio.values[system], `${system} delivery ratio`).to.be.a('number').within(0, 1)
    for (const q of ['p50', 'p90', 'p99', 'max']) {
      const v = get(`murmur_bench_gossip_latency_${q}_seconds`).values[system]
      if (v != null) {
        expect(v, `${system} latency ${q}`).to.be.at.least(0)
      }
    }
    expect(get('murmur_bench_gossip_wire_bytes_per_delivery').values[system] ?? 1).to.be.above(0)
    expect(get('murmur_bench_gossip_cpu_seconds_per_delivery').values[system] ?? 1).to.be.at.least(0)
  }
  // every delivery row names a system, a receiver of the network and a non-negative latency
  const samples = result.samples.samples
  expect(samples.columns).to.deep.equal(['system', 'seq', 'receiver', 'sent_ms', 'received_ms', 'latency_ms'])
  expect(samples.rows.length).to.be.at.most(2 * messages * (nodes - 1))
  for (const [system, seq, receiver, , , latency] of samples.rows) {
    expect(['murmur', 'baseline']).to.include(system)
    expect(seq).to.be.within(0, messages - 1)
    expect(receiver).to.be.within(0, nodes - 1)
    expect(latency).to.be.at.least(0)
  }
  const systemsWithSamples = new Set(samples.rows.map(r => r[0]))
  const delivered = (s: string): number => samples.rows.filter(r => r[0] === s).length
  for (const system of ['murmur', 'baseline'] as const) {
    expect(delivered(system) / (messages * (nodes - 1))).to.be.closeTo(ratio.values[system] as number, 1e-9)
  }
  expect(systemsWithSamples.size).to.be.at.most(2)
  const prom = await readFile(join(dir, 'metrics.prom'), 'utf8')
  expect(prom).to.match(/^murmur_bench_gossip_delivery_ratio\{mode="(inproc|procs)",system="baseline"\} [0-9.e-]+$/m)
  expect(prom).to.match(/^murmur_bench_gossip_latency_p50_seconds_baseline_ratio\{mode="(inproc|procs)",system="murmur"\} /m)
  const md = await readFile(join(dir, 'summary.md'), 'utf8')
  expect(md).to.include('| delivery ratio |').and.to.include('![Publish → delivery latency (CDF)](latency-cdf.svg)')
  expect(result.machine.cpus).to.be.above(0)
  expect(result.software.packages['@libp2p/gossipsub']).to.match(/^\d+\.\d+\.\d+/)
}

describe('benchmark scenarios (small runs)', function () {
  this.timeout(120_000)
  let dir: string | undefined

  afterEach(async () => {
    await removeDir(dir)
    dir = undefined
  })

  it('gossip: Murmur discovers from a bootstrap node, the baseline gets the same graph', async () => {
    dir = await tempDir()
    const nodes = 4
    const messages = 6
    const { code, summary, stderr } = await runInProcess(['gossip', '--nodes', String(nodes), '--messages', String(messages), '--rate', '20',
      '--warmup', '2', '--drain', '5', '--topology', 'bootstrap', '--min-connections', '2', '--settle-timeout', '20', '--seed', '3', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('gossip')
    expect(summary?.seed).to.equal(3)
    expect(summary?.params).to.include({ nodes, messages, topology: 'bootstrap' })
    const result = await readResult(dir)
    expect(result.mode).to.equal('inproc')
    expect(result.command).to.match(/^npm run bench -- gossip .*--seed 3$/)
    await checkPubsubRun(dir, result, nodes, messages)
    const graphs = result.summary as Record<string, { graph: { edges: number, components: number } }>
    expect(graphs.baseline.graph.edges).to.equal(graphs.murmur.graph.edges)
  })

  it('gossip --procs: one worker process per node, same files and figures', async () => {
    dir = await tempDir()
    const nodes = 3
    const messages = 4
    const res = await runCli(['gossip', '--procs', '--nodes', String(nodes), '--messages', String(messages), '--rate', '20', '--warmup', '1',
      '--drain', '5', '--topology', 'degree', '--degree', '2', '--seed', '5', '--out', dir, '--quiet', '--json'])
    expect(res.code, res.stderr).to.equal(0)
    const summary = JSON.parse(res.stdout)
    expect(summary.mode).to.equal('procs')
    const result = await readResult(dir)
    await checkPubsubRun(dir, result, nodes, messages)
    // a worker is a whole Node process: its RSS is tens of MiB, not a share of one process
    const rss = result.comparisons.find(c => c.metric === 'murmur_bench_gossip_rss_bytes_per_node')
    expect(rss?.values.baseline).to.be.above(20 * 1024 * 1024)
  })

  it('scale: grows both systems in steps and reports memory, idle CPU and delivery per step', async () => {
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['scale', '--nodes', '4', '--step', '2', '--idle', '1', '--probe-messages', '2',
      '--rate', '10', '--drain', '5', '--seed', '9', '--out', dir])
    expect(code, stderr).to.equal(0)
    expect(summary?.scenario).to.equal('scale')
    const result = await readResult(dir)
    for (const file of ['result.json', 'samples.csv', 'deliveries.csv', 'summary.md', 'metrics.prom', 'memory-per-node.svg', 'idle-cpu.svg', 'event-loop-delay.svg', 'delivery-ratio.svg', 'latency-cdf.svg']) {
      await access(join(dir, file))
    }
    const steps = result.samples.samples
    const col = (name: string): number => steps.columns.indexOf(name)
    for (const system of ['murmur', 'baseline']) {
      const rows = steps.rows.filter(r => r[0] === system)
      expect(rows.length, `${system} steps`).to.be.within(1, 2)
      expect(rows[0][col('nodes')]).to.equal(2)
      for (const row of rows) {
        expect(row[col('delivery_ratio')]).to.be.within(0, 1)
        expect(row[col('idle_cpu_cores')]).to.be.at.least(0)
        expect(row[col('eld_p99_ms')]).to.be.at.least(0)
        expect(row[col('rss_bytes_total')]).to.be.above(0)
      }
    }
    const fit = result.comparisons.find(c => c.metric === 'murmur_bench_scale_nodes_fit')
    expect(fit?.values.murmur).to.be.oneOf([0, 2, 4])
    expect(fit?.values.baseline).to.be.oneOf([0, 2, 4])
    const delivery = result.comparisons.find(c => c.metric === 'murmur_bench_scale_delivery_ratio')
    expect(delivery?.values.murmur).to.be.within(0, 1)
    expect(delivery?.values.baseline).to.be.within(0, 1)
    const prom = await readFile(join(dir, 'metrics.prom'), 'utf8')
    expect(prom).to.match(/^murmur_bench_scale_rss_bytes_per_node\{mode="inproc",system="murmur"\} /m)
    expect(prom).to.match(/^murmur_bench_scale_stopped_at_limit\{mode="inproc",system="baseline"\} [01]$/m)
  })
})
