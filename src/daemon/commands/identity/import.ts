import { access, chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromString } from 'uint8arrays'
import { IDENTITY_FILE, MessagingIdentity } from '../../../identity/index.ts'
import { UsageError } from '../../errors.ts'
import { API_FILE } from '../../home.ts'
import { SECRET_PREFIX } from './export.ts'
import type { Command } from '../command.ts'

const exists = async (path: string): Promise<boolean> => access(path).then(() => true, () => false)

export const identityImport: Command = {
  name: 'identity import',
  summary: 'Install an exported messaging identity in the home (the daemon must be stopped)',
  usage: 'identity import <secret> [--force] [--json]',
  positionals: { min: 1, max: 1 },
  options: {
    force: { type: 'boolean', description: 'Replace an identity already in the home (it is lost unless exported)' }
  },
  async run (ctx) {
    const [text] = ctx.positionals
    if (!text.startsWith(SECRET_PREFIX)) {
      throw new UsageError(`An exported identity starts with "${SECRET_PREFIX}"`)
    }
    let identity: MessagingIdentity
    try {
      identity = MessagingIdentity.import(fromString(text.slice(SECRET_PREFIX.length), 'base58btc'))
    } catch (err: any) {
      throw new UsageError(`Not an exported identity: ${err.message}`)
    }
    if (await exists(join(ctx.home, API_FILE))) {
      throw new UsageError('A daemon is running on this home: stop it first (`murmur stop`)')
    }
    const file = join(ctx.home, IDENTITY_FILE)
    if (await exists(file) && ctx.values.force !== true) {
      throw new UsageError(`${file} already holds an identity; pass --force to replace it`)
    }
    await writeFile(file, identity.export(), { mode: 0o600 })
    await chmod(file, 0o600)
    ctx.print(`imported identity ${identity.id} into ${file}`, { id: identity.id, file })
    return 0
  }
}
