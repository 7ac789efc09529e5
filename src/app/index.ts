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
   * Contacts and 1:1 messaging: transports and timeouts
   *
   * @default {}
   */
  contacts?: ContactsInit

  /** Mailboxes and group history (the serving side when `roles` has `store`) */
  store?: StoreInit

  /** Options of the groups layer (end-to-end encrypted group messaging) */
  groups?: GroupsInit

  /** Group history through store nodes: what store nodes follow, when members fetch */
  groupHistory?: GroupHistoryInit
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
