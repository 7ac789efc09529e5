import { expect } from 'aegir/chai'
import { generateMailboxKey, mailboxName } from '../../src/store/index.ts'
import { loopbackOnionNet, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { OnionStoreTransport } from '../../src/app/onion-store.ts'
import type { StorePeer } from '../store/fixtures.ts'

/** Relays; a fifth of them misbehave: one drops every packet, one holds every packet longer than the ack timeout */
const RELAYS = 10
const ACK_TIMEOUT_MS = 3_000
/** A delayer's hold: past the ack timeout, so the sender has given the route up when the packet moves on */
const HOLD_MS = 8_000
const NET: MurmurInit = loopbackOnionNet({ ackTimeoutMs: ACK_TIMEOUT_MS, retries: 3 })
/** 1:1 messages: each client sends to the next, in turn */
const DMS_PER_CLIENT = 25
/** Mailbox deposits: each client fills a mailbox of its own making with this many, one per deposit */
const DEPOSITS_PER_CLIENT = 25

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** Runs `count` tasks, at most `limit` at once */
async function pool<T> (count: number, limit: number, task: (i: number) => Promise<T>): Promise<Array<PromiseSettledResult<T>>> {
  const results: Array<PromiseSettledResult<T>> = new Array(count)
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) {
      const i = next++
      results[i] = await task(i).then(value => ({ status: 'fulfilled' as const, value }), reason => ({ status: 'rejected' as const, reason }))
    }
  }))
  return results
}

describe('reliability: a fifth of the relays drop or delay everything (whole peers on loopback)', function () {
  this.timeout(300_000)
  const relays: Murmur[] = []
  const clients: Murmur[] = []
  let store: StorePeer
  const held = new Set<ReturnType<typeof setTimeout>>()
  let dropper: Murmur
  let delayer: Murmur
  const figures: Record<string, unknown> = {}

  before(async () => {
    for (let i = 0; i < RELAYS; i++) {
      relays.push(await loopbackPeer({ ...NET, roles: ['relay'] }))
    }
    store = await storePeer({ ...NET })
    for (let i = 0; i < 4; i++) {
      clients.push(await loopbackPeer({ ...NET }))
    }
    const all = [...relays, store.murmur, ...clients]
    // a connected graph, not a full mesh: each peer to the first relay and to the one before it; the
    // clients to the store node too, so identify tells them it stores
    for (let i = 1; i < all.length; i++) {
      await all[i].node.connect(all[0].node.getMultiaddrs()[0])
      if (i > 1) { await all[i].node.connect(all[i - 1].node.getMultiaddrs()[0]) }
    }
    await mesh([store.murmur, ...clients])
    await waitFor(() => all.every(p => p.directory.descriptors().length === all.length), 'every peer to know every descriptor', 60_000, 250)

    // the misbehaviour is in the relays' own packet processors: every packet that reaches them over any stream
    dropper = relays[RELAYS - 1]
    delayer = relays[RELAYS - 2]
    dropper.onion.receive = () => {}
    const process = delayer.onion.receive.bind(delayer.onion)
    delayer.onion.receive = (packet, from) => {
      const t = setTimeout(() => { held.delete(t); process(packet, from) }, HOLD_MS)
      held.add(t)
    }
  })

  after(async () => {
    for (const t of held) { clearTimeout(t) }
    await stopAll([...relays, store.murmur, ...clients])
    await store.cleanup()
    // eslint-disable-next-line no-console
    console.log('      figures:', JSON.stringify(figures))
  })

  it('1:1 messages over onion routes: >= 99% delivered', async () => {
    const received = new Map<Murmur, Set<string>>(clients.map(c => [c, new Set<string>()]))
    for (const c of clients) {
      c.contacts.addEventListener('message', e => { received.get(c)?.add(e.detail.message.content) })
    }
    for (let i = 0; i < clients.length; i++) {
      const to = clients[(i + 1) % clients.length]
      await clients[i].contacts.add(await to.contacts.card(), { name: `c${(i + 1) % clients.length}` })
    }
    const started = Date.now()
    const sent = await Promise.all(clients.map(async (from, i) => {
      const results: Array<{ content: string, via?: string, error?: string }> = []
      for (let k = 0; k < DMS_PER_CLIENT; k++) {
        const content = `dm ${i} ${k}`
        try {
          results.push({ content, via: (await from.contacts.send(`c${(i + 1) % clients.length}`, content)).via })
        } catch (err: any) {
          results.push({ content, error: err.message })
        }
      }
      return results
    }))
    const sendMs = Date.now() - started
    const expected = (): number => clients.reduce((n, c, i) => n + sent[(i + clients.length - 1) % clients.length].filter(s => received.get(c)?.has(s.content)).length, 0)
    const total = clients.length * DMS_PER_CLIENT
    // what went to a mailbox is fetched at the recipient's next poll (every 60 s); bounded wait, no retry of anything
    await waitFor(() => expected() === total, 'every message at its recipient', 65_000, 250).catch(() => {})
    const delivered = expected()
    figures.dm = {
      sent: total,
      delivered,
      viaLive: sent.flat().filter(s => s.via === 'live').length,
      viaMailbox: sent.flat().filter(s => s.via === 'mailbox').length,
      sendErrors: sent.flat().filter(s => s.error != null).map(s => s.error),
      sendMs
    }
    expect(delivered, JSON.stringify(figures.dm)).to.be.at.least(Math.ceil(0.99 * total))
  })

  /** A relay as `fetcher` scores it, for a failure's message: what it is (dropper, delayer, honest) and the score */
  const describeRelay = (fetcher: Murmur) => {
    const scores = new Map(fetcher.onion.status().knownRelays.map(r => [r.peerId, r.reliability]))
    const kind = new Map([[dropper.peerId.toString(), 'dropper'], [delayer.peerId.toString(), 'delayer']])
    return (id: string): string => `${kind.get(id) ?? 'honest'}:${scores.get(id)}`
  }

  it('store deposits over TX routes and fetches over RX routes: >= 99% of the deposits fetched', async () => {
    const keys = clients.map(() => generateMailboxKey())
    const started = Date.now()
    const deposits = await pool(clients.length * DEPOSITS_PER_CLIENT, clients.length, async (i) => {
      const c = i % clients.length
      return clients[c].store.deposit(mailboxName(keys[c].publicKey), [enc(`deposit ${c} ${i}`)])
    })
    const depositMs = Date.now() - started
    const fetched: string[] = []
    const fetchErrors: string[] = []
    for (const [c, key] of keys.entries()) {
      // the owner fetches from another client's peer: its own mailbox, over RX routes
      try {
        fetched.push(...(await clients[(c + 2) % clients.length].store.fetch(key)).map(m => dec(m.payload)))
      } catch (err: any) {
        const fetcher = clients[(c + 2) % clients.length]
        const t = fetcher.store.client.transport as OnionStoreTransport
        const name = describeRelay(fetcher)
        fetchErrors.push(`${err.message} (rx relays ${[...t.recentRelays(store.murmur.peerId, 'rx')].map(name).join(' ')}; tx relays ${[...t.recentRelays(store.murmur.peerId, 'tx')].map(name).join(' ')})`)
      }
    }
    const total = clients.length * DEPOSITS_PER_CLIENT
    const expected = Array.from({ length: total }, (_, i) => `deposit ${i % clients.length} ${i}`)
    const delivered = expected.filter(e => fetched.includes(e)).length
    figures.store = {
      deposited: total,
      acknowledged: deposits.filter(d => d.status === 'fulfilled').length,
      depositErrors: deposits.filter(d => d.status === 'rejected').map(d => (d as PromiseRejectedResult).reason.message),
      fetched: delivered,
      fetchErrors,
      depositMs
    }
    expect(delivered, JSON.stringify(figures.store)).to.be.at.least(Math.ceil(0.99 * total))
  })

  it('the dropper and the delayer are scored down by every client that sent through them', async () => {
    const bad = [dropper, delayer].map(r => r.peerId.toString())
    const honest = relays.filter(r => r !== dropper && r !== delayer).map(r => r.peerId.toString())
    const rows = clients.map(c => {
      const scores = new Map(c.onion.status().knownRelays.map(r => [r.peerId, r.reliability]))
      return { bad: bad.map(id => scores.get(id) ?? NaN), honest: honest.map(id => scores.get(id) ?? NaN) }
    })
    figures.scores = rows.map(r => ({ dropper: r.bad[0], delayer: r.bad[1], honestMean: Math.round(mean(r.honest) * 1000) / 1000 }))
    for (const r of rows) {
      // below the score of a relay never tried (0.5), and far below the honest ones
      expect(Math.max(...r.bad)).to.be.lessThan(0.5)
      expect(mean(r.bad)).to.be.lessThan(mean(r.honest) / 2)
    }
  })
})
