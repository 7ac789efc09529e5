import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { signDescriptor, verifyDescriptor } from './signed.ts'
import type { DescriptorFields, RelayDescriptor } from './signed.ts'
import type { MurmurNode } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import type { Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId, PrivateKey, Startable } from '@libp2p/interface'
import type { SelectFn, ValidateFn } from '@libp2p/kad-dht'

/** The gossipsub topic relays announce themselves on */
export const DIRECTORY_TOPIC = '/murmur/1/directory'

/** DHT key namespace of relay descriptors: `/murmur-relay/<peer id>` */
export const DESCRIPTOR_NAMESPACE = 'murmur-relay'

export function descriptorKey (peerId: PeerId | string): Uint8Array {
  return new TextEncoder().encode(`/${DESCRIPTOR_NAMESPACE}/${peerId.toString()}`)
}

/**
 * The DHT validator for `/murmur-relay/…`: a record must be a verified,
 * unexpired descriptor of the very peer its key names, so no node stores a
 * forged or stale one.
 */
export const descriptorValidator: ValidateFn = async (key, value) => {
  const descriptor = await verifyDescriptor(value)
  const expected = new TextDecoder().decode(key).split('/')[2]
  if (descriptor.peerId.toString() !== expected) {
    throw new Error('Descriptor of another peer than its DHT key names')
  }
}

/** The DHT selector: the descriptor of the latest epoch, then the latest issued */
export const descriptorSelector: SelectFn = async (_key, records) => {
  let best = 0
  let bestRank: [number, number] = [-1, -1]
  for (let i = 0; i < records.length; i++) {
    try {
      const d = await verifyDescriptor(records[i])
      if (d.epoch > bestRank[0] || (d.epoch === bestRank[0] && d.notBefore > bestRank[1])) {
        best = i
        bestRank = [d.epoch, d.notBefore]
      }
    } catch {
      // an invalid record never wins
    }
  }
  return best
}

export interface DirectoryInit {
  /**
   * Republish the local descriptor on the directory topic this often
   *
   * @default 300_000
   */
  republishIntervalMs?: number
  /**
   * When peers subscribe to the directory topic, republish after this quiet
   * time so newcomers learn the relays quickly (0: only on the interval)
   *
   * @default 1_000
   */
  republishOnSubscribeMs?: number
  /**
   * Publish the local descriptor in the DHT too (lookups of peers not heard on the topic)
   *
   * @default true
   */
  dht?: boolean
}

export interface DirectoryComponents {
  node: MurmurNode
  /** The peer key: descriptors are signed with it */
  privateKey: PrivateKey
}

export interface DirectoryEvents {
  descriptor: CustomEvent<RelayDescriptor>
}

export interface DirectoryStatus {
  known: number
  relays: Array<{ peerId: string, epoch: number, notAfter: string, roles: string[], load: number }>
}

/**
 * The verified relay directory: descriptors heard on the directory topic or
 * found in the DHT, each checked (signature, validity period) before it is
 * kept; expired ones are pruned. Also publishes this node's own descriptor,
 * whose fields the onion layer sets (onion key, epoch, load).
 */
export class RelayDirectory extends TypedEventEmitter<DirectoryEvents> implements Startable {
  private readonly node: MurmurNode
  private readonly privateKey: PrivateKey
  private readonly log: Logger
  private readonly republishIntervalMs: number
  private readonly republishOnSubscribeMs: number
  private readonly useDht: boolean
  private readonly known = new Map<string, RelayDescriptor>()
  private local?: Omit<DescriptorFields, 'notBefore' | 'addrs'>
  private timer?: ReturnType<typeof setInterval>
  private subscribeTimer?: ReturnType<typeof setTimeout>
  private started = false
  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic === DIRECTORY_TOPIC) {
      void this.add(evt.detail.data).catch(err => { this.log.debug({ err: err.message }, 'descriptor refused') })
    }
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    // only a peer newly joining the directory topic needs the descriptors it missed
    const joined = evt.detail.subscriptions.some(s => s.topic === DIRECTORY_TOPIC && s.subscribe)
    if (!joined || this.republishOnSubscribeMs <= 0 || this.local == null) {
      return
    }
    clearTimeout(this.subscribeTimer)
    this.subscribeTimer = setTimeout(() => { void this.publishTopic() }, this.republishOnSubscribeMs)
  }

  constructor (components: DirectoryComponents, init: DirectoryInit = {}) {
    super()
    this.node = components.node
    this.privateKey = components.privateKey
    this.log = components.node.logger.forComponent('directory')
    this.republishIntervalMs = init.republishIntervalMs ?? 300_000
    this.republishOnSubscribeMs = init.republishOnSubscribeMs ?? 1_000
    this.useDht = init.dht ?? true
  }

  async start (): Promise<void> {
    const pubsub = this.node.libp2p.services.pubsub
    // invalid descriptors are rejected at the gossip layer too, so peers that spread them lose score
    pubsub.topicValidators.set(DIRECTORY_TOPIC, async (_peer, message) => {
      try {
        await verifyDescriptor(message.data)
        return TopicValidatorResult.Accept
      } catch {
        return TopicValidatorResult.Reject
      }
    })
    pubsub.addEventListener('message', this.onMessage)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.subscribe(DIRECTORY_TOPIC)
    this.timer = setInterval(() => {
      this.prune()
      void this.publish()
    }, this.republishIntervalMs)
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    clearInterval(this.timer)
    clearTimeout(this.subscribeTimer)
    const pubsub = this.node.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.topicValidators.delete(DIRECTORY_TOPIC)
    try {
      pubsub.unsubscribe(DIRECTORY_TOPIC)
    } catch {
      // gossipsub already stopped: nothing to unsubscribe from
    }
  }

  /** Verifies and keeps a descriptor; throws a clear error for a bad one */
  async add (bytes: Uint8Array): Promise<RelayDescriptor> {
    const descriptor = await verifyDescriptor(bytes)
    const id = descriptor.peerId.toString()
    const current = this.known.get(id)
    if (current != null && (current.epoch > descriptor.epoch || (current.epoch === descriptor.epoch && current.notBefore >= descriptor.notBefore))) {
      return current
    }
    this.known.set(id, descriptor)
    if (id !== this.node.peerId.toString() && descriptor.addrs.length > 0) {
      // so the onion layer can dial the relay
      await this.node.libp2p.peerStore.merge(descriptor.peerId, { multiaddrs: descriptor.addrs }).catch(() => {})
    }
    this.dispatchEvent(new CustomEvent('descriptor', { detail: descriptor }))
    return descriptor
  }

  /** Verified, unexpired descriptors */
  descriptors (now = Date.now()): RelayDescriptor[] {
    return [...this.known.values()].filter(d => d.notAfter > now)
  }

  get (peerId: PeerId | string, now = Date.now()): RelayDescriptor | undefined {
    const d = this.known.get(peerId.toString())
    return d != null && d.notAfter > now ? d : undefined
  }

  /** The directory entry, else the DHT record; undefined if neither has a valid one */
  async lookup (peerId: PeerId | string, options: { signal?: AbortSignal } = {}): Promise<RelayDescriptor | undefined> {
    const known = this.get(peerId)
    if (known != null) {
      return known
    }
    try {
      for await (const event of this.node.libp2p.services.dht.get(descriptorKey(peerIdFromString(peerId.toString())), options)) {
        if (event.name === 'VALUE') {
          return await this.add(event.value)
        }
      }
    } catch (err: any) {
      this.log.debug({ peerId: peerId.toString(), err: err.message }, 'descriptor lookup failed')
    }
    return undefined
  }

  /** Drops descriptors past their not-after */
  prune (now = Date.now()): void {
    for (const [id, d] of this.known) {
      if (d.notAfter <= now) {
        this.known.delete(id)
      }
    }
  }

  /** Sets what this node announces; published at once and then periodically */
  async setLocal (fields: Omit<DescriptorFields, 'notBefore' | 'addrs'>): Promise<void> {
    this.local = fields
    await this.publish()
  }

  /** Updates the advertised load without republishing (next periodic publish carries it) */
  setLoad (load: number): void {
    if (this.local != null) {
      this.local = { ...this.local, load }
    }
  }

  private async sign (): Promise<Uint8Array | undefined> {
    if (this.local == null) {
      return undefined
    }
    // not-before = issue time: every publication has new bytes, so gossipsub's
    // content-addressed dedup does not swallow a republication to newcomers
    return signDescriptor(this.privateKey, { ...this.local, notBefore: Date.now(), addrs: this.node.getMultiaddrs() })
  }

  private async publishTopic (): Promise<void> {
    if (!this.started) {
      return
    }
    const bytes = await this.sign()
    if (bytes == null) {
      return
    }
    await this.add(bytes)
    try {
      await this.node.libp2p.services.pubsub.publish(DIRECTORY_TOPIC, bytes)
    } catch (err: any) {
      this.log.debug({ err: err.message }, 'descriptor not published on the topic (no peers yet)')
    }
  }

  /** Publishes the local descriptor on the topic and (in the background) in the DHT */
  async publish (): Promise<void> {
    const bytes = await this.sign()
    if (bytes == null || !this.started) {
      return
    }
    await this.publishTopic()
    if (this.useDht) {
      void (async () => {
        try {
          for await (const event of this.node.libp2p.services.dht.put(descriptorKey(this.node.peerId), bytes, { signal: AbortSignal.timeout(30_000) })) {
            void event // the query's progress events are not needed
          }
        } catch (err: any) {
          this.log.debug({ err: err.message }, 'descriptor not stored in the DHT')
        }
      })()
    }
  }

  status (): DirectoryStatus {
    const relays = this.descriptors().map(d => ({
      peerId: d.peerId.toString(),
      epoch: d.epoch,
      notAfter: new Date(d.notAfter).toISOString(),
      roles: d.roles,
      load: d.load
    }))
    return { known: relays.length, relays }
  }
}
