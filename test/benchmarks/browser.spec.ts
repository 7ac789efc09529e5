import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { browserTestsUnavailable } from '../fixtures/browser.ts'
import { removeDir, runInProcess, tempDir } from './fixtures.ts'

describe('benchmark scenario: browser (small run)', function () {
  this.timeout(180_000)
  let dir: string | undefined

  after(async () => {
    await removeDir(dir)
  })

  it('times gossip and round trips on both paths, and page loads to the first message', async function () {
    const reason = browserTestsUnavailable()
    if (reason != null) {
      // eslint-disable-next-line no-console
      console.warn(`skipping the browser benchmark run: ${reason}`)
      this.skip()
    }
    dir = await tempDir()
    const { code, summary, stderr } = await runInProcess(['browser', '--messages', '6', '--loads', '1', '--interval', '0', '--seed', '1', '--out', dir])
    expect(code, stderr).to.equal(0)
    for (const metric of ['murmur_bench_browser_round_trip_p50_seconds', 'murmur_bench_browser_gossip_latency_p50_seconds']) {
      const p50 = summary?.comparisons.find(c => c.metric === metric)
      expect(p50?.values.murmur, metric).to.be.a('number').above(0)
      expect(p50?.values.baseline, metric).to.be.a('number').above(0)
      expect(p50?.ratio, metric).to.be.a('number').above(0)
    }
    for (const load of ['cold', 'warm']) {
      const first = summary?.figures.find(f => f.name === 'murmur_bench_browser_load_to_first_message_p50_seconds' && f.labels.load === load)
      const started = summary?.figures.find(f => f.name === 'murmur_bench_browser_load_to_peer_started_p50_seconds' && f.labels.load === load)
      expect(started?.value, `${load} peer started`).to.be.a('number').above(0)
      // gossip reaches the node as soon as libp2p runs, which can be before
      // every layer above it has started (start() resolves last): so the
      // first message only has to come after the page loaded
      expect(first?.value, `${load} first message`).to.be.a('number').above(0)
    }
    for (const file of ['result.json', 'samples.csv', 'gossip.csv', 'loads.csv', 'round-trip-cdf.svg', 'summary.md']) {
      await access(join(dir, file))
    }
  })
})
