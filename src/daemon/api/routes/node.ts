import { stringField } from '../server.ts'
import type { MurmurNode } from '../../../node/index.ts'
import type { Route } from '../server.ts'

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
    method: 'GET',
    path: '/v1/peers/:peerId',
    handler: async ({ params, signal }) => node.findPeer(params.peerId, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
  }]
}
