/**
 * @packageDocumentation
 *
 * A whole Murmur peer: the node (libp2p, DHT discovery, gossipsub) and the
 * layers above it, started bottom-up and stopped top-down. This is what an
 * application, the daemon and the web page use.
 *
 * @example
 *
 * ```TypeScript
 * import { createMurmur } from 'murmur'
 *
 * const murmur = await createMurmur({ home: './murmur-home' })
 * await murmur.start()
 * console.info(murmur.peerId.toString())
 * await murmur.stop()
 * ```
 */

import { DefaultMurmur } from './murmur.ts'
import type { GroupHistory, GroupHistoryInit } from './group-history.ts'
import type { Contacts, ContactsInit } from '../contacts/index.ts'
import type { DirectoryInit, RelayDirectory } from '../directory/index.ts'
import type { Groups, GroupsInit } from '../groups/index.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurNode, NodeInit } from '../node/index.ts'
import type { Onion, OnionInit } from '../onion/index.ts'
import type { Store, StoreInit } from '../store/index.ts'
import type { PeerId, Startable } from '@libp2p/interface'

/**
 * Options for a whole peer: the node's options, and one field per layer
 * (`groups`, `onion`, `store`, `contacts`) with that layer's options.
 */
export interface MurmurInit extends NodeInit {
  /**
   * The user's messaging identity, instead of the one kept in `home`
   * (`identity.key`) or, without a home, in the datastore
   */
  identity?: MessagingIdentity

  /** The relay directory's options */
  directory?: DirectoryInit

  /** The onion layer's options (the `relay` role makes the peer forward packets) */
  onion?: OnionInit

  /**
   * Contacts and 1:1 messaging: transports and timeouts. Without an explicit
   * `live`, messages go over onion routes; with an explicit `mailbox`, that
   * replaces the store layer's mailboxes.
   *
   * @default {}
   */
  contacts?: MurmurContactsInit

  /** Mailboxes and group history (the serving side when `roles` has `store`) */
  store?: MurmurStoreInit

  /** Options of the groups layer (end-to-end encrypted group messaging) */
  groups?: GroupsInit

  /** Group history through store nodes: what store nodes follow, when members fetch */
  groupHistory?: GroupHistoryInit
}

/** The store layer's options as the composite takes them */
export interface MurmurStoreInit extends StoreInit {
  /**
   * TRANSPARENT MODE: deposits, fetches and acks go over direct streams to
   * the store nodes, which then see which peer deposits into and fetches
   * which mailbox. Without it they go over onion routes (TX for deposits, RX
   * for fetches and acks) whenever the onion layer knows enough relays, and
   * direct, with a logged warning, while it does not.
   *
   * @default false
   */
  transparent?: boolean
  /**
   * The most reply blocks one page request over onion routes carries (at
   * most 64, ~1.9 KB of page each): larger pages mean fewer round trips for
   * a long backlog, and more reply blocks made and sent per request
   *
   * @default 32
   */
  onionPageSurbs?: number
}

/** The contacts layer's options as the composite takes them */
export interface MurmurContactsInit extends ContactsInit {
  /**
   * TRANSPARENT MODE: live 1:1 messages go over a direct stream
   * (`/murmur/dm/1.0.0`) from the sender's peer to the recipient's, instead
   * of over onion routes. Contents stay sealed, but anyone watching the
   * network, and the recipient's node, see which peer talks to which. For
   * networks without enough relays, and for tests of other things.
   *
   * @default false
   */
  transparent?: boolean
}

export interface Murmur extends Startable {
  /** The node below every layer: libp2p, discovery, peers */
  readonly node: MurmurNode
  readonly peerId: PeerId
  /** Who the user is to other users; never the peer id */
  readonly identity: MessagingIdentity
  /** Verified relay descriptors; this peer's own is published there */
  readonly directory: RelayDirectory
  /** Onion routes: `send`, `handle`, `request`, `publish` */
  readonly onion: Onion
  /** Contact cards, X3DH + Double Ratchet sessions, 1:1 messages */
  readonly contacts: Contacts
  /** Offline mailboxes and group history: deposit, fetch, ack, history */
  readonly store: Store
  /** End-to-end encrypted groups over gossipsub */
  readonly groups: Groups
  /** Fetches missed group envelopes from store nodes (and, on a store node, follows group topics) */
  readonly groupHistory: GroupHistory
  isStarted(): boolean
}

/**
 * Creates a Murmur peer. It is not started: call `start()`.
 */
export { GroupHistory } from './group-history.ts'
export type { GroupHistoryInit, HistorySyncResult } from './group-history.ts'

export async function createMurmur (init: MurmurInit = {}): Promise<Murmur> {
  return DefaultMurmur.create(init)
}
