import { parseDialable } from '../../../node/murmur.ts'
import { HttpError, stringField } from '../server.ts'
import type { MurmurNode } from '../../../node/index.ts'
import type { Route } from '../server.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Pings per `POST /v1/ping`, so one request cannot keep a handler busy for long */
const MAX_PINGS = 20

/**
 * One libp2p ping. libp2p's connection monitor pings every connection on the
 * same protocol, whose limit is one outbound stream: when ours meets its,
 * wait for it to finish rather than fail
 */
async function pingOnce (node: MurmurNode, ma: Multiaddr, signal: AbortSignal): Promise<number> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(10_000)])
  while (true) {
    try {
      return await node.libp2p.services.ping.ping(ma, { signal: deadline })
    } catch (err: any) {
      if (err?.name !== 'TooManyOutboundProtocolStreamsError' || deadline.aborted) {
        throw err
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
}

/** The node's own endpoints: identity, status, peers, dialling, lookups */
export function nodeRoutes (node: MurmurNode): Route[] {
  return [{
    method: 'GET',
    path: '/v1/id',
    handler: async () => ({
      peerId: node.peerId.toString(),
      addresses: node.getMultiaddrs().map(String)
    })
  }, {
    method: 'GET',
    path: '/v1/status',
    handler: async () => node.status()
  }, {
    method: 'GET',
    path: '/v1/peers',
    handler: async () => ({ peers: node.peers() })
  }, {
    method: 'POST',
    path: '/v1/connect',
    handler: async ({ body, signal }) => {
      const addr = stringField(await body(), 'addr')
      return node.connect(addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
    }
  }, {
    method: 'POST',
    path: '/v1/ping',
    handler: async ({ body, signal }) => {
      const json = await body()
      const ma = parseDialable(stringField(json, 'addr'))
      const count = (json as Record<string, unknown>).count ?? 3
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PINGS) {
        throw new HttpError(400, 'BadRequest', `"count" must be an integer from 1 to ${MAX_PINGS}`)
      }
      // like ping(8): a ping that fails is counted lost; the request fails only when all do
      const rtts: number[] = []
      let lastError: Error | undefined
      for (let i = 0; i < count; i++) {
        try {
          rtts.push(await pingOnce(node, ma, signal))
        } catch (err: any) {
          if (signal.aborted) {
            throw err
          }
          lastError = err
        }
      }
      if (rtts.length === 0 && lastError != null) {
        throw lastError
      }
      const sorted = [...rtts].sort((a, b) => a - b)
      return { addr: ma.toString(), rttsMs: rtts, lost: count - rtts.length, minMs: sorted[0], medianMs: sorted[Math.floor(sorted.length / 2)], maxMs: sorted[sorted.length - 1] }
    }
  }, {
    method: 'GET',
    path: '/v1/peers/:peerId',
    handler: async ({ params, signal }) => node.findPeer(params.peerId, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
  }]
}
