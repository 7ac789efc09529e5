/**
 * The daemon's home: `--home`, else `$MURMUR_HOME`, else `~/.murmur`. It holds
 * `config.json`, `peer.key`, `datastore/`, `api-token` (0600) and, while a
 * daemon runs, `api` (the control API's URL, for the CLI to find it).
 */

import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export const CONFIG_FILE = 'config.json'
export const TOKEN_FILE = 'api-token'
export const API_FILE = 'api'

export function resolveHome (flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag != null && flag !== '') {
    return resolve(flag)
  }
  if (env.MURMUR_HOME != null && env.MURMUR_HOME !== '') {
    return resolve(env.MURMUR_HOME)
  }
  return join(homedir(), '.murmur')
}

export async function ensureHome (home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
}

/** Reads the API token, creating one (32 random bytes, hex, mode 0600) if there is none */
export async function loadOrCreateToken (home: string): Promise<string> {
  const file = join(home, TOKEN_FILE)
  const existing = await readToken(home)
  if (existing != null) {
    // tighten a token file someone loosened
    await chmod(file, 0o600)
    return existing
  }
  const token = randomBytes(32).toString('hex')
  try {
    await writeFile(file, token + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err: any) {
    if (err.code === 'EEXIST') {
      return loadOrCreateToken(home)
    }
    throw err
  }
  return token
}

export async function readToken (home: string): Promise<string | undefined> {
  try {
    const token = (await readFile(join(home, TOKEN_FILE), 'utf8')).trim()
    return token === '' ? undefined : token
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw err
  }
}

export async function writeApiFile (home: string, url: string): Promise<void> {
  await writeFile(join(home, API_FILE), url + '\n', { mode: 0o600 })
}

export async function readApiFile (home: string): Promise<string | undefined> {
  try {
    return (await readFile(join(home, API_FILE), 'utf8')).trim()
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw err
  }
}

export async function removeApiFile (home: string): Promise<void> {
  await rm(join(home, API_FILE), { force: true })
}
