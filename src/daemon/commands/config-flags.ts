import { DEFAULT_WEB, parseSize, validateConfig } from '../config.ts'
import { ConfigError } from '../errors.ts'
import type { DaemonConfig } from '../config.ts'
import type { OptionSpec, Values } from './command.ts'

/** The flags that set configuration; `init` writes them, `daemon` applies them over the file */
export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  listen: { type: 'string', multiple: true, arg: 'MA', description: 'Listen on this multiaddr' },
  announce: { type: 'string', multiple: true, arg: 'MA', description: 'Announce this multiaddr instead of the listen addresses' },
  bootstrap: { type: 'string', multiple: true, arg: 'MA', description: 'Bootstrap peer (…/p2p/<peer id>)' },
  roles: { type: 'string', arg: 'LIST', description: 'Comma-separated roles: relay, store, bootstrap' },
  api: { type: 'string', arg: 'HOST:PORT', description: 'Control API address (default 127.0.0.1:7420)' },
  'api-allow-remote': { type: 'boolean', description: 'Let --api bind beyond loopback (refused otherwise)' },
  metrics: { type: 'string', arg: 'HOST:PORT', description: 'Prometheus /metrics address, or "off" (default 127.0.0.1:7421)' },
  web: { type: 'string', arg: 'HOST:PORT', description: 'Serve the web chat page here ("on" = 127.0.0.1:7422, "off" = none; default off); also opens WebSocket, WebRTC-direct and circuit-relay for browsers' },
  mdns: { type: 'boolean', description: 'Discover peers on the LAN by mDNS (--no-mdns turns it off)' },
  'log-level': { type: 'string', arg: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent (default info)' },
  privacy: { type: 'string', arg: 'PROFILE', description: 'Onion profile: default, or private (mixing delays and cover traffic)' },
  'onion-diversity': { type: 'string', arg: 'RULE', description: 'Relays that may not share an onion route: subnet16 (one IPv4 /16; default), host (one address: a testnet in one subnet), or none' },
  transparent: { type: 'boolean', description: '1:1 messages and mailbox requests over direct streams instead of onion routes: REVEALS WHO TALKS TO WHOM to the network, the contact\'s node and the store nodes (--no-transparent turns it off)' },
  'store-max-bytes': { type: 'string', arg: 'SIZE', description: 'Store role: payload bytes kept at most, e.g. 1G (default 1G)' },
  'store-ttl': { type: 'string', arg: 'DURATION', description: 'Store role: longest time a message is kept, at most 7d (default 7d)' },
  'store-mailbox-messages': { type: 'string', arg: 'N', description: 'Store role: messages one mailbox may hold (default 20000)' },
  'store-mailbox-bytes': { type: 'string', arg: 'SIZE', description: 'Store role: payload bytes one mailbox may hold (default 64M)' },
  'store-deposit-rate': { type: 'string', arg: 'N', description: 'Store role: envelopes per second one peer may deposit (default 1000)' }
}

/** `--web on` / `--web off` */
const WEB_WORDS: Record<string, string | null> = { on: DEFAULT_WEB, off: null }

const FLAG_OF: Record<string, string> = {
  logLevel: 'log-level',
  onionDiversity: 'onion-diversity',
  apiAllowRemote: 'api-allow-remote',
  storeMaxBytes: 'store-max-bytes',
  storeTtl: 'store-ttl',
  storeMailboxMessages: 'store-mailbox-messages',
  storeMailboxBytes: 'store-mailbox-bytes',
  storeDepositRate: 'store-deposit-rate'
}

/** The configuration the flags set, validated; an error names the flag */
export function configFromFlags (values: Values): Partial<DaemonConfig> {
  const raw: Record<string, unknown> = {}
  for (const key of ['listen', 'announce', 'bootstrap', 'api', 'mdns', 'privacy', 'transparent'] as const) {
    if (values[key] !== undefined) {
      raw[key] = values[key]
    }
  }
  if (values.roles !== undefined) {
    raw.roles = String(values.roles).split(',').map(r => r.trim()).filter(r => r !== '')
  }
  if (values.metrics !== undefined) {
    raw.metrics = values.metrics === 'off' ? null : values.metrics
  }
  if (values.web !== undefined) {
    const web = String(values.web)
    raw.web = Object.hasOwn(WEB_WORDS, web) ? WEB_WORDS[web] : web
  }
  if (values['api-allow-remote'] !== undefined) {
    raw.apiAllowRemote = values['api-allow-remote']
  }
  if (values['log-level'] !== undefined) {
    raw.logLevel = values['log-level']
  }
  if (values['onion-diversity'] !== undefined) {
    raw.onionDiversity = values['onion-diversity']
  }
  try {
    if (values['store-ttl'] !== undefined) {
      raw.storeTtl = values['store-ttl']
    }
    for (const [flag, field] of [['store-max-bytes', 'storeMaxBytes'], ['store-mailbox-bytes', 'storeMailboxBytes']] as const) {
      if (values[flag] !== undefined) {
        raw[field] = parseSize(String(values[flag]), field)
      }
    }
    for (const [flag, field] of [['store-mailbox-messages', 'storeMailboxMessages'], ['store-deposit-rate', 'storeDepositRate']] as const) {
      if (values[flag] !== undefined) {
        raw[field] = /^\d+$/.test(String(values[flag])) ? Number(values[flag]) : String(values[flag])
      }
    }
    return validateConfig(raw)
  } catch (err) {
    if (err instanceof ConfigError) {
      const [field, ...rest] = err.field.split('[')
      const flag = `--${FLAG_OF[field] ?? field}${rest.length > 0 ? `[${rest.join('[')}` : ''}`
      throw new ConfigError(flag, err.message.slice(err.field.length + 2))
    }
    throw err
  }
}
