/** The machine and software a run was made on, for result.json */

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

const ROOT = new URL('../../', import.meta.url)

/** Packages whose versions decide what is measured */
export const MEASURED_PACKAGES = [
  'libp2p',
  '@libp2p/gossipsub',
  '@libp2p/kad-dht',
  '@libp2p/tcp',
  '@libp2p/identify',
  '@chainsafe/libp2p-noise',
  '@chainsafe/libp2p-yamux'
]

export interface Machine {
  os: string
  release: string
  arch: string
  cpus: number
  cpuModel: string
  memoryBytes: number
  loadAverage: number[]
}

export interface Software {
  node: string
  v8: string
  murmur: string
  gitCommit: string | null
  /** changes to tracked files, not yet committed, when the run started */
  gitDirty: boolean | null
  packages: Record<string, string | null>
}

export function machine (): Machine {
  const cpus = os.cpus()
  return {
    os: os.type(),
    release: os.release(),
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    loadAverage: os.loadavg().map(v => Math.round(v * 100) / 100)
  }
}

function packageVersion (name: string): string | null {
  try {
    return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8')).version ?? null
  } catch {
    return null
  }
}

function git (args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

export function software (): Software {
  let murmur = 'unknown'
  try {
    murmur = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')).version
  } catch {
    // not run from a checkout: the version stays unknown
  }
  const status = git(['status', '--porcelain', '--untracked-files=no'])
  return {
    node: process.version,
    v8: process.versions.v8,
    murmur,
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status == null ? null : status !== '',
    packages: Object.fromEntries(MEASURED_PACKAGES.map(p => [p, packageVersion(p)]))
  }
}
