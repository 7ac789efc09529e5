/**
 * The peers of the store scenario, wherever they run: in the benchmark's own
 * process, or (with `--procs`) each in a process of its own
 * (benchmarks/store-peer-host.ts), so that the reader's CPU time is its own
 * and not the sum of every node's (DESIGN: one process per node on loopback
 * for realism).
 */

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { createMurmur } from '../../src/app/index.ts'
import { loopbackProfile } from '../../src/node/index.ts'
import { TS_NODE_ARGS } from './node-args.ts'
import type { Murmur, MurmurInit } from '../../src/app/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

export type StoreRole = 'store' | 'relay'

/** What the scenario tells a peer: JSON, so it can cross to another process */
export interface StorePeerSpec {
  home?: string
  roles: StoreRole[]
  extra: Partial<Pick<MurmurInit, 'onion' | 'directory' | 'store'>>
}

/** What the scenario does with a store node or a relay, in this process or another */
export interface NetPeer {
  readonly peerId: PeerId
  readonly addr: string
  connect(addr: string): Promise<void>
  /** onion descriptors this peer's directory holds */
  descriptors(): Promise<number>
  /** asks and fragments sent again, and drops by reason */
  onionLosses(): Promise<{ retried: number, dropped: Record<string, number> }>
  /** user + system CPU seconds of the process this peer runs in */
  cpuSeconds(): Promise<number>
  stop(): Promise<void>
}

export async function startMurmur (spec: StorePeerSpec): Promise<Murmur> {
  const { home, roles, extra } = spec
  const m = await createMurmur({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...loopbackProfile(),
    home,
    roles,
    ...extra,
    // what the direct phases measure is the store itself, over direct streams; the onion phase's client is not transparent
    store: { transparent: true, depositRate: 1e9, depositBurst: 1e9, maxStreamsPerPeer: 1024, maxMessagesPerMailbox: 1e7, maxBytesPerMailbox: 2 ** 40, maxBytes: 2 ** 40, syncIntervalMs: 3_600_000, ...extra.store }
  })
  await m.start()
  return m
}

export function onionLossesOf (m: Murmur): { retried: number, dropped: Record<string, number> } {
  const st = m.onion.status()
  const dropped: Record<string, number> = {}
  for (const [reason, n] of Object.entries(st.dropped)) {
    dropped[reason] = n ?? 0
  }
  return { retried: st.retried, dropped }
}

function cpuNow (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** A peer of this process */
export class LocalPeer implements NetPeer {
  readonly murmur: Murmur
  readonly peerId: PeerId
  readonly addr: string

  constructor (murmur: Murmur) {
    this.murmur = murmur
    this.peerId = murmur.peerId
    this.addr = murmur.node.getMultiaddrs()[0].toString()
  }

  async connect (addr: string): Promise<void> {
    await this.murmur.node.connect(addr)
  }

  async descriptors (): Promise<number> {
    return this.murmur.directory.descriptors().length
  }

  async onionLosses (): Promise<{ retried: number, dropped: Record<string, number> }> {
    return onionLossesOf(this.murmur)
  }

  async cpuSeconds (): Promise<number> {
    return cpuNow()
  }

  async stop (): Promise<void> {
    await this.murmur.stop()
  }
}

const HOST_PATH = fileURLToPath(new URL('../store-peer-host.ts', import.meta.url))
const CALL_TIMEOUT_MS = 120_000
const STDERR_TAIL_BYTES = 4096

/** A peer in a process of its own, driven over its stdin/stdout one JSON line per call */
export class RemotePeer implements NetPeer {
  readonly peerId: PeerId
  readonly addr: string
  private readonly child: ChildProcessWithoutNullStreams
  private readonly calls: Map<number, { resolve(v: any): void, reject(e: Error): void }>
  private nextId = 1
  private exited: Error | undefined

  private constructor (child: ChildProcessWithoutNullStreams, calls: RemotePeer['calls'], peerId: string, addr: string) {
    this.child = child
    this.calls = calls
    this.peerId = peerIdFromString(peerId)
    this.addr = addr
    child.once('exit', (code, signal) => {
      this.exited = new Error(`store peer host ${child.pid} exited (code ${code}, signal ${signal})`)
      for (const c of this.calls.values()) {
        c.reject(this.exited)
      }
      this.calls.clear()
    })
  }

  static async start (spec: StorePeerSpec): Promise<RemotePeer> {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, HOST_PATH], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderrTail = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => { stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES) })
    child.stdin.on('error', () => {})
    const calls: RemotePeer['calls'] = new Map()
    const started = Promise.withResolvers<{ peerId: string, addr: string }>()
    const onExit = (code: number | null): void => { started.reject(new Error(`store peer host exited (code ${code}) before it started; stderr: ${stderrTail}`)) }
    child.once('exit', onExit)
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      let msg: any
      try {
        msg = JSON.parse(line)
      } catch {
        return
      }
      if (msg.id === 0) {
        if (msg.ok === true) {
          started.resolve(msg.result)
        } else {
          started.reject(new Error(`store peer host: ${msg.error}`))
        }
        return
      }
      const call = calls.get(msg.id)
      if (call != null) {
        calls.delete(msg.id)
        if (msg.ok === true) {
          call.resolve(msg.result)
        } else {
          call.reject(new Error(`store peer host ${child.pid}: ${msg.error}`))
        }
      }
    })
    child.stdin.write(JSON.stringify({ id: 0, cmd: 'start', spec }) + '\n')
    try {
      const { peerId, addr } = await started.promise
      child.off('exit', onExit)
      return new RemotePeer(child, calls, peerId, addr)
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
  }

  private async call<T> (cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited != null) {
      throw this.exited
    }
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    const timer = setTimeout(() => {
      this.calls.delete(id)
      reject(new Error(`store peer host ${this.child.pid} did not answer "${cmd}" within ${CALL_TIMEOUT_MS} ms`))
    }, CALL_TIMEOUT_MS)
    this.calls.set(id, {
      resolve: (v) => { clearTimeout(timer); resolve(v) },
      reject: (e) => { clearTimeout(timer); reject(e) }
    })
    this.child.stdin.write(JSON.stringify({ ...args, id, cmd }) + '\n')
    return promise
  }

  async connect (addr: string): Promise<void> {
    await this.call('connect', { addr })
  }

  async descriptors (): Promise<number> {
    return this.call('descriptors')
  }

  async onionLosses (): Promise<{ retried: number, dropped: Record<string, number> }> {
    return this.call('losses')
  }

  async cpuSeconds (): Promise<number> {
    return this.call('cpu')
  }

  /** Stops the peer and waits for its process to end (killing it if it hangs) */
  async stop (): Promise<void> {
    if (this.exited != null) {
      return
    }
    const gone = new Promise<void>(resolve => this.child.once('exit', () => { resolve() }))
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 30_000)
    try {
      await this.call('stop')
    } catch {
      this.child.kill('SIGKILL')
    }
    await gone
    clearTimeout(timer)
  }
}

export { cpuNow }
