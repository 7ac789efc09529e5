/**
 * Group history between the groups layer and the store layer (DESIGN.md,
 * "Store-and-forward": store nodes may follow group topics).
 *
 * - A store node follows every group topic a connected peer subscribes to.
 * The topic is a one-way hash of the group id, so the store node learns
 * which topics exist, never a group's name, id or key, and it keeps only
 * envelopes it cannot open. Members need no request of their own: being
 * subscribed is what a store node sees.
 * - A member, when it starts and whenever a store node (re)appears, asks the
 * store nodes for each group's envelopes since its cursor and runs them
 * through `groups.ingestEnvelope`, which validates and de-duplicates them.
 * The cursor (the newest store timestamp seen, per group) is persisted.
 */

import { Key } from 'interface-datastore'
import { GROUP_TOPIC_PREFIX } from '../groups/index.ts'
import { STORE_PROTOCOL } from '../store/index.ts'
import type { Groups } from '../groups/index.ts'
import type { Logger, MurmurNode } from '../node/index.ts'
import type { Store } from '../store/index.ts'
import type { SubscriptionChangeData } from '@libp2p/gossipsub'
import type { IdentifyResult, Startable } from '@libp2p/interface'

export interface GroupHistoryInit {
  /**
   * A store node follows group topics its peers subscribe to
   *
   * @default true
   */
  follow?: boolean
  /**
   * Most group topics a store node follows this way
   *
   * @default 10000
   */
  maxFollowedTopics?: number
  /**
   * Fetch history when this member starts and when a store node appears
   *
   * @default true
   */
  fetch?: boolean
  /**
   * How far before its cursor a member asks again: store nodes stamp
   * envelopes with their own clocks, so one node's cursor is not exactly
   * another's; what comes twice is dropped by `ingestEnvelope`
   *
   * @default 60000
   */
  overlapMs?: number
  /**
   * Quiet time after a store node appears before fetching, so a burst of
   * connections makes one fetch
   *
   * @default 500
   */
  debounceMs?: number
}

export interface GroupHistoryComponents {
  node: Pick<MurmurNode, 'libp2p' | 'datastore' | 'logger'>
  store: Pick<Store, 'history' | 'followTopic' | 'status'>
  groups: Pick<Groups, 'list' | 'ingestEnvelope'>
}

export interface HistorySyncResult {
  /** envelopes fetched, per group id */
  fetched: Record<string, number>
  /** envelopes that entered a timeline, per group id */
  accepted: Record<string, number>
}

const CURSOR_PREFIX = '/murmur/group-history/'

export class GroupHistory implements Startable {
  private readonly components: GroupHistoryComponents
  private readonly log: Logger
  private readonly follow: boolean
  private readonly maxFollowed: number
  private readonly fetch: boolean
  private readonly overlapMs: number
  private readonly debounceMs: number
  private timer?: ReturnType<typeof setTimeout>
  private running?: Promise<HistorySyncResult>
  private again = false
  private started = false

  constructor (components: GroupHistoryComponents, init: GroupHistoryInit = {}) {
    this.components = components
    this.log = components.node.logger.forComponent('group-history')
    this.follow = init.follow ?? true
    this.maxFollowed = init.maxFollowedTopics ?? 10_000
    this.fetch = init.fetch ?? true
    this.overlapMs = init.overlapMs ?? 60_000
    this.debounceMs = init.debounceMs ?? 500
    this.onSubscriptionChange = this.onSubscriptionChange.bind(this)
    this.onIdentify = this.onIdentify.bind(this)
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    const { libp2p } = this.components.node
    if (this.follow && this.components.store.status() != null) {
      libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    }
    if (this.fetch) {
      libp2p.addEventListener('peer:identify', this.onIdentify)
      this.schedule(0)
    }
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    const { libp2p } = this.components.node
    libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    libp2p.removeEventListener('peer:identify', this.onIdentify)
    clearTimeout(this.timer)
    await this.running?.catch(() => {})
  }

  /**
   * Fetches every group's history since its cursor into the timelines. Runs
   * one at a time: a call during a run makes one more run after it.
   */
  async sync (): Promise<HistorySyncResult> {
    if (this.running != null) {
      this.again = true
      return this.running
    }
    this.running = this.syncAll().finally(() => {
      this.running = undefined
      if (this.again && this.started) {
        this.again = false
        this.schedule(0)
      }
    })
    return this.running
  }

  private async syncAll (): Promise<HistorySyncResult> {
    const result: HistorySyncResult = { fetched: {}, accepted: {} }
    for (const group of await this.components.groups.list()) {
      if (!this.started) {
        break
      }
      try {
        const { fetched, accepted } = await this.syncGroup(group.id, group.topic)
        result.fetched[group.id] = fetched
        result.accepted[group.id] = accepted
      } catch (err: any) {
        // no store node keeps it (yet), or none answers: the next store node to appear tries again
        this.log.debug({ group: group.id.slice(0, 8), err: err.message }, 'group history not fetched')
      }
    }
    return result
  }

  private async syncGroup (groupId: string, topic: string): Promise<{ fetched: number, accepted: number }> {
    const key = new Key(CURSOR_PREFIX + groupId)
    const { datastore } = this.components.node
    let last = 0
    if (await datastore.has(key)) {
      last = Number(new TextDecoder().decode(await datastore.get(key)))
    }
    const page = await this.components.store.history(topic, { since: last > 0 ? Math.max(1, last - this.overlapMs) : undefined })
    let accepted = 0
    let newest = last
    for (const envelope of page.envelopes) {
      try {
        const verdict = await this.components.groups.ingestEnvelope(topic, envelope.payload)
        if (verdict.result === 'accept') {
          accepted++
        }
      } catch (err: any) {
        // the group was left meanwhile
        this.log.debug({ err: err.message }, 'history envelope not ingested')
        break
      }
      newest = Math.max(newest, envelope.timestamp)
    }
    if (newest > last) {
      await datastore.put(key, new TextEncoder().encode(String(newest)))
    }
    return { fetched: page.envelopes.length, accepted }
  }

  private schedule (delayMs: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      if (this.started) {
        void this.sync().catch(err => { this.log.debug({ err: err.message }, 'group history sync failed') })
      }
    }, delayMs)
  }

  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    if (evt.detail.protocols.includes(STORE_PROTOCOL)) {
      this.schedule(this.debounceMs)
    }
  }

  private onSubscriptionChange (evt: CustomEvent<SubscriptionChangeData>): void {
    const subscribed = evt.detail.subscriptions.filter(sub => sub.subscribe && sub.topic.startsWith(GROUP_TOPIC_PREFIX))
    if (subscribed.length === 0) {
      return
    }
    const followed = new Set(this.components.store.status()?.followedTopics ?? [])
    for (const sub of subscribed) {
      if (followed.has(sub.topic) || followed.size >= this.maxFollowed) {
        continue
      }
      followed.add(sub.topic)
      this.components.store.followTopic(sub.topic).catch(err => {
        this.log.debug({ err: err.message }, 'following a group topic failed')
      })
    }
  }
}
