import { bundleSelectors, bundleValidators, Contacts, OnionLiveTransport, StoreMailboxTransport, StoreRecordTransport } from '../contacts/index.ts'
import { directoryDhtInit, RelayDirectory } from '../directory/index.ts'
import { groups as createGroups } from '../groups/index.ts'
import { loadOrCreateIdentity } from '../identity/index.ts'
import { createNode, loadOrCreateNodeKey } from '../node/index.ts'
import { Onion } from '../onion/index.ts'
import { createStore } from '../store/index.ts'
import { GroupHistory } from './group-history.ts'
import { OnionStoreTransport, serveStoreOverOnion } from './onion-store.ts'
import type { Murmur, MurmurInit } from './index.ts'
import type { GroupsLayer } from '../groups/index.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurNode } from '../node/index.ts'
import type { Store } from '../store/index.ts'
import type { PeerId, Startable } from '@libp2p/interface'

/** The layers above the node, each constructed once in `create` */
interface Layers {
  directory: RelayDirectory
  onion: Onion
  store: Store
  groups: GroupsLayer
  contacts: Contacts
  groupHistory: GroupHistory
}

/**
 * The composite: the node first, then each layer in the order of DESIGN.md's
 * layer diagram (a layer only uses those started before it); stopped in
 * reverse, so no layer outlives what it stands on.
 */
export class DefaultMurmur implements Murmur {
  readonly node: MurmurNode
  readonly peerId: PeerId
  readonly identity: MessagingIdentity
  readonly directory: RelayDirectory
  readonly onion: Onion
  readonly contacts: Contacts
  readonly store: Store
  readonly groups: GroupsLayer
  readonly groupHistory: GroupHistory
  /** Layers above the node, in start order */
  private readonly layers: Startable[]
  private started = false

  static async create (init: MurmurInit): Promise<DefaultMurmur> {
    // the directory signs descriptors with the peer key, so the key is loaded here and handed to the node
    const privateKey = init.privateKey ?? await loadOrCreateNodeKey(init)
    // relay descriptors and prekey bundles are signed DHT records: every node refuses forged ones
    const dht = directoryDhtInit({
      dhtValidators: { ...bundleValidators, ...init.dhtValidators },
      dhtSelectors: { ...bundleSelectors, ...init.dhtSelectors }
    })
    const node = await createNode({ ...init, privateKey, ...dht })
    const identity = init.identity ?? (await loadOrCreateIdentity({
      home: init.home,
      // without a home (a browser) the identity lives beside the rest of the state
      datastore: init.home == null && init.datastore != null ? init.datastore : undefined
    })).identity
    const directory = new RelayDirectory({ node, privateKey }, init.directory)
    const onion = new Onion({ node, directory }, init.onion)
    const { transparent: storeTransparent, onionPageSurbs, ...storeInit } = init.store ?? {}
    // store nodes keep prekey bundles too, checked with the DHT's validator and selector
    const store = createStore({ node }, { recordValidators: bundleValidators, recordSelectors: bundleSelectors, ...storeInit })
    if (storeTransparent !== true) {
      store.setTransport(new OnionStoreTransport({ onion, directory, libp2p: node.libp2p, log: node.logger.forComponent('store:onion') }, { hops: init.onion?.hops ?? 3, pageSurbs: onionPageSurbs }))
    }
    if (store.server != null) {
      // a store node answers requests that come over onion routes whatever its own client does
      serveStoreOverOnion(onion, store.server, node.peerId)
    }
    const { transparent, ...contactsInit } = init.contacts ?? {}
    const contacts = new Contacts({ node, identity }, {
      // onion routes unless told to be transparent (then Contacts' own direct streams)
      live: transparent === true ? undefined : new OnionLiveTransport(onion, { timeoutMs: contactsInit.sendTimeoutMs }),
      // every peer has offline delivery through the store nodes' mailboxes
      mailbox: new StoreMailboxTransport(store),
      // and prekey bundles on the store nodes, for contacts who start while this peer is offline
      records: new StoreRecordTransport(store),
      ...contactsInit
    })
    const groups = createGroups(init.groups)({
      pubsub: node.libp2p.services.pubsub,
      datastore: node.datastore,
      logger: node.logger,
      metricsRegistry: node.metricsRegistry,
      identity,
      anonymousPublisher: async (topic, envelope) => { await onion.publish(topic, envelope) }
    })
    // an exit that is a member of the group must take the envelope into its own timeline too
    onion.setExitPublisher(async (topic, data) => { await groups.publishEnvelope(topic, data) })
    const groupHistory = new GroupHistory({ node, store, groups }, init.groupHistory)
    return new DefaultMurmur(node, identity, { directory, onion, store, groups, contacts, groupHistory })
  }

  private constructor (node: MurmurNode, identity: MessagingIdentity, layers: Layers) {
    this.node = node
    this.peerId = node.peerId
    this.identity = identity
    this.directory = layers.directory
    this.onion = layers.onion
    this.store = layers.store
    this.groups = layers.groups
    this.contacts = layers.contacts
    this.groupHistory = layers.groupHistory
    this.layers = [layers.directory, layers.onion, layers.store, layers.groups, layers.contacts, layers.groupHistory]
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    await this.node.start()
    const running: Startable[] = []
    try {
      for (const layer of this.layers) {
        await layer.start()
        running.push(layer)
      }
    } catch (err) {
      // leave nothing half-started behind
      for (const layer of running.reverse()) {
        await layer.stop()
      }
      await this.node.stop()
      throw err
    }
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    for (const layer of [...this.layers].reverse()) {
      await layer.stop()
    }
    await this.node.stop()
  }
}
