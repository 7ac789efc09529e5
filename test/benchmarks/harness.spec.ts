import { expect } from 'aegir/chai'
import { compare, figuresOf, ratioMetricName, toPrometheusText } from '../../benchmarks/lib/figures.ts'
import { decodePayload, encodePayload, PAYLOAD_HEADER_BYTES } from '../../benchmarks/lib/payload.ts'
import { Prng } from '../../benchmarks/lib/prng.ts'
import { toCsv } from '../../benchmarks/lib/report.ts'
import { parseOptions, UsageError } from '../../benchmarks/lib/scenario.ts'
import { distribution, quantile } from '../../benchmarks/lib/stats.ts'
import { graphStats, growthEdges, regularGraph } from '../../benchmarks/lib/topology.ts'
import { latencyTrend } from '../../benchmarks/scenarios/scale.ts'
import type { OptionSpec } from '../../benchmarks/lib/scenario.ts'

describe('benchmark harness: building blocks', () => {
  describe('Prng', () => {
    it('repeats its sequence for a seed and differs between seeds', () => {
      const a = new Prng(7)
      const b = new Prng(7)
      const c = new Prng(8)
      const seqA = Array.from({ length: 16 }, () => a.nextUint32())
      const seqB = Array.from({ length: 16 }, () => b.nextUint32())
      const seqC = Array.from({ length: 16 }, () => c.nextUint32())
      expect(seqA).to.deep.equal(seqB)
      expect(seqA).to.not.deep.equal(seqC)
    })

    it('draws integers in range, roughly uniformly', () => {
      const prng = new Prng(1)
      const counts = new Array<number>(10).fill(0)
      for (let i = 0; i < 10_000; i++) {
        const v = prng.int(10)
        expect(v).to.be.within(0, 9)
        counts[v]++
      }
      for (const c of counts) {
        expect(c).to.be.within(800, 1200)
      }
    })

    it('forks independent streams by label', () => {
      const prng = new Prng(3)
      expect(prng.fork('keys').nextUint32()).to.equal(new Prng(3).fork('keys').nextUint32())
      expect(prng.fork('keys').nextUint32()).to.not.equal(prng.fork('topology').nextUint32())
    })

    it('refuses a seed out of range', () => {
      expect(() => new Prng(-1)).to.throw(RangeError)
      expect(() => new Prng(2 ** 32)).to.throw(RangeError)
    })
  })

  describe('topology', () => {
    it('regularGraph gives a connected graph of the asked degree, the same for the same seed', () => {
      const edges = regularGraph(50, 6, new Prng(11))
      const stats = graphStats(50, edges)
      expect(stats.components).to.equal(1)
      expect(stats.minDegree).to.equal(6)
      expect(stats.maxDegree).to.equal(6)
      expect(regularGraph(50, 6, new Prng(11))).to.deep.equal(edges)
      for (const [a, b] of edges) {
        expect(a).to.be.lessThan(b)
      }
      expect(new Set(edges.map(e => e.join('-'))).size).to.equal(edges.length)
    })

    it('regularGraph leaves one node a neighbour short when n × degree is odd, and draws rings for degree 2', () => {
      const odd = graphStats(9, regularGraph(9, 3, new Prng(2)))
      expect(odd).to.include({ minDegree: 2, maxDegree: 3, edges: 13, components: 1 })
      const ring = graphStats(10, regularGraph(10, 2, new Prng(2)))
      expect(ring).to.include({ minDegree: 2, maxDegree: 2, edges: 10, components: 1 })
      expect(regularGraph(10, 2, new Prng(2))).to.not.deep.equal(regularGraph(10, 2, new Prng(3)))
    })

    it('regularGraph caps the degree at n-1', () => {
      const stats = graphStats(4, regularGraph(4, 10, new Prng(1)))
      expect(stats.edges).to.equal(6)
      expect(stats.components).to.equal(1)
    })

    it('growthEdges keeps every prefix of the network connected', () => {
      const edges = growthEdges(0, 60, 6, new Prng(5))
      for (const size of [2, 10, 33, 60]) {
        const prefix = edges.filter(([, b]) => b < size)
        expect(graphStats(size, prefix).components).to.equal(1)
      }
      expect(graphStats(60, edges).meanDegree).to.be.within(5, 6)
    })
  })

  describe('stats', () => {
    it('quantile uses the nearest rank', () => {
      const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
      expect(quantile(sorted, 0.5)).to.equal(5)
      expect(quantile(sorted, 0.9)).to.equal(9)
      expect(quantile(sorted, 0.99)).to.equal(10)
      expect(quantile(sorted, 0)).to.equal(1)
      expect(quantile([], 0.5)).to.be.NaN()
    })

    it('distribution summarises unsorted samples', () => {
      const d = distribution([5, 1, 3])
      expect(d).to.include({ count: 3, min: 1, max: 5, p50: 3, mean: 3 })
    })
  })

  describe('payload', () => {
    it('carries tag, seq and send time, and pads to the size', () => {
      const bytes = encodePayload({ tag: 2, seq: 41, sentAt: 1234.5678 }, 1024, 9)
      expect(bytes.length).to.equal(1024)
      expect(decodePayload(bytes)).to.deep.equal({ tag: 2, seq: 41, sentAt: 1234.5678 })
      // the padding is a function of (seed, seq): repeatable, and distinct between messages
      expect(encodePayload({ tag: 2, seq: 41, sentAt: 1234.5678 }, 1024, 9)).to.deep.equal(bytes)
      expect(encodePayload({ tag: 2, seq: 42, sentAt: 1234.5678 }, 1024, 9).subarray(PAYLOAD_HEADER_BYTES)).to.not.deep.equal(bytes.subarray(PAYLOAD_HEADER_BYTES))
    })

    it('ignores bytes that are not a benchmark payload', () => {
      expect(decodePayload(new Uint8Array(10))).to.equal(undefined)
      expect(decodePayload(new Uint8Array(64))).to.equal(undefined)
    })
  })

  describe('options', () => {
    const specs: Record<string, OptionSpec> = {
      nodes: { type: 'int', default: 50, min: 2, help: '' },
      rate: { type: 'number', default: 5, min: 0.01, help: '' },
      topology: { type: 'enum', values: ['bootstrap', 'degree'], default: 'bootstrap', help: '' },
      'min-connections': { type: 'int', default: 8, help: '' },
      json: { type: 'boolean', help: '' }
    }

    it('reads typed values with defaults, camelCased', () => {
      expect(parseOptions(['--nodes', '7', '--rate=0.5', '--json'], specs)).to.deep.equal({
        nodes: 7, rate: 0.5, topology: 'bootstrap', minConnections: 8, json: true
      })
    })

    for (const [args, pattern] of [
      [['--nodes', 'abc'], /--nodes must be a number/],
      [['--nodes', '2.5'], /--nodes must be a whole number/],
      [['--nodes', '1'], /--nodes must be at least 2/],
      [['--rate', ''], /--rate must be a number/],
      [['--topology', 'ring'], /--topology must be one of bootstrap, degree/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['--nodes'], /argument missing/],
      [['stray'], /unexpected argument "stray"/]
    ] as Array<[string[], RegExp]>) {
      it(`refuses ${args.join(' ') || '(empty)'}`, () => {
        expect(() => parseOptions(args, specs)).to.throw(UsageError, pattern)
      })
    }
  })

  describe('figures', () => {
    it('names ratios after their figure and writes Prometheus text', () => {
      expect(ratioMetricName('murmur_bench_gossip_latency_p50_seconds')).to.equal('murmur_bench_gossip_latency_p50_seconds_baseline_ratio')
      const c = compare({ label: 'p50', metric: 'murmur_bench_gossip_latency_p50_seconds', help: 'median', unit: 'seconds', values: { murmur: 0.004, baseline: 0.002 } })
      expect(c.ratio).to.equal(2)
      const text = toPrometheusText(figuresOf([c], { mode: 'inproc' }))
      expect(text).to.include('# TYPE murmur_bench_gossip_latency_p50_seconds gauge')
      expect(text).to.include('murmur_bench_gossip_latency_p50_seconds{mode="inproc",system="murmur"} 0.004')
      expect(text).to.include('murmur_bench_gossip_latency_p50_seconds{mode="inproc",system="baseline"} 0.002')
      expect(text).to.include('murmur_bench_gossip_latency_p50_seconds_baseline_ratio{mode="inproc",system="murmur"} 2')
    })

    it('leaves the ratio empty without a baseline value', () => {
      expect(compare({ label: 'x', metric: 'm_x', help: '', unit: 'count', values: { murmur: 1, baseline: null } }).ratio).to.equal(null)
      expect(compare({ label: 'x', metric: 'm_x', help: '', unit: 'count', values: { murmur: 1, baseline: 0 } }).ratio).to.equal(null)
    })
  })

  it('latencyTrend is the slope of per-message median latency: 0 when keeping up, positive under a backlog', () => {
    const deliveries = (latencyMs: (seq: number) => number): Array<{ node: number, tag: number, seq: number, sentAt: number, receivedAt: number }> =>
      Array.from({ length: 10 }, (_, seq) => [1, 2, 3].map(node => ({ node, tag: 100, seq, sentAt: seq * 1000, receivedAt: seq * 1000 + latencyMs(seq) + node }))).flat()
    expect(latencyTrend(deliveries(() => 50))).to.be.closeTo(0, 1e-9)
    // each message waits 200 ms longer than the one before
    expect(latencyTrend(deliveries(seq => 50 + 200 * seq))).to.be.closeTo(0.2, 1e-9)
    expect(latencyTrend(deliveries(() => 50).filter(d => d.seq === 0))).to.be.NaN()
  })

  it('writes CSV with quoting where needed', () => {
    expect(toCsv({ columns: ['a', 'b'], rows: [[1, 'x,y'], [null, 'say "hi"']] })).to.equal('a,b\n1,"x,y"\n,"say ""hi"""\n')
  })
})
