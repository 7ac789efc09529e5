import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity } from '../../identity/index.ts'
import { loadOrCreatePeerKey } from '../../node/index.ts'
import { checkApiBinding, mergeConfig, readConfigFile, writeConfigFile } from '../config.ts'
import { UsageError } from '../errors.ts'
import { CONFIG_FILE, ensureHome, loadOrCreateToken, TOKEN_FILE } from '../home.ts'
import { CONFIG_OPTIONS, configFromFlags } from './config-flags.ts'
import type { Command } from './command.ts'

export const init: Command = {
  name: 'init',
  summary: 'Create a Murmur home: a config file, a peer key, a messaging identity and an API token (0600). Creates only what is missing.',
  usage: 'init [--home DIR] [config flags] [--json]',
  options: { ...CONFIG_OPTIONS },
  async run (ctx) {
    const flags = configFromFlags(ctx.values)
    const existing = await readConfigFile(ctx.home)
    if (existing != null && Object.keys(flags).length > 0) {
      throw new UsageError(`${join(ctx.home, CONFIG_FILE)} exists already: edit it, or give these flags to \`murmur daemon\``)
    }
    const config = mergeConfig(existing, flags)
    checkApiBinding(config)
    await ensureHome(ctx.home)
    if (existing == null) {
      await writeConfigFile(ctx.home, config)
    }
    const { key, created } = await loadOrCreatePeerKey(ctx.home)
    const { identity } = await loadOrCreateIdentity({ home: ctx.home })
    await loadOrCreateToken(ctx.home)
    const peerId = peerIdFromPrivateKey(key).toString()
    const result = {
      home: ctx.home,
      peerId,
      identity: identity.id,
      created: created || existing == null,
      config: join(ctx.home, CONFIG_FILE),
      token: join(ctx.home, TOKEN_FILE)
    }
    ctx.print(result.created
      ? `initialised ${ctx.home}\npeer id:  ${peerId}\nidentity: ${identity.id}\nconfig:   ${result.config}\nstart it with: murmur daemon --home ${ctx.home}`
      : `${ctx.home} is already initialised\npeer id:  ${peerId}\nidentity: ${identity.id}`, result)
    return 0
  }
}
