/**
 * A browser has no home directory: its identity lives in the datastore
 * (IndexedDB). Replaces `home-file.ts` in browser builds.
 */

import { IdentityHomeError } from './errors.ts'

export const IDENTITY_FILE = 'identity.key'

export function identityFile (home: string): string {
  return `${home}/${IDENTITY_FILE}`
}

export async function readIdentityFile (home: string): Promise<Uint8Array | undefined> {
  throw new IdentityHomeError(home)
}

export async function writeIdentityFile (home: string, bytes: Uint8Array): Promise<void> {
  throw new IdentityHomeError(home)
}
