/**
 * Who keeps a mailbox: the k store-role peers closest to its name in the
 * DHT keyspace (XOR of sha256 of the peer id's multihash, as kad-dht places
 * peers, and sha256 of the mailbox name, as kad-dht places a key). A peer is
 * a store peer when identify says it speaks the store protocol.
 *
 * Identify's word is kept apart from the peer store's protocol list, because
 * libp2p also adds to that list every protocol a remote peer merely opened a
 * stream with: each client that deposited directly at a store node, or
 * published its prekey bundle there, was listed by that node as a store peer.
 * The node then counted clients among a mailbox's replicas (pushing to them,
 * and leaving a real replica out of its anti-entropy summaries, so that rounds
 * with that replica ended `repaired` for ever) and tried to sync with them.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { STORE_PROTOCOL } from './constants.ts'
import type { IdentifyResult, Libp2p, Peer, PeerId } from '@libp2p/interface'

/** How long a list of store peers is reused before the peer store is read again */
const CACHE_MS = 1000

/**
 * Peer store metadata: identify's last word on whether the peer serves the
 * store protocol (1) — kept with the peer, so that a restarted node knows its
 * store peers before it meets them again
 */
export const STORE_PEER_METADATA = 'murmur/store-peer'

/** Identify verdicts kept in memory (beyond these the peer store's metadata answers) */
const MAX_VERDICTS = 10_000

/** True when identify last said this peer serves the store protocol, as the peer store keeps it */
export function identifiedAsStorePeer (peer: Pick<Peer, 'metadata'>): boolean {
  return peer.metadata.get(STORE_PEER_METADATA)?.[0] === 1
}

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
  /**
   * Identify's verdicts as they arrive: they count at once, before the peer
   * store's metadata is written (a sync that follows an identify must see it)
   */
  private readonly verdicts = new Map<string, boolean>()

  constructor (libp2p: Pick<Libp2p, 'peerStore' | 'peerId' | 'getConnections'> & Partial<Pick<Libp2p, 'addEventListener'>>) {
    this.libp2p = libp2p
    // identify and identify-push both end in this event: a peer that starts or stops serving changes the answer at once
    libp2p.addEventListener?.('peer:identify', (evt) => { this.onIdentify(evt.detail) })
  }

  private onIdentify ({ peerId, protocols }: Pick<IdentifyResult, 'peerId' | 'protocols'>): void {
    const key = peerId.toString()
    const serves = protocols.includes(STORE_PROTOCOL)
    if (this.verdicts.get(key) !== serves) {
      this.invalidate()
    }
    this.verdicts.delete(key)
    this.verdicts.set(key, serves)
    if (this.verdicts.size > MAX_VERDICTS) {
      this.verdicts.delete(this.verdicts.keys().next().value as string)
    }
    void this.remember(peerId, serves)
  }

  /** Writes the verdict to the peer store when it changed there */
  private async remember (peerId: PeerId, serves: boolean): Promise<void> {
    try {
      const peer = await this.libp2p.peerStore.get(peerId)
      if (identifiedAsStorePeer(peer) !== serves) {
        await this.libp2p.peerStore.merge(peerId, { metadata: { [STORE_PEER_METADATA]: serves ? Uint8Array.of(1) : undefined } })
      }
    } catch {
      // the peer is gone from the peer store (or the node stopped): the in-memory verdict stands
    }
  }

  private isStorePeer (peer: Peer): boolean {
    return this.verdicts.get(peer.id.toString()) ?? identifiedAsStorePeer(peer)
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
    const found = await this.libp2p.peerStore.all({ filters: [p => this.isStorePeer(p) && !p.id.equals(this.libp2p.peerId)] })
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
