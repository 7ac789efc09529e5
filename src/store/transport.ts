/**
 * The seam between the store client and the network: how one encoded
 * request reaches one store node and its response comes back. Transparent
 * mode opens a direct stream; the onion layer plugs in a transport that
 * carries the same bytes over a TX route and brings the reply back through
 * a SURB (with `path` telling deposits apart from fetches, which must use a
 * different route).
 */

import { lpStream } from '@libp2p/utils'
import { MAX_FRAME_BYTES, STORE_PROTOCOL } from './constants.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

/** Which way the request goes: deposits (TX), fetches and acks (RX), or between store nodes */
export type StorePath = 'tx' | 'rx' | 'replica'

export interface ExchangeOptions extends AbortOptions {
  path: StorePath
  /**
   * How large an answer the caller is ready for (a page): a transport whose
   * answers are bounded (onion reply blocks) makes room for about this much;
   * the store node fills a page up to the room there is
   */
  answerBytes?: number
}

export interface StoreTransport {
  /** Sends one encoded StoreRequest to `storeNode`, returns its encoded StoreResponse */
  exchange(storeNode: PeerId, request: Uint8Array, options: ExchangeOptions): Promise<Uint8Array>
}

/** Transparent mode: one direct libp2p stream per exchange */
export class DirectTransport implements StoreTransport {
  private readonly libp2p: Pick<Libp2p, 'dialProtocol'>

  constructor (libp2p: Pick<Libp2p, 'dialProtocol'>) {
    this.libp2p = libp2p
  }

  async exchange (storeNode: PeerId, request: Uint8Array, options: ExchangeOptions): Promise<Uint8Array> {
    const signal = options.signal ?? AbortSignal.timeout(30_000)
    const stream = await this.libp2p.dialProtocol(storeNode, STORE_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(request, { signal })
      const response = await lp.read({ signal })
      await stream.close({ signal }).catch(() => { stream.abort(new Error('close failed')) })
      return response.subarray()
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }
}
