/**
 * A node as a scenario sees it (`BenchNode`; the harness holds `RemoteNode`s,
 * cluster.ts) and the node itself inside its host process (`LocalNode`),
 * which stamps outgoing payloads and reports deliveries with the receiver's
 * clock.
 */

import { multiaddr } from '@multiformats/multiaddr'
import { decodePayload, encodePayload, now, PAYLOAD_HEADER_BYTES } from './payload.ts'
import type { PubsubPeer, SystemName } from './systems.ts'

export interface Delivery {
  /** index of the receiving node */
  node: number
  tag: number
  seq: number
  /** publisher's clock, ms (see payload.ts `now()`) */
  sentAt: number
  /** receiver's clock, ms */
  receivedAt: number
}

export interface PublishRequest {
  topic: string
  tag: number
  seq: number
  size: number
  /** seeds the payload padding */
  seed: number
}

export type PublishOutcome =
  | { ok: true, sentAt: number, recipients: number }
  | { ok: false, sentAt: number, error: string }

export interface BenchNode {
  readonly index: number
  readonly system: SystemName
  readonly peerId: string
  /** a dialable loopback multiaddr ending in /p2p/<peer id> */
  readonly addr: string
  connect(addr: string): Promise<void>
  subscribe(topic: string): Promise<void>
  publish(request: PublishRequest): Promise<PublishOutcome>
  /** peer ids with an open connection */
  peers(): Promise<string[]>
  meshPeers(topic: string): Promise<number>
}

export type DeliverySink = (delivery: Delivery) => void

/** Time allowed for one dial between loopback nodes */
export const DIAL_TIMEOUT_MS = 30_000

export class LocalNode implements BenchNode {
  readonly index: number
  readonly system: SystemName
  readonly peerId: string
  readonly addr: string
  readonly peer: PubsubPeer

  constructor (index: number, system: SystemName, peer: PubsubPeer, sink: DeliverySink) {
    this.index = index
    this.system = system
    this.peer = peer
    this.peerId = peer.libp2p.peerId.toString()
    const addr = peer.libp2p.getMultiaddrs().find(ma => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))
    if (addr == null) {
      throw new Error(`node ${index} (${system}) has no loopback TCP address: ${peer.libp2p.getMultiaddrs().map(String).join(', ')}`)
    }
    this.addr = addr.toString()
    peer.onMessage((_topic, data) => {
      const receivedAt = now()
      const header = decodePayload(data)
      if (header != null) {
        sink({ node: index, tag: header.tag, seq: header.seq, sentAt: header.sentAt, receivedAt })
      }
    })
  }

  async connect (addr: string): Promise<void> {
    await this.peer.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
  }

  async subscribe (topic: string): Promise<void> {
    this.peer.subscribe(topic)
  }

  async publish (request: PublishRequest): Promise<PublishOutcome> {
    const data = encodePayload({ tag: request.tag, seq: request.seq, sentAt: 0 }, request.size, request.seed)
    // the send time is stamped last, just before the bytes go to gossipsub
    const sentAt = now()
    new DataView(data.buffer, data.byteOffset, PAYLOAD_HEADER_BYTES).setFloat64(12, sentAt)
    try {
      const recipients = await this.peer.publish(request.topic, data)
      return { ok: true, sentAt, recipients }
    } catch (err: any) {
      return { ok: false, sentAt, error: `${err.name ?? 'Error'}: ${err.message}` }
    }
  }

  async peers (): Promise<string[]> {
    return [...new Set(this.peer.libp2p.getConnections().map(c => c.remotePeer.toString()))]
  }

  async meshPeers (topic: string): Promise<number> {
    return this.peer.meshPeers(topic)
  }

  async stop (): Promise<void> {
    await this.peer.stop()
  }
}
