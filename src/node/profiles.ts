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

export interface BrowserProfileInit {
  /**
   * STUN/TURN servers for WebRTC
   *
   * @default []
   */
  iceServers?: NodeInit['iceServers']

  /**
   * Let the page dial `ws://` (unencrypted) and private or loopback
   * addresses. Browsers refuse them by default, which is right on the public
   * Internet; a page served by a daemon on a LAN, and tests, need them.
   *
   * @default false
   */
  allowPrivateAddresses?: boolean
}

/**
 * Settings for a node in a web page: no TCP and no mDNS (the browser build
 * has neither), bootstrap peers dialled at once, the DHT as a client only (a page cannot be dialled, so it
 * must not answer for a part of the keyspace), a circuit-relay reservation
 * and a WebRTC listener, so other browsers reach it through a relay first
 * and then directly (`<relay>/p2p-circuit/webrtc/p2p/<peer>`).
 */
export function browserProfile (init: BrowserProfileInit = {}): Pick<NodeInit, 'listen' | 'mdns' | 'dhtClientMode' | 'iceServers' | 'connectionGater' | 'bootstrapDelayMs'> {
  return {
    listen: ['/p2p-circuit', '/webrtc'],
    // a page can do nothing before it reaches a daemon: dial at once (measured: a
    // cold page's first message came ~1 s later with libp2p's default delay)
    bootstrapDelayMs: 0,
    mdns: false,
    dhtClientMode: true,
    iceServers: init.iceServers ?? [],
    connectionGater: init.allowPrivateAddresses === true ? { denyDialMultiaddr: () => false } : undefined
  }
}
