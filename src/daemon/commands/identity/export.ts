import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toString } from 'uint8arrays'
import { IDENTITY_FILE, MessagingIdentity } from '../../../identity/index.ts'
import { UsageError } from '../../errors.ts'
import type { Command } from '../command.ts'

/** Prefix of an exported identity: base58btc of `MessagingIdentity.export()` */
export const SECRET_PREFIX = 'murmur-identity:'

export const identityExport: Command = {
  name: 'identity export',
  summary: 'Print the messaging identity\'s SECRET form, to move it to another machine (read from the home; no daemon needed)',
  usage: 'identity export [--json]',
  options: {},
  async run (ctx) {
    const file = join(ctx.home, IDENTITY_FILE)
    const bytes = await readFile(file).catch(() => {
      throw new UsageError(`No messaging identity in ${ctx.home} (run \`murmur init\` first)`)
    })
    const identity = MessagingIdentity.import(bytes)
    const secret = SECRET_PREFIX + toString(bytes, 'base58btc')
    ctx.io.stderr.write('This is the secret of your messaging identity: whoever holds it can read your messages and speak as you.\n')
    ctx.print(secret, { id: identity.id, secret })
    return 0
  }
}
