import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { expect } from 'aegir/chai'
import { waitFor } from '../fixtures/nodes.ts'
import { netemUnavailable, netnsUnavailable, startTestnet } from '../fixtures/testnet.ts'
import { HostApi } from './api-driver.ts'
import type { ApiEvent } from './api-driver.ts'
import type { NetnsTestnet, TestnetHostSpec } from '../fixtures/testnet.ts'

/** This test's namespaces: lo<pid>-sw and lo<pid>-<host>, its own */
const NAME = `lo${process.pid}`
const RELAYS = ['boot', 'r1', 'r2', 'r3', 'r4']
const CLIENTS = ['c1', 'c2', 'c3', 'c4']
const HOSTS: TestnetHostSpec[] = [
  { name: 'boot', roles: ['bootstrap', 'relay'] },
  ...RELAYS.slice(1).map(name => ({ name, roles: ['relay' as const] })),
  { name: 'st1', roles: ['store'] },
  ...CLIENTS.map(name => ({ name, roles: [] }))
]
/** Who sends 1:1 messages to whom while both are online (each over onion routes) */
const LIVE_PAIRS: Array<[string, string]> = [['c1', 'c2'], ['c2', 'c3'], ['c3', 'c1'], ['c4', 'c2']]
/** c4 goes offline; these send to it, through its mailbox */
const TO_OFFLINE = ['c1', 'c3']
const OFFLINE = 'c4'
/** Messages per sender in each part of a phase */
const K = 3

interface PhaseFigures {
  group: { sent: number, expected: number, delivered: number, p50Ms: number, maxMs: number }
  live: { sent: number, delivered: number, viaLive: number, p50Ms: number, maxMs: number }
  offline: { sent: number, delivered: number, viaMailbox: number, fetchAfterRestartMs: number }
}

/** CPU time so far of the processes in this testnet's switch namespace: the linkem.py link emulators (0 with tc netem) */
function linkemCpuSeconds (): number {
  let pids: string[] = []
  try {
    pids = execFileSync('ip', ['netns', 'pids', `${NAME}-sw`], { encoding: 'utf8' }).split('\n').filter(p => p !== '')
  } catch {
    return 0
  }
  let ticks = 0
  for (const pid of pids) {
    try {
      // utime and stime: fields 14 and 15, after the command name in parentheses
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100
}

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) { return NaN }
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))])
}

describe('reliability: lossy links (5% loss, 100 ms delay on every link of a netns testnet)', function () {
  this.timeout(420_000)
  let net: NetnsTestnet | undefined
  const api = new Map<string, HostApi>()
  const figures: Record<string, PhaseFigures | string> = {}
  let groupId = ''

  const a = (host: string): HostApi => api.get(host) as HostApi

  before(async function () {
    const reason = netnsUnavailable() ?? netemUnavailable(NAME)
    if (reason != null) {
      // eslint-disable-next-line no-console
      console.log(`      skipped: ${reason}`)
      this.skip()
    }
    net = await startTestnet({ name: NAME, hosts: HOSTS, startTimeoutMs: 120_000 })
    for (const h of await net.hosts()) {
      api.set(h.name, new HostApi(h.name, h.namespace as string, h.home))
    }
    await Promise.all(CLIENTS.map(async c => a(c).connected))
    // every client knows every relay's descriptor (onion routes) and the store node
    let last = ''
    await waitFor(async () => {
      const known = await Promise.all(CLIENTS.map(async c => (await a(c).get('/v1/onion/status')).knownRelays.length as number))
      last = known.join(',')
      return known.every(n => n >= RELAYS.length)
    }, () => `every client to know the ${RELAYS.length} relays (known: ${last})`, 90_000, 500)

    // contacts: each sender adds its recipients' cards
    const cards = new Map<string, string>()
    for (const c of CLIENTS) { cards.set(c, (await a(c).post('/v1/contacts/card')).card) }
    for (const [from, to] of [...LIVE_PAIRS, ...TO_OFFLINE.map(f => [f, OFFLINE] as [string, string])]) {
      await a(from).post('/v1/contacts', { card: cards.get(to), name: to })
    }
    // one group of every client
    const group = await a('c1').post('/v1/groups', { name: 'lossy', displayName: 'c1' })
    groupId = group.id
    for (const c of CLIENTS.slice(1)) { await a(c).post('/v1/groups/join', { invite: group.invite, displayName: c }) }
    let members: number[] = []
    await waitFor(async () => {
      members = await Promise.all(CLIENTS.map(async c => (await a(c).get(`/v1/groups/${groupId}/members`)).members.length as number))
      return members.every(n => n === CLIENTS.length)
    }, () => `every client to see the four members (they see ${members.join(', ')})`, 90_000, 500)
  })

  after(async () => {
    for (const h of api.values()) { h.close() }
    if (net != null) { await net.stop() }
    if (Object.keys(figures).length > 0) {
      // eslint-disable-next-line no-console
      console.log('      figures:', JSON.stringify(figures, null, 2).replace(/\n/g, '\n      '))
    }
  })

  /** When `host` got a `event` whose data matches, after `since` */
  const arrival = (host: string, event: string, match: (data: any) => boolean, since: number): number | undefined =>
    a(host).events.find((e: ApiEvent) => e.at >= since && e.event === event && match(e.data))?.at

  async function diagnose (): Promise<void> {
    const rows = await Promise.all([...api.keys()].map(async h => {
      const o = await a(h).get('/v1/onion/status').catch(() => undefined)
      return { h, sent: o?.sent, acked: o?.acked, retried: o?.retried, failed: o?.failed, processed: o?.processed, forwarded: o?.forwarded, delivered: o?.delivered, dropped: o?.dropped, rel: o?.knownRelays?.map((r: any) => r.reliability).join(' ') }
    }))
    // eslint-disable-next-line no-console
    console.log(rows.map(r => JSON.stringify(r)).join('\n'), '\n', net?.output().split('\n').slice(-40).join('\n'))
  }

  async function phase (label: string): Promise<PhaseFigures> {
    // group messages: every client sends K; every other member gets each
    const groupSends: Array<{ from: string, content: string, at: number }> = []
    await Promise.all(CLIENTS.map(async from => {
      for (let i = 0; i < K; i++) {
        const content = `${label} group ${from} ${i}`
        const at = Date.now()
        await a(from).post(`/v1/groups/${groupId}/messages`, { content })
        groupSends.push({ from, content, at })
      }
    }))
    // 1:1 messages between online clients, over onion routes
    const liveSends: Array<{ from: string, to: string, content: string, at: number, via: string, tookMs: number }> = []
    await Promise.all(LIVE_PAIRS.map(async ([from, to]) => {
      for (let i = 0; i < K; i++) {
        const content = `${label} dm ${from}>${to} ${i}`
        const at = Date.now()
        const res = await a(from).post(`/v1/contacts/${to}/messages`, { content }, 120_000)
        liveSends.push({ from, to, content, at, via: res.via, tookMs: Date.now() - at })
      }
    }))
    const groupLatencies: number[] = []
    let groupDelivered = 0
    const expected = groupSends.length * (CLIENTS.length - 1)
    await waitFor(() => {
      groupLatencies.length = 0
      groupDelivered = 0
      for (const s of groupSends) {
        for (const c of CLIENTS.filter(c => c !== s.from)) {
          const t = arrival(c, 'group:message', d => d.entry?.content === s.content, s.at)
          if (t != null) { groupDelivered++; groupLatencies.push(t - s.at) }
        }
      }
      return groupDelivered === expected
    }, () => `${label}: every group message at every other member (${groupDelivered}/${expected})`, 60_000, 250)
    const liveLatencies: number[] = []
    let liveDelivered = 0
    await waitFor(() => {
      liveLatencies.length = 0
      liveDelivered = 0
      for (const s of liveSends) {
        const t = arrival(s.to, 'contact:message', d => d.message?.content === s.content, s.at)
        if (t != null) { liveDelivered++; liveLatencies.push(t - s.at) }
      }
      return liveDelivered === liveSends.length
    }, () => `${label}: every 1:1 message at its recipient (${liveDelivered}/${liveSends.length}; sends ${JSON.stringify(liveSends.map(s => [s.from, s.to, s.via, s.tookMs]))})`, 90_000, 250).catch(async err => { await diagnose(); throw err })

    // 1:1 messages to a peer that is offline: its mailbox, fetched over onion routes when it is back
    await net?.tn('stop', OFFLINE)
    const offlineSends: Array<{ content: string, via: string }> = []
    await Promise.all(TO_OFFLINE.map(async from => {
      for (let i = 0; i < K; i++) {
        const content = `${label} offline ${from}>${OFFLINE} ${i}`
        const res = await a(from).post(`/v1/contacts/${OFFLINE}/messages`, { content }, 120_000)
        offlineSends.push({ content, via: res.via })
      }
    }))
    const restarted = Date.now()
    await net?.tn('restart', OFFLINE)
    // its inbox, not its event stream: the restarted daemon may take its mailbox before the driver's event stream is back
    let offlineDelivered = 0
    await waitFor(async () => {
      const messages: Array<{ content: string }> = (await a(OFFLINE).get('/v1/inbox').catch(() => ({ messages: [] }))).messages
      const inbox = new Set(messages.map(m => m.content))
      offlineDelivered = offlineSends.filter(s => inbox.has(s.content)).length
      return offlineDelivered === offlineSends.length
    }, () => `${label}: every message left for ${OFFLINE} while it was offline in its inbox (${offlineDelivered}/${offlineSends.length})`, 90_000, 250)
    const fetched = Date.now()

    return {
      group: { sent: groupSends.length, expected, delivered: groupDelivered, p50Ms: quantile(groupLatencies, 0.5), maxMs: quantile(groupLatencies, 1) },
      live: { sent: liveSends.length, delivered: liveDelivered, viaLive: liveSends.filter(s => s.via === 'live').length, p50Ms: quantile(liveLatencies, 0.5), maxMs: quantile(liveLatencies, 1) },
      offline: { sent: offlineSends.length, delivered: offlineDelivered, viaMailbox: offlineSends.filter(s => s.via === 'mailbox').length, fetchAfterRestartMs: fetched - restarted }
    }
  }

  it('baseline: with clean links every group and 1:1 message arrives', async () => {
    const f = await phase('baseline')
    figures.baseline = f
    expect(f.group.delivered).to.equal(f.group.expected)
    expect(f.live.delivered).to.equal(f.live.sent)
    expect(f.offline.viaMailbox).to.equal(f.offline.sent)
  })

  it('with 5% loss and 100 ms delay on every link, delivery is still complete', async () => {
    const applied = await Promise.all(HOSTS.map(async h => (net as NetnsTestnet).tn('netem', h.name, '--delay', '100', '--loss', '5')))
    figures.netem = `delay 100 ms, loss 5% on every host's outgoing link (${applied[0].how})`
    // the links really are slow now: a libp2p ping crosses two delayed links
    const ping = await (net as NetnsTestnet).ping('c1', 'c2', 3)
    expect(ping.medianMs).to.be.at.least(190)
    const cpuBefore = linkemCpuSeconds()
    const phaseStart = Date.now()
    const f = await phase('netem')
    figures.lossy = f
    const linkemCpu = linkemCpuSeconds() - cpuBefore
    // the userspace link emulators (one per link, in the switch namespace) must not be the bottleneck
    figures.linkem = `${linkemCpu.toFixed(1)} s CPU in ${((Date.now() - phaseStart) / 1000).toFixed(0)} s for ${HOSTS.length} links (${(100 * linkemCpu * 1000 / (Date.now() - phaseStart)).toFixed(1)}% of one core)`
    expect(f.group.delivered).to.equal(f.group.expected)
    expect(f.live.delivered).to.equal(f.live.sent)
    expect(f.offline.delivered).to.equal(f.offline.sent)
  })
})
