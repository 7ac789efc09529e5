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
import { DEFAULT_LISTEN, InvalidMultiaddrError, LOG_LEVELS, ROLES } from '../node/index.ts'
import { parseDialable } from '../node/murmur.ts'
import { ConfigError, RemoteApiRefusedError } from './errors.ts'
import { CONFIG_FILE } from './home.ts'
import type { LogLevel, Role } from '../node/index.ts'
import type { Diversity } from '../onion/index.ts'

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
  /**
   * Lets the control API bind beyond loopback. Without it a non-loopback
   * `api` is refused: whoever reaches the port and holds the token controls
   * the node, so that exposure must be asked for by name.
   *
   * @default false
   */
  apiAllowRemote: boolean
  /** HOST:PORT of the Prometheus endpoint, or null for none */
  metrics: string | null
  /** LAN discovery by multicast DNS */
  mdns: boolean
  /**
   * HOST:PORT of the web chat page's listener, or null for none. With it the
   * daemon also listens on WebSockets and WebRTC-direct and runs the
   * circuit-relay server, so browsers can reach it and meet each other.
   */
  web: string | null
  logLevel: LogLevel
  /** Onion profile: 'private' turns on mixing delays and loop cover traffic */
  privacy: 'default' | 'private'
  /**
   * Which relays may not share an onion route: 'subnet16' (one IPv4 /16,
   * one operator's network), 'host' (one address), or 'none'. A testnet whose
   * hosts share one /16 (the netns testnet, the compose file) needs 'host':
   * under 'subnet16' it is one family and no route of 2 or more relays exists.
   *
   * @default 'subnet16'
   */
  onionDiversity: Diversity
  /**
   * TRANSPARENT MODE for 1:1 messages and mailboxes: direct streams from
   * this peer to the contact's and to the store nodes instead of onion
   * routes. Contents stay sealed but the network, the contact's node and the
   * store nodes see who talks to whom.
   */
  transparent: boolean
  /** Store role: payload bytes this node keeps at most */
  storeMaxBytes: number
  /** Store role: how long a message is kept at most, e.g. "7d", "36h" (at most 7 days) */
  storeTtl: string
  /** Store role: messages one mailbox may hold */
  storeMailboxMessages: number
  /** Store role: payload bytes one mailbox may hold */
  storeMailboxBytes: number
  /** Store role: envelopes per second one peer may deposit */
  storeDepositRate: number
}

export const DEFAULT_API = '127.0.0.1:7420'
export const DEFAULT_METRICS = '127.0.0.1:7421'
/** Where `--web on` serves the web page */
export const DEFAULT_WEB = '127.0.0.1:7422'

export function defaultConfig (): DaemonConfig {
  return {
    listen: [...DEFAULT_LISTEN],
    announce: [],
    bootstrap: [],
    roles: [],
    api: DEFAULT_API,
    apiAllowRemote: false,
    metrics: DEFAULT_METRICS,
    mdns: false,
    web: null,
    logLevel: 'info',
    privacy: 'default',
    onionDiversity: 'subnet16',
    transparent: false,
    storeMaxBytes: 1024 * 1024 * 1024,
    storeTtl: '7d',
    storeMailboxMessages: 20_000,
    storeMailboxBytes: 64 * 1024 * 1024,
    storeDepositRate: 1000
  }
}

const FIELDS = ['listen', 'announce', 'bootstrap', 'roles', 'api', 'apiAllowRemote', 'metrics', 'mdns', 'web', 'logLevel', 'privacy', 'onionDiversity', 'transparent', 'storeMaxBytes', 'storeTtl', 'storeMailboxMessages', 'storeMailboxBytes', 'storeDepositRate']

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

type FieldCheck = (value: unknown, field: string) => unknown

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const MAX_STORE_TTL_MS = 7 * 86_400_000

/** "7d", "36h", "90m", "45s", "500ms" → milliseconds */
export function parseDuration (value: string, field: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim())
  if (match == null) {
    throw new ConfigError(field, `"${value}" is not a duration like 7d, 36h, 90m or 45s`)
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]])
}

function positiveInteger (value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(field, 'must be a positive integer')
  }
  return value
}

/** "1073741824", "512M", "1G", "64K" → bytes */
export function parseSize (value: string, field: string): number {
  const match = /^(\d+)([KMG]i?B?|B)?$/i.exec(value.trim())
  if (match == null) {
    throw new ConfigError(field, `"${value}" is not a size like 1073741824, 512M or 1G`)
  }
  const unit = (match[2] ?? '').charAt(0).toUpperCase()
  const factor = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1
  return positiveInteger(Number(match[1]) * factor, field)
}

function multiaddrList (dialable: boolean): FieldCheck {
  return (value, field) => {
    const list = stringList(value, field)
    list.forEach((addr, i) => {
      try {
        if (dialable) {
          parseDialable(addr)
        } else {
          multiaddr(addr)
        }
      } catch (err: any) {
        throw new ConfigError(`${field}[${i}]`, err instanceof InvalidMultiaddrError ? err.message : `invalid multiaddr "${addr}": ${err.message}`)
      }
    })
    return list
  }
}

function hostPort (nullable: boolean): FieldCheck {
  return (value, field) => {
    if (nullable && value === null) {
      return null
    }
    if (typeof value !== 'string') {
      throw new ConfigError(field, `must be a string HOST:PORT${nullable ? ' or null' : ''}`)
    }
    parseHostPort(value, field)
    return value
  }
}

/** One check per field: each returns the typed value or throws a ConfigError naming the field */
const CHECKS: Record<keyof DaemonConfig, FieldCheck> = {
  listen: multiaddrList(false),
  announce: multiaddrList(false),
  bootstrap: multiaddrList(true),
  roles: (value, field) => {
    const list = stringList(value, field)
    for (const role of list) {
      if (!(ROLES as string[]).includes(role)) {
        throw new ConfigError(field, `unknown role "${role}" (known: ${ROLES.join(', ')})`)
      }
    }
    return [...new Set(list)]
  },
  api: hostPort(false),
  apiAllowRemote: boolean,
  metrics: hostPort(true),
  web: hostPort(true),
  mdns: boolean,
  logLevel: (value, field) => {
    if (typeof value !== 'string' || !(LOG_LEVELS as string[]).includes(value)) {
      throw new ConfigError(field, `must be one of ${LOG_LEVELS.join(', ')}`)
    }
    return value
  },
  transparent: (value, field) => {
    if (typeof value !== 'boolean') {
      throw new ConfigError(field, 'must be true or false')
    }
    return value
  },
  privacy: (value, field) => {
    if (value !== 'default' && value !== 'private') {
      throw new ConfigError(field, 'must be "default" or "private"')
    }
    return value
  },
  onionDiversity: (value, field) => {
    if (value !== 'subnet16' && value !== 'host' && value !== 'none') {
      throw new ConfigError(field, 'must be "subnet16", "host" or "none"')
    }
    return value
  },
  storeMaxBytes: positiveInteger,
  storeTtl: (value, field) => {
    if (typeof value !== 'string') {
      throw new ConfigError(field, 'must be a duration string like "7d"')
    }
    const ms = parseDuration(value, field)
    if (ms <= 0 || ms > MAX_STORE_TTL_MS) {
      throw new ConfigError(field, 'must be more than 0 and at most 7d')
    }
    return value
  },
  storeMailboxMessages: positiveInteger,
  storeMailboxBytes: positiveInteger,
  storeDepositRate: positiveInteger
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
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    const check = CHECKS[key as keyof DaemonConfig]
    if (check == null || !Object.hasOwn(CHECKS, key)) {
      throw new ConfigError(name(key), `unknown field (known: ${FIELDS.join(', ')})`)
    }
    out[key] = check(value, name(key))
  }
  return out as Partial<DaemonConfig>
}

function boolean (value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') {
    throw new ConfigError(field, 'must be true or false')
  }
  return value
}

/**
 * Refuses a control API beyond loopback unless `apiAllowRemote` says so.
 * Called before anything is written or started.
 */
export function checkApiBinding (config: Pick<DaemonConfig, 'api' | 'apiAllowRemote'>): void {
  const { host } = parseHostPort(config.api, 'api')
  if (!isLoopback(host) && !config.apiAllowRemote) {
    throw new RemoteApiRefusedError(config.api)
  }
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
