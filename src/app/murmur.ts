import { loadOrCreateIdentity } from '../identity/index.ts'
import { createNode } from '../node/index.ts'
import { createStore } from '../store/index.ts'
import type { Murmur, MurmurInit } from './index.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurNode } from '../node/index.ts'
import type { Store } from '../store/index.ts'
import type { PeerId, Startable } from '@libp2p/interface'

/**
 * The composite: the node first, then each layer in the order of DESIGN.md's
 * layer diagram (a layer only uses those started before it); stopped in
 * reverse, so no layer outlives what it stands on.
 */
export class DefaultMurmur implements Murmur {
  readonly node: MurmurNode
  readonly peerId: PeerId
  readonly identity: MessagingIdentity
  readonly store: Store
  /** Layers above the node, in start order */
  private readonly layers: Startable[]
  private started = false

  static async create (init: MurmurInit): Promise<DefaultMurmur> {
    const node = await createNode(init)
    const identity = init.identity ?? (await loadOrCreateIdentity({
      home: init.home,
      // without a home (a browser) the identity lives beside the rest of the state
      datastore: init.home == null && init.datastore != null ? init.datastore : undefined
    })).identity
    const store = createStore({ node }, init.store)
    return new DefaultMurmur(node, identity, store, [store])
  }

  private constructor (node: MurmurNode, identity: MessagingIdentity, store: Store, layers: Startable[]) {
    this.node = node
    this.peerId = node.peerId
    this.identity = identity
    this.store = store
    this.layers = layers
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
