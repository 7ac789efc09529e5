import { execFileSync } from 'node:child_process'
import { expect } from 'aegir/chai'
import { waitFor } from '../fixtures/nodes.ts'
import { netemUnavailable, netnsUnavailable, startTestnet } from '../fixtures/testnet.ts'
import type { NetnsTestnet, PingResult, TestnetHost } from '../fixtures/testnet.ts'

/** This test's namespaces are NAME-sw and NAME-<host>: its own, so that another testnet on the machine is no obstacle */
const NAME = `tf${process.pid}`

describe('scripts/testnet --netns fault commands', function () {
  this.timeout(300_000)
  let net: NetnsTestnet | undefined
  let stopped = false
  const figures: Record<string, number | string> = {}

  before(async function () {
    const reason = netnsUnavailable()
    if (reason != null) {
      // eslint-disable-next-line no-console
      console.log(`      skipped: ${reason}`)
      this.skip()
    }
    net = await startTestnet({ name: NAME, nodes: 4, startTimeoutMs: 90_000 })
    let last: unknown
    try {
      // the baseline for the reconvergence after a heal: the first convergence, timed the same way
      const started = Date.now()
      await waitFor(async () => {
        last = (await Promise.all(['n0', 'n1', 'n2', 'n3'].map(async h => tn('murmur', h, '--', 'status', '--json'))))
          .map(s => ({ peers: s.peers, routingTable: s.routingTable }))
        return (last as Array<{ peers: number, routingTable: number }>).every(s => s.peers >= 1 && s.routingTable >= 3)
      }, 'every routing table to hold the three others after the start', 90_000, 500)
      figures.convergeAfterStartMs = Date.now() - started
    } catch (err: any) {
      err.message += `\nlast status: ${JSON.stringify(last)}\ntestnet output (tail):\n${net.output().split('\n').slice(-30).join('\n')}`
      throw err
    }
  })

  after(async function () {
    if (net != null && !stopped) {
      await net.stop()
    }
    if (Object.keys(figures).length > 0) {
      // eslint-disable-next-line no-console
      console.log('      figures:', JSON.stringify(figures))
    }
  })

  /** One fault command against this testnet, its JSON answer; rejects with the command's error */
  const tn = async (...args: string[]): Promise<any> => (net as NetnsTestnet).tn(...args)
  const hosts = async (): Promise<TestnetHost[]> => (net as NetnsTestnet).hosts()
  const host = async (name: string): Promise<TestnetHost> => (net as NetnsTestnet).host(name)
  const connectedTo = async (from: string): Promise<string[]> => (await tn('murmur', from, '--', 'peers', '--json')).peers.map((p: { peerId: string }) => p.peerId)

  it('kill -9 takes a host away; restart brings it back with the same peer id', async () => {
    const before = await host('n3')
    expect(before.status).to.equal('running')
    await tn('kill', 'n3')
    const killed = await host('n3')
    expect(killed.status).to.equal('killed')
    expect(() => process.kill(before.pid as number, 0)).to.throw().with.property('code', 'ESRCH')
    await expect(tn('ping', 'n0', 'n3', '--count', '1')).to.eventually.be.rejectedWith(/exited 1/)

    const restarted = await tn('restart', 'n3')
    figures.restartMs = restarted.ms
    expect(restarted.samePeerId).to.equal(true)
    expect(restarted.peerId).to.equal(before.peerId)
    expect(restarted.pid).to.not.equal(before.pid)
    const ping = await tn('ping', 'n0', 'n3', '--count', '2') as PingResult
    expect(ping.rttsMs).to.have.length(2)
  })

  it('stop is a clean stop (exit 0), and a stopped host restarts too', async () => {
    await tn('stop', 'n3')
    expect((await host('n3')).status).to.equal('stopped')
    expect((net as NetnsTestnet).output()).to.include('n3 exited with code 0')
    expect((await tn('restart', 'n3')).samePeerId).to.equal(true)
  })

  it('a partition cuts connectivity across it, and heal restores it', async () => {
    const all = await hosts()
    const id = (name: string): string => all.find(h => h.name === name)?.peerId as string
    const addr = (name: string): string => all.find(h => h.name === name)?.addr as string
    // n0 holds connections to both hosts about to be cut off
    await tn('murmur', 'n0', '--', 'connect', addr('n2'))
    await tn('murmur', 'n0', '--', 'connect', addr('n3'))
    expect(await connectedTo('n0')).to.include.members([id('n2'), id('n3')])

    const cut = Date.now()
    expect((await tn('partition', 'n2,n3')).partition).to.deep.equal([['n0', 'n1'], ['n2', 'n3']])
    // the connections across it are dropped (libp2p's connection monitor finds them dead)…
    await waitFor(async () => {
      const peers = await connectedTo('n0')
      return !peers.includes(id('n2')) && !peers.includes(id('n3'))
    }, 'n0 to lose its connections to n2 and n3', 60_000, 500)
    figures.disconnectAfterCutMs = Date.now() - cut
    expect(await connectedTo('n0')).to.include(id('n1'))
    // …a new dial across it fails…
    await expect(tn('murmur', 'n0', '--', 'connect', addr('n2'))).to.eventually.be.rejectedWith(/exited 1/)
    // …while each side still reaches its own
    expect((await tn('ping', 'n2', 'n3', '--count', '1') as PingResult).rttsMs).to.have.length(1)

    const healed = Date.now()
    await tn('heal')
    // with no operator action, every host is connected across the healed cut again and every
    // DHT routing table holds the three others
    const sides: Record<string, string[]> = { n0: ['n2', 'n3'], n1: ['n2', 'n3'], n2: ['n0', 'n1'], n3: ['n0', 'n1'] }
    let last = ''
    await waitFor(async () => {
      const rows = await Promise.all(Object.entries(sides).map(async ([h, across]) => {
        const [status, peers] = await Promise.all([tn('murmur', h, '--', 'status', '--json'), connectedTo(h)])
        return { h, across: across.filter(a => peers.includes(id(a))).length, routingTable: status.routingTable }
      }))
      last = JSON.stringify(rows)
      if (!rows.every(r => r.across >= 1 && r.routingTable >= 3)) {
        return false
      }
      // and pings cross it: a connection made around the heal can stall until libp2p's
      // connection monitor replaces it, so "connected" alone is not "converged"
      const pings = await Promise.allSettled([tn('ping', 'n1', 'n2', '--count', '1'), tn('ping', 'n0', 'n3', '--count', '1')])
      last += ` pings: ${pings.map(p => p.status).join(',')}`
      return pings.every(p => p.status === 'fulfilled')
    }, 'every host to be connected across the healed cut, with full routing tables and pings crossing it (last: ' + last + ')', 120_000, 500)
    figures.reconvergeAfterHealMs = Date.now() - healed
    // and a new dial across it works
    const found = await tn('murmur', 'n1', '--', 'connect', addr('n3'), '--json')
    expect(found.peerId).to.equal(id('n3'))
  })

  it('netem delay on a host\'s link shows in the ping RTT, and clear takes it away', async function () {
    const reason = netemUnavailable(NAME)
    if (reason != null) {
      // eslint-disable-next-line no-console
      console.log(`      skipped: ${reason}`)
      this.skip()
    }
    const baseline = await tn('ping', 'n1', 'n2', '--count', '5') as PingResult
    const applied = await tn('netem', 'n2', '--delay', '100')
    expect(applied.delay).to.equal(100)
    const delayed = await tn('ping', 'n1', 'n2', '--count', '5') as PingResult
    await tn('netem', 'n2', 'clear')
    const after = await tn('ping', 'n1', 'n2', '--count', '5') as PingResult
    Object.assign(figures, { pingBaselineMedianMs: baseline.medianMs, pingNetem100MedianMs: delayed.medianMs, pingClearedMedianMs: after.medianMs, netemHow: applied.how })
    // 100 ms on n2's outgoing link: every pong is 100 ms later (the bound leaves room for a slow 2-core machine)
    expect(delayed.medianMs).to.be.at.least(baseline.medianMs + 90)
    expect(delayed.medianMs).to.be.below(baseline.medianMs + 400)
    expect(after.medianMs).to.be.below(delayed.medianMs - 80)
  })

  it('refuses bad fault commands with exit 2 and a reason', async () => {
    await expect(tn('kill', 'n9')).to.eventually.be.rejectedWith(/exited 2.*no host "n9"/s)
    await expect(tn('netem', 'n1', '--loss', '150')).to.eventually.be.rejectedWith(/--loss must be a number from 0 to 100/)
    await expect(tn('partition', 'n1,n1')).to.eventually.be.rejectedWith(/in two groups/)
  })

  it('Ctrl-C stops every daemon and removes the namespaces', async () => {
    const pids = (await hosts()).map(h => h.pid as number)
    stopped = true
    expect(await (net as NetnsTestnet).stop()).to.equal(0)
    for (const pid of pids) {
      expect(() => process.kill(pid, 0)).to.throw().with.property('code', 'ESRCH')
    }
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    expect(left.split('\n').map(l => l.split(' ')[0]).filter(ns => ns.startsWith(`${NAME}-`))).to.deep.equal([])
  })
})
