/**
 * The transport identity: the libp2p peer key, an Ed25519 key that names a
 * machine. It is kept in `<home>/peer.key` (protobuf-encoded, mode 0600) so a
 * restarted node keeps its peer id.
 */

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { IdentityError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

export const PEER_KEY_FILE = 'peer.key'

/**
 * Reads the peer key from `home`, or creates one (and the home itself) if
 * there is none yet. A file that is there but unreadable is an error, never
 * silently replaced: replacing it would change the node's peer id.
 */
export async function loadOrCreatePeerKey (home: string): Promise<{ key: PrivateKey, created: boolean }> {
  const file = join(home, PEER_KEY_FILE)
  let bytes: Uint8Array | undefined

  try {
    bytes = await readFile(file)
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw new IdentityError(`Cannot read ${file}: ${err.message}`)
    }
  }

  if (bytes != null) {
    try {
      return { key: privateKeyFromProtobuf(bytes), created: false }
    } catch (err: any) {
      throw new IdentityError(`${file} does not hold a valid peer key: ${err.message}`)
    }
  }

  await mkdir(home, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  // 'wx' so two processes racing on a fresh home cannot overwrite each other's key
  try {
    await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  } catch (err: any) {
    if (err.code === 'EEXIST') {
      return loadOrCreatePeerKey(home)
    }
    throw new IdentityError(`Cannot write ${file}: ${err.message}`)
  }
  await chmod(file, 0o600)
  return { key, created: true }
}
