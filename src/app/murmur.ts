import { groups as createGroups } from '../groups/index.ts'
import { loadOrCreateIdentity } from '../identity/index.ts'
import { createNode } from '../node/index.ts'
import type { Murmur, MurmurInit } from './index.ts'
import type { GroupsLayer } from '../groups/index.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurNode } from '../node/index.ts'
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
  readonly groups: GroupsLayer
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
    const groups = createGroups(init.groups)({
      pubsub: node.libp2p.services.pubsub,
      datastore: node.datastore,
      logger: node.logger,
      metricsRegistry: node.metricsRegistry,
      identity
    })
    return new DefaultMurmur(node, identity, groups, [groups])
  }

  private constructor (node: MurmurNode, identity: MessagingIdentity, groups: GroupsLayer, layers: Startable[]) {
    this.node = node
    this.peerId = node.peerId
    this.identity = identity
    this.groups = groups
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
