/**
 * @packageDocumentation
 *
 * Murmur in a web page: a whole peer (the node and every layer above it) on
 * WebSockets and WebRTC-direct to daemons and WebRTC to other browsers,
 * with the DHT as a client, and its state in IndexedDB, so a reloaded page is
 * the same peer: the same peer key, messaging identity and groups.
 *
 * @example
 *
 * ```TypeScript
 * import { createMurmur } from 'murmur/browser'
 *
 * const murmur = await createMurmur({
 *   bootstrap: ['/dns4/murmur.example.org/tcp/443/wss/p2p/12D3Koo…']
 * })
 * await murmur.start()
 * console.info(murmur.peerId.toString(), murmur.identity.id)
 * ```
 */

import { LevelDatastore } from 'datastore-level'
import { createMurmur as createPeer } from '../app/index.ts'
import { browserProfile } from '../node/profiles.ts'
import type { Murmur, MurmurInit } from '../app/index.ts'
import type { BrowserProfileInit } from '../node/profiles.ts'

export type { Murmur } from '../app/index.ts'
export { browserProfile } from '../node/profiles.ts'
export type { BrowserProfileInit } from '../node/profiles.ts'

/** The IndexedDB database a page keeps its peer in unless told otherwise */
export const DEFAULT_DATABASE = 'murmur'

export interface BrowserMurmurInit extends Omit<MurmurInit, 'home' | 'mdns' | 'metricsRegistry'>, BrowserProfileInit {
  /**
   * The IndexedDB database holding this peer's state. Two pages of one origin
   * with the same name are the same peer: give each its own name to run
   * several.
   *
   * @default DEFAULT_DATABASE
   */
  database?: string
}

export interface BrowserMurmur extends Murmur {
  /** The IndexedDB database this peer lives in */
  readonly database: string
}

/**
 * Creates a Murmur peer for a web page, its state in IndexedDB. It is not
 * started: call `start()`. `stop()` also closes the database.
 */
export async function createMurmur (init: BrowserMurmurInit = {}): Promise<BrowserMurmur> {
  const { database = DEFAULT_DATABASE, iceServers, allowPrivateAddresses, ...rest } = init
  // the datastore is opened before the peer is made: the peer key and the
  // identity are read from it while the node is built
  const owned = init.datastore == null ? new LevelDatastore(database) : undefined
  await owned?.open()
  const datastore = init.datastore ?? owned
  let murmur: Murmur
  try {
    murmur = await createPeer({
      ...browserProfile({ iceServers, allowPrivateAddresses }),
      ...rest,
      datastore
    })
  } catch (err) {
    await owned?.close()
    throw err
  }
  const stopPeer = murmur.stop.bind(murmur)
  // the page's peer owns its database: closing it after the layers stop
  // flushes what they wrote
  return Object.assign(murmur, {
    database,
    stop: async () => {
      await stopPeer()
      await owned?.close()
    }
  })
}
