import { Key } from 'interface-datastore'
import { IdentityFormatError } from './errors.ts'
import { identityFile, readIdentityFile, writeIdentityFile } from './home-file.ts'
import { MessagingIdentity } from './identity.ts'
import type { Datastore } from 'interface-datastore'

export { IDENTITY_FILE } from './home-file.ts'
const DATASTORE_KEY = new Key('/murmur/identity/secret')

export interface IdentityStorage {
  /** A home directory: the identity lives in `<home>/identity.key` (0600) */
  home?: string
  /** Without a home (a browser), the identity lives in this datastore */
  datastore?: Datastore
}

/**
 * The identity kept in `home` (or the datastore), created on first use. With
 * neither, a fresh identity that lasts as long as the process.
 */
export async function loadOrCreateIdentity (storage: IdentityStorage = {}): Promise<{ identity: MessagingIdentity, created: boolean }> {
  if (storage.home != null) {
    const existing = await readIdentityFile(storage.home)
    if (existing != null) {
      return { identity: importIdentity(existing, identityFile(storage.home)), created: false }
    }
    const identity = MessagingIdentity.generate()
    await writeIdentityFile(storage.home, identity.export())
    return { identity, created: true }
  }
  if (storage.datastore != null) {
    if (await storage.datastore.has(DATASTORE_KEY)) {
      return { identity: importIdentity(await storage.datastore.get(DATASTORE_KEY), 'the datastore'), created: false }
    }
    const identity = MessagingIdentity.generate()
    await storage.datastore.put(DATASTORE_KEY, identity.export())
    return { identity, created: true }
  }
  return { identity: MessagingIdentity.generate(), created: true }
}

function importIdentity (bytes: Uint8Array, where: string): MessagingIdentity {
  try {
    return MessagingIdentity.import(bytes)
  } catch (err: any) {
    throw new IdentityFormatError(`The messaging identity in ${where} is unreadable: ${err.message}`)
  }
}
