/**
 * Who keeps a mailbox: the k store-role peers closest to its name in the
 * DHT keyspace (XOR of sha256 of the peer id's multihash, as kad-dht places
 * peers, and sha256 of the mailbox name, as kad-dht places a key). A peer is
 * a store peer when identify says it speaks the store protocol.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { STORE_PROTOCOL } from './constants.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** How long a list of store peers is reused before the peer store is read again */
const CACHE_MS = 1000

export function keyspaceOfPeer (peer: PeerId): Uint8Array {
  return sha256(peer.toMultihash().bytes)
}

export function keyspaceOfName (name: Uint8Array): Uint8Array {
  return sha256(name)
}

/** Negative when `a` is closer to `target` than `b` */
export function compareDistance (a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) {
      return da - db
    }
  }
  return 0
}

export function closestPeers (peers: PeerId[], name: Uint8Array, k: number): PeerId[] {
  const target = keyspaceOfName(name)
  return peers
    .map(peer => ({ peer, key: keyspaceOfPeer(peer) }))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, k)
    .map(p => p.peer)
}

export class StorePeers {
  private readonly libp2p: Pick<Libp2p, 'peerStore' | 'peerId' | 'getConnections'> & Partial<Pick<Libp2p, 'addEventListener'>>
  private cached?: { at: number, peers: PeerId[] }

  constructor (libp2p: Pick<Libp2p, 'peerStore' | 'peerId' | 'getConnections'> & Partial<Pick<Libp2p, 'addEventListener'>>) {
    this.libp2p = libp2p
    // a peer that starts or stops serving (identify, identify-push) changes the answer at once; other
    // updates (addresses, tags) are frequent and do not
    libp2p.addEventListener?.('peer:update', (evt) => {
      const { peer, previous } = evt.detail
      if (peer.protocols.includes(STORE_PROTOCOL) !== (previous?.protocols.includes(STORE_PROTOCOL) ?? false)) {
        this.invalidate()
      }
    })
  }

  /** Forget the cached list (a peer came or went) */
  invalidate (): void {
    this.cached = undefined
  }

  /** Store-role peers this node knows, itself excluded */
  async all (): Promise<PeerId[]> {
    if (this.cached != null && Date.now() - this.cached.at < CACHE_MS) {
      return this.cached.peers
    }
    const found = await this.libp2p.peerStore.all({ filters: [p => p.protocols.includes(STORE_PROTOCOL) && !p.id.equals(this.libp2p.peerId)] })
    const peers = found.map(p => p.id)
    this.cached = { at: Date.now(), peers }
    return peers
  }

  /**
   * The k store peers responsible for a mailbox, closest first; `self` joins
   * the candidates when this node stores. Peers with an open connection come
   * first, so that a store node that died is replaced by the next closest
   * live one; known but unconnected peers only fill the set up to k.
   */
  async responsible (name: Uint8Array, k: number, self?: PeerId): Promise<PeerId[]> {
    const peers = await this.all()
    const live = peers.filter(p => this.libp2p.getConnections(p).length > 0)
    const chosen = closestPeers(self != null ? [self, ...live] : live, name, k)
    if (chosen.length < k) {
      chosen.push(...closestPeers(peers.filter(p => !live.includes(p)), name, k - chosen.length))
    }
    return closestPeers(chosen, name, k)
  }
}
