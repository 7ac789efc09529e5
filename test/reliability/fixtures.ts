/**
 * What the reliability tests share: a 12-host netns testnet (1 bootstrap, 3
 * relays, 3 store nodes, 5 clients), clients that know each other (a ring of
 * contacts) and share one group, and a ledger of every send a test makes with
 * what the sender's daemon answered, checked against what each client's user
 * is shown (`murmur group read` / `murmur inbox`).
 */

import { expect } from 'aegir/chai'
import { waitFor } from '../fixtures/nodes.ts'
import { netnsUnavailable, startTestnet } from '../fixtures/testnet.ts'
import type { NetnsTestnet, TestnetHostSpec } from '../fixtures/testnet.ts'

export const CLIENTS = ['c1', 'c2', 'c3', 'c4', 'c5']

export const HOSTS: TestnetHostSpec[] = [
  { name: 'boot', roles: ['bootstrap'] },
  { name: 'r1', roles: ['relay'] },
  { name: 'r2', roles: ['relay'] },
  { name: 'r3', roles: ['relay'] },
  { name: 's1', roles: ['store'] },
  { name: 's2', roles: ['store'] },
  { name: 's3', roles: ['store'] },
  ...CLIENTS.map(name => ({ name, roles: [] }))
]

/** Who each client writes 1:1 to: the next one in the ring */
export function nextInRing (client: string): string {
  return CLIENTS[(CLIENTS.indexOf(client) + 1) % CLIENTS.length]
}

export function log (...args: unknown[]): void {
  // eslint-disable-next-line no-console
  console.log('     ', ...args)
}

/** Skips the suite (with the reason printed) when this machine cannot make network namespaces */
export function skipWithoutNetns (ctx: Mocha.Context): void {
  const reason = netnsUnavailable()
  if (reason != null) {
    log(`skipped: ${reason}`)
    ctx.skip()
  }
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) {
    return NaN
  }
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/** One send attempt and what the sender's daemon answered */
export interface Attempt {
  kind: 'group' | 'dm'
  from: string
  /** The recipient (1:1); for a group message every client is one */
  to?: string
  content: string
  /** The send command succeeded: the daemon acknowledged the message */
  acked: boolean
  /** 1:1: how it left (the contact's node acked it live, or a store node took it for the mailbox) */
  via?: 'live' | 'mailbox'
  /** The message id the sender's daemon gave it */
  id?: string
  error?: string
  /** The recipient's daemon was dead (its kill returned, its restart not begun) from before the send until after its answer */
  recipientDown?: boolean
  /** When the send started (ms since the epoch) */
  at: number
  ms: number
}

export interface Flow {
  /** Per client: how many rounds of new messages it started */
  rounds: Map<string, number>
  /** Messages whose every attempt so far failed */
  unsent(): Array<{ from: string, kind: 'group' | 'dm', base: string, tries: number }>
  stop(): Promise<void>
}

/** The 12-host testnet with its clients introduced and one group all five are in */
export class ReliabilityNet {
  readonly net: NetnsTestnet
  groupId = ''
  readonly attempts: Attempt[] = []
  /** Hosts whose daemon is down now, or about to be (clients in it send nothing) */
  readonly down = new Set<string>()
  /** Hosts whose daemon is dead for sure: the kill returned (the process exited) and the restart has not begun */
  readonly dead = new Set<string>()
  readonly figures: Record<string, unknown> = {}

  private constructor (net: NetnsTestnet) {
    this.net = net
  }

  static async start (name: string): Promise<ReliabilityNet> {
    const started = Date.now()
    const net = await startTestnet({ name, hosts: HOSTS, logLevel: 'warn', startTimeoutMs: 150_000 })
    const rn = new ReliabilityNet(net)
    rn.figures.startMs = Date.now() - started
    return rn
  }

  async murmur (host: string, ...args: string[]): Promise<any> {
    return this.net.murmur(host, ...args, '--json')
  }

  /**
   * Introduces the clients (each adds the next one's card), waits until each
   * can reach the next over an onion route, makes a group on c1 that the
   * others join, and waits until every client sees all five members.
   */
  async setUp (): Promise<void> {
    const started = Date.now()
    const cards = Object.fromEntries(await Promise.all(CLIENTS.map(async c => [c, (await this.murmur(c, 'contact', 'card')).card])))
    await Promise.all(CLIENTS.map(async c => this.murmur(c, 'contact', 'add', cards[nextInRing(c)], '--name', nextInRing(c))))
    const peerIds = Object.fromEntries(await Promise.all(CLIENTS.map(async c => [c, (await this.net.host(c)).peerId])))
    // the relay directory has spread: each client builds a route to the next (setup, not a claim)
    let lastError = ''
    try {
      await waitFor(async () => {
        const res = await Promise.allSettled(CLIENTS.map(async c => this.murmur(c, 'onion', 'send', peerIds[nextInRing(c)], 'hello')))
        lastError = res.map(r => r.status === 'rejected' ? String(r.reason?.message).slice(-200) : 'ok').join(' | ')
        return res.every(r => r.status === 'fulfilled')
      }, 'an onion route from each client to the next', 90_000, 1_000)
    } catch (err: any) {
      err.message += ` (last: ${lastError})`
      throw err
    }
    this.figures.routesAfterStartMs = Date.now() - started

    const group = await this.murmur('c1', 'group', 'create', 'reliability')
    this.groupId = group.id
    await Promise.all(CLIENTS.slice(1).map(async c => this.murmur(c, 'group', 'join', group.invite, '--display-name', c)))
    await waitFor(async () => {
      const members = await Promise.all(CLIENTS.map(async c => (await this.murmur(c, 'group', 'members', this.groupId)).members?.length ?? 0))
      return members.every(n => n === CLIENTS.length)
    }, 'every client to see the five members of the group', 60_000, 1_000)
    this.figures.setUpMs = Date.now() - started
  }

  /**
   * A steady flow: each client up (not in `down`) keeps sending group
   * messages, and 1:1 messages to the next client in the ring, each kind in a
   * loop of its own with a short pause, so a slow send holds up only the next
   * of its kind from its sender; a third loop sends its failed messages again
   * (each as a new message, `… #retryN`). `stop()` ends the flow and gives
   * what is still unsent three last chances.
   */
  startFlow (pauseMs = 1_000): Flow {
    const pending = new Map<string, Array<{ kind: 'group' | 'dm', base: string, tries: number }>>(CLIENTS.map(c => [c, []]))
    const rounds = new Map<string, number>(CLIENTS.map(c => [c, 0]))
    const state = { stopping: false }
    const send = async (kind: 'group' | 'dm', from: string, base: string, tries: number): Promise<void> => {
      const content = tries === 0 ? base : `${base} #retry${tries}`
      const a = kind === 'group' ? await this.sendGroup(from, content) : await this.sendDm(from, nextInRing(from), content)
      if (!a.acked) {
        pending.get(from)?.push({ kind, base, tries: tries + 1 })
      }
    }
    const resend = async (c: string): Promise<void> => {
      for (const p of (pending.get(c) ?? []).splice(0)) {
        await send(p.kind, c, p.base, p.tries)
      }
    }
    // per client a loop for group messages and one for 1:1 messages: a 1:1 send that waits
    // for a peer that is gone (live timeout, then the mailbox) does not slow its group messages
    const loop = async (c: string, kind: 'group' | 'dm'): Promise<void> => {
      let round = 0
      while (!state.stopping) {
        if (!this.down.has(c)) {
          round++
          rounds.set(c, Math.max(round, rounds.get(c) ?? 0))
          await send(kind, c, kind === 'group' ? `g ${c} r${round}` : `d ${c}>${nextInRing(c)} r${round}`, 0)
        }
        await new Promise(resolve => setTimeout(resolve, pauseMs))
      }
    }
    const running = Promise.all(CLIENTS.flatMap(c => [
      loop(c, 'group'),
      loop(c, 'dm'),
      (async () => {
        while (!state.stopping) {
          if (!this.down.has(c)) {
            await resend(c)
          }
          await new Promise(resolve => setTimeout(resolve, pauseMs))
        }
      })()
    ]))
    return {
      rounds,
      unsent: () => [...pending.entries()].flatMap(([from, list]) => list.map(p => ({ from, ...p }))),
      stop: async () => {
        state.stopping = true
        await running
        for (let i = 0; i < 3; i++) {
          await Promise.all(CLIENTS.filter(c => !this.down.has(c)).map(resend))
        }
      }
    }
  }

  /** One group message from `from`; recorded whatever the answer */
  async sendGroup (from: string, content: string): Promise<Attempt> {
    const t0 = Date.now()
    const attempt: Attempt = { kind: 'group', from, content, acked: false, at: t0, ms: 0 }
    try {
      const entry = await this.murmur(from, 'group', 'send', this.groupId, content)
      Object.assign(attempt, { acked: true, id: entry.id })
    } catch (err: any) {
      attempt.error = err.message
    }
    attempt.ms = Date.now() - t0
    this.attempts.push(attempt)
    return attempt
  }

  /** One 1:1 message from `from` to `to` (a contact by name); recorded whatever the answer */
  async sendDm (from: string, to: string, content: string): Promise<Attempt> {
    const t0 = Date.now()
    const deadBefore = this.dead.has(to)
    const attempt: Attempt = { kind: 'dm', from, to, content, acked: false, at: t0, ms: 0 }
    try {
      const res = await this.murmur(from, 'send', to, content)
      Object.assign(attempt, { acked: true, via: res.via, id: res.message.id })
    } catch (err: any) {
      attempt.error = err.message
    }
    attempt.recipientDown = deadBefore && this.dead.has(to)
    attempt.ms = Date.now() - t0
    this.attempts.push(attempt)
    return attempt
  }

  /** What `client`'s user is shown: group timeline entries and 1:1 messages from others */
  async shown (client: string): Promise<{ group: Array<{ id: string, content: string }>, inbox: Array<{ id: string, content: string }> }> {
    const [read, inbox] = await Promise.all([
      this.murmur(client, 'group', 'read', this.groupId, '--limit', '100000'),
      this.murmur(client, 'inbox')
    ])
    return {
      group: read.entries.map((e: any) => ({ id: e.id, content: e.content })),
      inbox: inbox.messages.filter((m: any) => m.self === false).map((m: any) => ({ id: m.id, content: m.content }))
    }
  }

  /** The messages acknowledged for `client`: every acked group message, and the acked 1:1 messages to it */
  owed (client: string): { group: Attempt[], inbox: Attempt[] } {
    return {
      group: this.attempts.filter(a => a.kind === 'group' && a.acked),
      inbox: this.attempts.filter(a => a.kind === 'dm' && a.acked && a.to === client)
    }
  }

  /**
   * The claims on what `client` shows, now: no message shown twice (by id or by
   * content), nothing shown that no one sent; returns the acknowledged messages
   * still missing (an empty list when all arrived)
   */
  async check (client: string): Promise<string[]> {
    const shown = await this.shown(client)
    const sentContents = new Set(this.attempts.map(a => a.content))
    for (const [where, list] of Object.entries(shown)) {
      const ids = list.map(e => e.id)
      const contents = list.map(e => e.content).filter(c => sentContents.has(c))
      // duplicates are a failure at once, whatever else is still on its way
      expect(ids.filter((id, i) => ids.indexOf(id) !== i), `${client} ${where}: ids shown twice`).to.deep.equal([])
      expect(contents.filter((c, i) => contents.indexOf(c) !== i), `${client} ${where}: messages shown twice`).to.deep.equal([])
    }
    const owed = this.owed(client)
    const has = { group: new Set(shown.group.map(e => e.id)), inbox: new Set(shown.inbox.map(e => e.id)) }
    const hasContent = { group: new Set(shown.group.map(e => e.content)), inbox: new Set(shown.inbox.map(e => e.content)) }
    const missing: string[] = []
    for (const where of ['group', 'inbox'] as const) {
      for (const a of owed[where]) {
        if (!has[where].has(a.id as string) || !hasContent[where].has(a.content)) {
          missing.push(`${where}:${a.content}`)
        }
      }
    }
    return missing
  }

  /** Waits until every client shows every acknowledged message (checking for duplicates at each look); the time it took */
  async converge (what: string, timeoutMs: number, clients = CLIENTS): Promise<number> {
    const started = Date.now()
    let missing: Record<string, string[]> = {}
    try {
      await waitFor(async () => {
        missing = Object.fromEntries(await Promise.all(clients.map(async c => [c, await this.check(c)])))
        return Object.values(missing).every(m => m.length === 0)
      }, what, timeoutMs, 2_000)
    } catch (err: any) {
      if (err.name !== 'AssertionError') {
        err.message += `\nstill missing: ${JSON.stringify(Object.fromEntries(Object.entries(missing).filter(([, m]) => m.length > 0)))}`
      }
      throw err
    }
    return Date.now() - started
  }

  /** Delivery figures from the ledger */
  summary (): Record<string, unknown> {
    const acked = this.attempts.filter(a => a.acked)
    const dms = acked.filter(a => a.kind === 'dm')
    const live = dms.filter(a => a.via === 'live')
    const mailbox = dms.filter(a => a.via === 'mailbox')
    const groups = acked.filter(a => a.kind === 'group')
    return {
      attempts: this.attempts.length,
      acked: acked.length,
      failedAttempts: this.attempts.length - acked.length,
      groupMessagesAcked: groups.length,
      groupDeliveries: groups.length * CLIENTS.length,
      dmsAcked: dms.length,
      dmsLive: live.length,
      dmsMailbox: mailbox.length,
      dmsToDownRecipient: dms.filter(a => a.recipientDown === true).length,
      groupSendMsP50: percentile(groups.map(a => a.ms), 0.5),
      groupSendMsP95: percentile(groups.map(a => a.ms), 0.95),
      dmLiveAckMsP50: percentile(live.map(a => a.ms), 0.5),
      dmLiveAckMsP95: percentile(live.map(a => a.ms), 0.95),
      dmMailboxAckMsP50: percentile(mailbox.map(a => a.ms), 0.5),
      dmMailboxAckMsP95: percentile(mailbox.map(a => a.ms), 0.95),
      failures: [...new Set(this.attempts.filter(a => !a.acked).map(a => (a.error ?? '').replace(/.*exited \d+: /, '').slice(0, 160)))]
    }
  }

  async stop (): Promise<void> {
    await this.net.stop()
  }
}

/**
 * Registers the before/after hooks of a describe that runs on the 12-host
 * testnet (skipped without netns): started and set up before, its figures
 * printed (and the daemons' output when the test failed) and stopped after.
 * Returns the running net, for the tests.
 */
export function useReliabilityNet (name: string): () => ReliabilityNet {
  let rn: ReliabilityNet | undefined
  before(async function () {
    skipWithoutNetns(this)
    rn = await ReliabilityNet.start(name)
    await rn.setUp()
  })
  after(async function () {
    if (rn != null) {
      log('figures:', JSON.stringify({ ...rn.figures, ...rn.summary() }))
      if (this.currentTest?.state !== 'passed') {
        // what the daemons said (warn and up): a crash shows here
        log('testnet output (tail):\n' + rn.net.output().split('\n').slice(-80).join('\n'))
      }
      await rn.stop()
    }
  })
  return () => {
    if (rn == null) {
      throw new Error('the reliability net has not started')
    }
    return rn
  }
}
