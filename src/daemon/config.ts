/**
 * The daemon's configuration: defaults, the config file in the home
 * (`config.json`), and flags, in that order of precedence (flags win).
 * Every value is validated before anything is written or started; a bad one
 * is a `ConfigError` naming the field.
 */

import { readFile, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_LISTEN, LOG_LEVELS, ROLES } from '../node/index.ts'
import { parseDialable } from '../node/murmur.ts'
import { ConfigError } from './errors.ts'
import { CONFIG_FILE } from './home.ts'
import type { LogLevel, Role } from '../node/index.ts'

export interface DaemonConfig {
  /** Multiaddrs to listen on */
  listen: string[]
  /** Multiaddrs to announce instead of the listen addresses */
  announce: string[]
  /** Bootstrap peers, each with `/p2p/<peer id>` */
  bootstrap: string[]
  roles: Role[]
  /** HOST:PORT of the control API */
  api: string
  /** HOST:PORT of the Prometheus endpoint, or null for none */
  metrics: string | null
  /** LAN discovery by multicast DNS */
  mdns: boolean
  logLevel: LogLevel
}

export const DEFAULT_API = '127.0.0.1:7420'
export const DEFAULT_METRICS = '127.0.0.1:7421'

export function defaultConfig (): DaemonConfig {
  return {
    listen: [...DEFAULT_LISTEN],
    announce: [],
    bootstrap: [],
    roles: [],
    api: DEFAULT_API,
    metrics: DEFAULT_METRICS,
    mdns: false,
    logLevel: 'info'
  }
}

const FIELDS: ReadonlyArray<keyof DaemonConfig> = ['listen', 'announce', 'bootstrap', 'roles', 'api', 'metrics', 'mdns', 'logLevel']

export interface HostPort {
  host: string
  port: number
}

/** Parses `HOST:PORT` or `[IPv6]:PORT` */
export function parseHostPort (value: string, field: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  if (match == null) {
    throw new ConfigError(field, `"${value}" is not HOST:PORT`)
  }
  const host = match[1] ?? match[2]
  const port = Number(match[3])
  if (port > 65535) {
    throw new ConfigError(field, `port ${port} is out of range`)
  }
  if (match[1] != null && isIP(host) !== 6) {
    throw new ConfigError(field, `"${host}" is not an IPv6 address`)
  }
  return { host, port }
}

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * Checks a (partial) configuration object from a file or from flags; returns
 * it typed. `source` prefixes field names in errors (`config.json: roles: …`).
 */
export function validateConfig (raw: unknown, source?: string): Partial<DaemonConfig> {
  const name = (field: string): string => source != null ? `${source}: ${field}` : field
  if (typeof raw !== 'object' || raw == null || Array.isArray(raw)) {
    throw new ConfigError(source ?? 'config', 'must be a JSON object')
  }
  const out: Partial<DaemonConfig> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (!(FIELDS as string[]).includes(key)) {
      throw new ConfigError(name(key), `unknown field (known: ${FIELDS.join(', ')})`)
    }
    switch (key as keyof DaemonConfig) {
      case 'listen':
      case 'announce':
      case 'bootstrap': {
        const list = stringList(value, name(key))
        list.forEach((addr, i) => {
          try {
            if (key === 'bootstrap') {
              parseDialable(addr)
            } else {
              multiaddr(addr)
            }
          } catch (err: any) {
            throw new ConfigError(`${name(key)}[${i}]`, err.message.startsWith('Multiaddr') ? err.message : `invalid multiaddr "${addr}": ${err.message}`)
          }
        })
        out[key as 'listen'] = list
        break
      }
      case 'roles': {
        const list = stringList(value, name(key))
        for (const role of list) {
          if (!(ROLES as string[]).includes(role)) {
            throw new ConfigError(name(key), `unknown role "${role}" (known: ${ROLES.join(', ')})`)
          }
        }
        out.roles = [...new Set(list)] as Role[]
        break
      }
      case 'api':
        if (typeof value !== 'string') {
          throw new ConfigError(name(key), 'must be a string HOST:PORT')
        }
        parseHostPort(value, name(key))
        out.api = value
        break
      case 'metrics':
        if (value === null) {
          out.metrics = null
          break
        }
        if (typeof value !== 'string') {
          throw new ConfigError(name(key), 'must be a string HOST:PORT or null')
        }
        parseHostPort(value, name(key))
        out.metrics = value
        break
      case 'mdns':
        if (typeof value !== 'boolean') {
          throw new ConfigError(name(key), 'must be true or false')
        }
        out.mdns = value
        break
      case 'logLevel':
        if (typeof value !== 'string' || !(LOG_LEVELS as string[]).includes(value)) {
          throw new ConfigError(name(key), `must be one of ${LOG_LEVELS.join(', ')}`)
        }
        out.logLevel = value as LogLevel
        break
    }
  }
  return out
}

function stringList (value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some(v => typeof v !== 'string')) {
    throw new ConfigError(field, 'must be a list of strings')
  }
  return value
}

/**
 * Reads `<home>/config.json`. Returns undefined when there is none; throws a
 * ConfigError when it is there but wrong.
 */
export async function readConfigFile (home: string): Promise<Partial<DaemonConfig> | undefined> {
  const file = join(home, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw new ConfigError(file, `cannot be read: ${err.message}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(file, `is not valid JSON: ${err.message}`)
  }
  return validateConfig(raw, file)
}

export async function writeConfigFile (home: string, config: DaemonConfig): Promise<void> {
  await writeFile(join(home, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
}

/** Defaults, then the file, then flags */
export function mergeConfig (...layers: Array<Partial<DaemonConfig> | undefined>): DaemonConfig {
  const config = defaultConfig()
  for (const layer of layers) {
    Object.assign(config, layer ?? {})
  }
  return config
}
