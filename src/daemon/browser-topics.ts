/**
 * Group gossip for browsers. A page usually has a single connection, to the
 * daemon that served it, and gossipsub forwards a topic only through peers
 * subscribed to it: without help, two pages in one group never hear each
 * other until they connect directly. So a daemon serving browsers (`--web`)
 * follows every group topic (`/murmur/1/g/…`) one of its peers subscribes
 * to, and leaves it once no peer is left on it.
 *
 * It learns nothing it did not already see: as a gossip peer it sees who
 * subscribes to what, topic names are derived from group secrets, and
 * envelopes are encrypted. It cannot validate them (it holds no group key);
 * members do, and their peer scoring punishes whoever sends junk.
 */

import type { Logger } from '../node/logger.ts'
import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId, Startable } from '@libp2p/interface'

/** Group topics, as DESIGN.md names them */
export const GROUP_TOPIC_PREFIX = '/murmur/1/g/'

/** A peer cannot make the daemon follow more topics than this */
export const MAX_FOLLOWED_TOPICS = 1024

const MAX_TOPIC_LENGTH = 256

export interface TopicFollowerComponents {
  pubsub: GossipSub
  /** Subscribe to the node's `peer:disconnect` (gossipsub forgets a gone peer's topics without an event) */
  onPeerDisconnect(listener: () => void): () => void
  log: Logger
}

export class BrowserTopicFollower implements Startable {
  private readonly components: TopicFollowerComponents
  /** Topics this follower subscribed to (never those the daemon's own layers joined) */
  private readonly followed = new Set<string>()
  private removeDisconnectListener?: () => void

  constructor (components: TopicFollowerComponents) {
    this.components = components
    this.onSubscriptionChange = this.onSubscriptionChange.bind(this)
  }

  start (): void {
    this.components.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    this.removeDisconnectListener = this.components.onPeerDisconnect(() => { this.sweep() })
  }

  stop (): void {
    this.components.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    this.removeDisconnectListener?.()
    for (const topic of this.followed) {
      this.components.pubsub.unsubscribe(topic)
    }
    this.followed.clear()
  }

  /** The topics followed on behalf of peers */
  topics (): string[] {
    return [...this.followed]
  }

  private onSubscriptionChange (evt: CustomEvent<SubscriptionChangeData>): void {
    const { peerId, subscriptions } = evt.detail
    for (const { topic, subscribe } of subscriptions) {
      if (!topic.startsWith(GROUP_TOPIC_PREFIX) || topic.length > MAX_TOPIC_LENGTH) {
        continue
      }
      if (subscribe) {
        this.follow(topic, peerId)
      }
    }
    this.sweep()
  }

  private follow (topic: string, peerId: PeerId): void {
    const { pubsub, log } = this.components
    if (this.followed.has(topic) || pubsub.getTopics().includes(topic)) {
      return
    }
    if (this.followed.size >= MAX_FOLLOWED_TOPICS) {
      log.warn({ peer: peerId.toString(), limit: MAX_FOLLOWED_TOPICS }, 'not following another group topic for browsers: limit reached')
      return
    }
    this.followed.add(topic)
    pubsub.subscribe(topic)
    log.debug({ followed: this.followed.size }, 'following a group topic for browsers')
  }

  /** Leaves the followed topics no peer is subscribed to any more */
  private sweep (): void {
    const { pubsub, log } = this.components
    for (const topic of this.followed) {
      if (pubsub.getSubscribers(topic).length === 0) {
        this.followed.delete(topic)
        pubsub.unsubscribe(topic)
        log.debug({ followed: this.followed.size }, 'left a group topic no peer follows')
      }
    }
  }
}
