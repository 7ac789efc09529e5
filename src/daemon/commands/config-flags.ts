import { validateConfig } from '../config.ts'
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
  mdns: { type: 'boolean', description: 'Discover peers on the LAN by mDNS (--no-mdns turns it off)' },
  'log-level': { type: 'string', arg: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent (default info)' }
}

const FLAG_OF: Record<string, string> = { logLevel: 'log-level', apiAllowRemote: 'api-allow-remote' }

/** The configuration the flags set, validated; an error names the flag */
export function configFromFlags (values: Values): Partial<DaemonConfig> {
  const raw: Record<string, unknown> = {}
  for (const key of ['listen', 'announce', 'bootstrap', 'api', 'mdns'] as const) {
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
  if (values['api-allow-remote'] !== undefined) {
    raw.apiAllowRemote = values['api-allow-remote']
  }
  if (values['log-level'] !== undefined) {
    raw.logLevel = values['log-level']
  }
  try {
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
