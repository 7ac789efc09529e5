/**
 * The browser's side of `platform.ts`: no files, no TCP, no mDNS, no
 * Prometheus. A browser reaches daemons over WebSockets and WebRTC-direct,
 * other browsers over WebRTC signalled through a circuit relay.
 */

import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { InvalidInitError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import type { Registry } from 'prom-client'

export const PEER_KEY_FILE = 'peer.key'

export const PLATFORM = 'browser'

export async function loadOrCreatePeerKey (home: string): Promise<{ key: PrivateKey, created: boolean }> {
  throw new InvalidInitError('home', `a browser has no home directory ("${home}"): pass a datastore instead`)
}

export function homeDatastore (home: string): Datastore {
  throw new InvalidInitError('home', `a browser has no home directory ("${home}"): pass a datastore instead`)
}

export function platformTransports (rtcConfiguration: RTCConfiguration): NonNullable<Libp2pOptions['transports']> {
  return [
    webSockets(),
    webRTCDirect({ rtcConfiguration }),
    webRTC({ rtcConfiguration }),
    circuitRelayTransport()
  ]
}

export function mdnsDiscovery (): NonNullable<Libp2pOptions['peerDiscovery']>[number] {
  throw new InvalidInitError('mdns', 'mDNS is not available in a browser')
}

export function prometheus (registry: Registry): NonNullable<Libp2pOptions['metrics']> {
  throw new InvalidInitError('metricsRegistry', 'Prometheus metrics are not available in a browser')
}
