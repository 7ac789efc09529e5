/**
 * What only Node.js can do: files under a home, TCP, mDNS, Prometheus.
 * Browser builds replace this module with `platform.browser.ts` (see the
 * `browser` field of package.json), so none of it reaches a web bundle.
 */

import { join } from 'node:path'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { mdns } from '@libp2p/mdns'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { LevelDatastore } from 'datastore-level'
import type { Libp2pOptions } from 'libp2p'
import type { Registry } from 'prom-client'

export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.ts'

export const PLATFORM = 'node'

/** The datastore kept under a home (LevelDB through classic-level) */
export function homeDatastore (home: string): LevelDatastore {
  return new LevelDatastore(join(home, 'datastore'))
}

export function platformTransports (rtcConfiguration: RTCConfiguration): NonNullable<Libp2pOptions['transports']> {
  return [
    tcp(),
    webSockets(),
    webRTCDirect({ rtcConfiguration }),
    webRTC({ rtcConfiguration }),
    circuitRelayTransport()
  ]
}

export function mdnsDiscovery (): NonNullable<Libp2pOptions['peerDiscovery']>[number] {
  return mdns()
}

export function prometheus (registry: Registry): NonNullable<Libp2pOptions['metrics']> {
  return prometheusMetrics({ registry })
}
