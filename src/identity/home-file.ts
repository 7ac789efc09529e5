/**
 * The identity file in a home (Node only: browser builds replace this module
 * with `home-file.browser.ts`, see the `browser` field of package.json).
 */

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The messaging identity's file in a home, mode 0600 */
export const IDENTITY_FILE = 'identity.key'

export function identityFile (home: string): string {
  return join(home, IDENTITY_FILE)
}

/** The file's bytes, or undefined when there is none */
export async function readIdentityFile (home: string): Promise<Uint8Array | undefined> {
  return readFile(identityFile(home)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw err
  })
}

export async function writeIdentityFile (home: string, bytes: Uint8Array): Promise<void> {
  const file = identityFile(home)
  await mkdir(home, { recursive: true, mode: 0o700 })
  // 'wx': never overwrite an identity another process just wrote
  await writeFile(file, bytes, { mode: 0o600, flag: 'wx' })
  await chmod(file, 0o600)
}
