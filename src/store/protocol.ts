/**
 * The protocol core: the codec and one store node, handed in by the caller.
 * It neither picks store nodes nor retries; the policy layer (`policy.ts`)
 * does.
 */

import { decodeResponse } from './codec.ts'
import { errorFromResponse } from './errors.ts'
import { StoreRequest, StoreResponse } from './store.ts'
import type { AckProof, Envelope, Proof, Sync } from './store.ts'
import type { StorePath, StoreTransport } from './transport.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'

export interface PageResult {
  envelopes: Envelope[]
  cursor: Uint8Array<ArrayBuffer>
  more: boolean
}

export interface PageOptions extends AbortOptions {
  /** How large a page the caller is ready for (see `ExchangeOptions.answerBytes`) */
  answerBytes?: number
}

export class StoreProtocolClient {
  readonly peer: PeerId
  private readonly transport: StoreTransport

  constructor (transport: StoreTransport, peer: PeerId) {
    this.transport = transport
    this.peer = peer
  }

  private async request (req: StoreRequest, path: StorePath, options: PageOptions): Promise<StoreResponse> {
    const bytes = await this.transport.exchange(this.peer, StoreRequest.encode(req), { ...options, path })
    const res = decodeResponse(bytes)
    if (res.status !== StoreResponse.Status.OK) {
      throw errorFromResponse(res.status, res.error)
    }
    return res
  }

  /** Deposits envelopes (their `expires` is the requested TTL in ms, 0 for the default); resolves once durable */
  async deposit (envelopes: Envelope[], options: AbortOptions = {}): Promise<number> {
    const res = await this.request({ type: StoreRequest.Type.DEPOSIT, deposit: { envelopes } }, 'tx', options)
    return res.accepted
  }

  async challenge (options: AbortOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
    return (await this.request({ type: StoreRequest.Type.CHALLENGE }, 'rx', options)).challenge
  }

  async fetch (mailbox: Uint8Array<ArrayBuffer>, proof: Proof, cursor: Uint8Array<ArrayBuffer>, limit: number, options: PageOptions = {}): Promise<PageResult> {
    const res = await this.request({ type: StoreRequest.Type.FETCH, fetch: { mailbox, proof, cursor, limit } }, 'rx', options)
    return { envelopes: res.envelopes, cursor: res.cursor, more: res.more }
  }

  async ack (ack: AckProof, options: AbortOptions = {}): Promise<number> {
    return (await this.request({ type: StoreRequest.Type.ACK, ack: { ack } }, 'rx', options)).accepted
  }

  async history (topic: string, since: bigint, cursor: Uint8Array<ArrayBuffer>, limit: number, options: PageOptions = {}): Promise<PageResult> {
    const res = await this.request({ type: StoreRequest.Type.HISTORY, history: { topic, since, cursor, limit } }, 'rx', options)
    return { envelopes: res.envelopes, cursor: res.cursor, more: res.more }
  }

  /** Publishes a signed public record (the store node validates it) */
  async publish (key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>, options: AbortOptions = {}): Promise<void> {
    await this.request({ type: StoreRequest.Type.PUBLISH, publish: { key, value } }, 'tx', options)
  }

  /** The record the store node holds under `key`, undefined when none */
  async lookup (key: Uint8Array<ArrayBuffer>, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    const res = await this.request({ type: StoreRequest.Type.LOOKUP, lookup: { key } }, 'rx', options)
    return res.record != null && res.record.length > 0 ? res.record : undefined
  }

  async sync (sync: Sync, options: AbortOptions = {}): Promise<StoreResponse> {
    return this.request({ type: StoreRequest.Type.SYNC, sync }, 'replica', options)
  }
}
