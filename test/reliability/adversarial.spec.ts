import { expect } from 'aegir/chai'
import { generateMailboxKey, mailboxName } from '../../src/store/index.ts'
import { loopbackOnionNet, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import { mesh, storePeer } from '../store/fixtures.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { OnionStoreTransport } from '../../src/app/onion-store.ts'
import type { StorePeer } from '../store/fixtures.ts'

/**
 * Relays; a fifth of them misbehave: two drop every packet, one holds every packet longer than the ack timeout.
 * The store transport keeps deposits and fetches on disjoint relays (each side holds up to half of the good
 * relays a client knows, src/app/onion-store.ts), so each side has about six good relays here: room for a
 * route, its reply route and a retry's
 */
const RELAYS = 15
const DROPPERS = 2
const DELAYERS = 1
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

/**
 * The relays turn bad after the setup, so every client's probes have seen them honest first: the harder case,
 * where a relay's good record must give way to its losses. What makes it hold (it did not in 4 of 7 runs
 * before): a loss is blamed on the member of the lost exchanges found on no exchange that came back, not on
 * every relay of the route (src/onion/path.ts); the relays of a loss are probed at once over well-scored
 * routes, so the dropper is pinned within seconds (src/onion/onion.ts); and the store's TX and RX sides are no
 * longer fixed halves that a half full of bad relays starves (src/app/onion-store.ts).
 */
describe('reliability: a fifth of the relays drop or delay everything (whole peers on loopback)', function () {
  this.timeout(300_000)

  const relays: Murmur[] = []
  const clients: Murmur[] = []
  let store: StorePeer | undefined
  const held = new Set<ReturnType<typeof setTimeout>>()
  let droppers: Murmur[] = []
  let delayers: Murmur[] = []
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
    droppers = relays.slice(RELAYS - DROPPERS)
    delayers = relays.slice(RELAYS - DROPPERS - DELAYERS, RELAYS - DROPPERS)
    for (const dropper of droppers) {
      dropper.onion.receive = () => {}
    }
    for (const delayer of delayers) {
      const process = delayer.onion.receive.bind(delayer.onion)
      delayer.onion.receive = (packet, from) => {
        const t = setTimeout(() => { held.delete(t); process(packet, from) }, HOLD_MS)
        held.add(t)
      }
    }
  })

  after(async () => {
    for (const t of held) { clearTimeout(t) }
    await stopAll([...relays, store?.murmur, ...clients])
    await store?.cleanup()
    if (Object.keys(figures).length > 0) {
      // eslint-disable-next-line no-console
      console.log('      figures:', JSON.stringify(figures))
    }
  })

  it('1:1 messages over onion routes: >= 99% delivered', async () => {
    const received = new Map<Murmur, Set<string>>(clients.map(c => [c, new Set<string>()]))
    /** Messages shown to a user twice (a retry after a lost answer, a live send that also went to the mailbox) */
    const shownTwice: string[] = []
    for (const c of clients) {
      c.contacts.addEventListener('message', e => {
        const seen = received.get(c)
        if (seen?.has(e.detail.message.content) === true) { shownTwice.push(e.detail.message.content) }
        seen?.add(e.detail.message.content)
      })
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
      shownTwice,
      sendMs
    }
    expect(delivered, JSON.stringify(figures.dm)).to.be.at.least(Math.ceil(0.99 * total))
    expect(shownTwice, 'messages shown twice').to.deep.equal([])
  })

  /** A relay as `fetcher` scores it, for a failure's message: what it is (dropper, delayer, honest) and the score */
  const describeRelay = (fetcher: Murmur) => {
    const scores = new Map(fetcher.onion.status().knownRelays.map(r => [r.peerId, r.reliability]))
    const kind = new Map([...droppers.map(r => [r.peerId.toString(), 'dropper']), ...delayers.map(r => [r.peerId.toString(), 'delayer'])] as Array<[string, string]>)
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
        const storeId = (store as StorePeer).murmur.peerId
        fetchErrors.push(`${err.message} (rx relays ${[...t.recentRelays(storeId, 'rx')].map(name).join(' ')}; tx relays ${[...t.recentRelays(storeId, 'tx')].map(name).join(' ')})`)
      }
    }
    const total = clients.length * DEPOSITS_PER_CLIENT
    const expected = Array.from({ length: total }, (_, i) => `deposit ${i % clients.length} ${i}`)
    const delivered = expected.filter(e => fetched.includes(e)).length
    const fetchedTwice = fetched.filter((m, i) => fetched.indexOf(m) !== i)
    figures.store = {
      deposited: total,
      acknowledged: deposits.filter(d => d.status === 'fulfilled').length,
      depositErrors: deposits.filter(d => d.status === 'rejected').map(d => (d as PromiseRejectedResult).reason.message),
      fetched: delivered,
      fetchErrors,
      fetchedTwice,
      depositMs
    }
    expect(delivered, JSON.stringify(figures.store)).to.be.at.least(Math.ceil(0.99 * total))
    expect(fetchedTwice, 'deposits fetched twice').to.deep.equal([])
  })

  it('the droppers and the delayers are scored down by every client', async () => {
    const bad = [...droppers, ...delayers].map(r => r.peerId.toString())
    const honest = relays.filter(r => !droppers.includes(r) && !delayers.includes(r)).map(r => r.peerId.toString())
    const rows = clients.map(c => {
      const scores = new Map(c.onion.status().knownRelays.map(r => [r.peerId, r.reliability]))
      return { bad: bad.map(id => scores.get(id) ?? NaN), honest: honest.map(id => scores.get(id) ?? NaN) }
    })
    figures.scores = rows.map(r => ({ droppers: r.bad.slice(0, DROPPERS), delayers: r.bad.slice(DROPPERS), honestMean: Math.round(mean(r.honest) * 1000) / 1000 }))
    for (const r of rows) {
      // below the score of a relay never tried (0.5), and far below the honest ones
      expect(Math.max(...r.bad)).to.be.lessThan(0.5)
      expect(mean(r.bad)).to.be.lessThan(mean(r.honest) / 2)
    }
  })
})
