import { tempDir } from '../fixtures/cli.ts'
import { loopbackPeer, waitFor } from '../fixtures/nodes.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'

export interface StorePeer {
  murmur: Murmur
  home: string
  cleanup(): Promise<void>
}

/** A whole peer with the store role and a home of its own on loopback */
export async function storePeer (init: MurmurInit = {}, home?: string): Promise<StorePeer> {
  const dir = home != null ? { dir: home, cleanup: async () => {} } : await tempDir()
  const murmur = await loopbackPeer({ home: dir.dir, roles: ['store'], ...init, store: { syncIntervalMs: 500, ...init.store } })
  return { murmur, home: dir.dir, cleanup: dir.cleanup }
}

/** Connects every peer to every other and waits until each sees the store peers among them */
export async function mesh (peers: Murmur[]): Promise<void> {
  for (let i = 0; i < peers.length; i++) {
    for (let j = i + 1; j < peers.length; j++) {
      await peers[i].node.connect(peers[j].node.getMultiaddrs()[0])
    }
  }
  const stores = peers.filter(p => p.node.roles.has('store'))
  for (const p of peers) {
    await waitFor(async () => {
      const known = await p.store.storePeers()
      return stores.filter(s => !s.peerId.equals(p.peerId)).every(s => known.some(k => k.equals(s.peerId)))
    }, 'identify to tell every peer which peers store', 10_000)
  }
}
