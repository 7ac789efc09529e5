import type { NodeInit } from './index.ts'

/**
 * Settings for many nodes on one host (tests, the testnet script, the
 * benchmark harness). libp2p limits inbound connections per IP and gossipsub
 * penalises peers that share an IP; on loopback every peer shares 127.0.0.1,
 * so both would cut the network apart. Never use this profile on a real
 * network: there those limits are what stops a sybil from one host.
 */
export function loopbackProfile (): Pick<NodeInit, 'connectionManager' | 'gossipsub'> {
  return {
    connectionManager: {
      inboundConnectionThreshold: Infinity,
      maxIncomingPendingConnections: 1000,
      maxConnections: 1000,
      allow: ['/ip4/127.0.0.0/ipcidr/8']
    },
    gossipsub: {
      scoreParams: {
        IPColocationFactorWeight: 0
      }
    }
  }
}
