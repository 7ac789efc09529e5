/**
 * How a page reaches each peer, in the words the page shows: straight to
 * another browser over WebRTC, through a relay, or to a daemon.
 */

export type ConnectionKind = 'direct' | 'relayed' | 'daemon'

export interface ConnectionView {
  peerId: string
  kind: ConnectionKind
  /** 'WebRTC', 'WebRTC-direct', 'WebSocket', … */
  transport: string
  address: string
}

/** Classifies a connection by its remote address and whether libp2p limits it */
export function classifyConnection (remoteAddr: string, limited: boolean): { kind: ConnectionKind, transport: string } {
  if (limited || remoteAddr.includes('/p2p-circuit')) {
    return { kind: 'relayed', transport: 'circuit relay' }
  }
  if (remoteAddr.includes('/webrtc-direct')) {
    return { kind: 'daemon', transport: 'WebRTC-direct' }
  }
  if (remoteAddr.includes('/webrtc')) {
    return { kind: 'direct', transport: 'WebRTC' }
  }
  if (remoteAddr.includes('/ws') || remoteAddr.includes('/wss')) {
    return { kind: 'daemon', transport: 'WebSocket' }
  }
  return { kind: 'daemon', transport: 'other' }
}

export const KIND_LABEL: Record<ConnectionKind, string> = {
  direct: 'direct WebRTC',
  relayed: 'relayed',
  daemon: 'via daemon'
}
