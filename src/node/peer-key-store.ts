/**
 * The peer key kept in a datastore, for a node without a home (a browser page
 * on IndexedDB): a reloaded page keeps its peer id.
 */

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Key } from 'interface-datastore'
import { IdentityError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export const PEER_KEY_DATASTORE_KEY = new Key('/murmur/node/peer-key')

/**
 * Reads the peer key from the datastore, or creates and stores one. A stored
 * key that does not decode is an error, never silently replaced.
 */
export async function loadOrCreateStoredPeerKey (datastore: Datastore): Promise<{ key: PrivateKey, created: boolean }> {
  if (await datastore.has(PEER_KEY_DATASTORE_KEY)) {
    const bytes = await datastore.get(PEER_KEY_DATASTORE_KEY)
    try {
      return { key: privateKeyFromProtobuf(bytes), created: false }
    } catch (err: any) {
      throw new IdentityError(`The datastore does not hold a valid peer key: ${err.message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await datastore.put(PEER_KEY_DATASTORE_KEY, privateKeyToProtobuf(key))
  return { key, created: true }
}
