/**
 * Who keeps a mailbox: the k store-role peers closest to its name in the
 * DHT keyspace (XOR of sha256 of the peer id's multihash, as kad-dht places
 * peers, and sha256 of the mailbox name, as kad-dht places a key). A peer is
 * a store peer when identify says it serves the store protocol.
 *
 * Not when the peer store lists the protocol: libp2p adds a protocol to the
 * remote peer's record whenever that peer opens a stream of it, so on a store
 * node every client that deposited or fetched looked like a store node. The
 * replicas of a mailbox then disagreed on who keeps it, their anti-entropy
 * rounds never agreed (a `repaired` round forever, syncs to clients failing),
 * and replication went to clients. Identify's answer is the peer's own list of
 * what it serves; it is kept in the peer store's metadata, so it outlives a
 * restart, and in memory, so it counts the moment identify ends.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { STORE_PROTOCOL } from './constants.ts'
import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'

/** How long a list of store peers is reused before the peer store is read again */
const CACHE_MS = 1000
/** Peer store metadata key: present (one byte, 1) on a peer that identify said serves the store protocol */
export const STORE_ROLE_METADATA = 'murmur/store-role'
const SERVES = Uint8Array.of(1)

type PeersLibp2p = Pick<Libp2p, 'peerStore' | 'peerId' | 'getConnections'> & Partial<Pick<Libp2p, 'addEventListener'>>

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
  private readonly libp2p: PeersLibp2p
  private cached?: { at: number, peers: PeerId[] }
  /** What identify said of each peer since it connected (the metadata may still be on its way to the peer store) */
  private readonly identified = new Map<string, boolean>()

  constructor (libp2p: PeersLibp2p) {
    this.libp2p = libp2p
    libp2p.addEventListener?.('peer:identify', (evt) => { this.onIdentify(evt.detail) })
    libp2p.addEventListener?.('peer:disconnect', (evt) => { this.identified.delete(evt.detail.toString()) })
  }

  /** Identify (or identify-push) told what the peer serves: note whether that includes the store protocol */
  private onIdentify ({ peerId, protocols }: Pick<IdentifyResult, 'peerId' | 'protocols'>): void {
    const serves = protocols.includes(STORE_PROTOCOL)
    const key = peerId.toString()
    if (this.identified.get(key) === serves) {
      return
    }
    this.identified.set(key, serves)
    this.invalidate()
    this.libp2p.peerStore.merge(peerId, { metadata: { [STORE_ROLE_METADATA]: serves ? SERVES : undefined } }).catch(() => {
      // the node is stopping; the next identify writes it again
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
    const found = await this.libp2p.peerStore.all({ filters: [p => !p.id.equals(this.libp2p.peerId) && (this.identified.get(p.id.toString()) ?? p.metadata.has(STORE_ROLE_METADATA))] })
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
