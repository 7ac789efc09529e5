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

/**
 * Classifies a connection by its remote address and whether a relay limits
 * it. A WebRTC connection keeps the circuit it was signalled through in its
 * remote address (`<relay>/p2p-circuit/webrtc/p2p/<peer>`, so libp2p's own
 * `direct` flag calls it indirect); what carries its bytes is the last
 * transport, WebRTC, peer to peer.
 */
export function classifyConnection (remoteAddr: string, limited: boolean): { kind: ConnectionKind, transport: string } {
  if (limited) {
    return { kind: 'relayed', transport: 'circuit relay' }
  }
  if (/\/webrtc(\/p2p\/[^/]+)?$/.test(remoteAddr)) {
    return { kind: 'direct', transport: 'WebRTC' }
  }
  if (remoteAddr.includes('/p2p-circuit')) {
    return { kind: 'relayed', transport: 'circuit relay' }
  }
  if (remoteAddr.includes('/webrtc-direct')) {
    return { kind: 'daemon', transport: 'WebRTC-direct' }
  }
  if (/\/wss?(\/|$)/.test(remoteAddr)) {
    return { kind: 'daemon', transport: 'WebSocket' }
  }
  return { kind: 'daemon', transport: 'other' }
}

export const KIND_LABEL: Record<ConnectionKind, string> = {
  direct: 'direct WebRTC',
  relayed: 'relayed',
  daemon: 'via daemon'
}
