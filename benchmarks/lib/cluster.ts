/**
 * A benchmark network of one system: its nodes and what its processes use.
 *
 * Nodes live in node hosts (benchmarks/worker.ts), never in the harness's own
 * process: by default one fresh host runs every node of the network
 * (`inproc`: N nodes in one process), with `--procs` every node has a host of
 * its own. A fresh process per system keeps the comparison fair — the second
 * system does not inherit the first one's JIT warm-up or its allocator's
 * retained pages, and the harness's own work (scheduling, recording) is not
 * counted in the nodes' CPU, memory or event-loop delay.
 */

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { bytesToHex } from './hex.ts'
import { TS_NODE_ARGS } from './node-args.ts'
import { systemSpec } from './systems.ts'
import type { BenchNode, DeliverySink, PublishOutcome, PublishRequest } from './node.ts'
import type { PeerInit, SystemName, SystemSpec } from './systems.ts'
import type { ProcessUsage } from './usage.ts'
import type { DeliveryTuple, WorkerEvent, WorkerReply, WorkerRequest, WorkerResults } from './worker-protocol.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

/** `inproc`: every node in one process; `procs`: one process per node */
export type ClusterMode = 'inproc' | 'procs'

export interface UsageOptions {
  resetEventLoopDelay?: boolean
  /** a full garbage collection first, for memory readings of live objects only */
  collectGarbage?: boolean
}

export interface ClusterInit {
  system: SystemName
  mode: ClusterMode
  onDelivery: DeliverySink
}

const WORKER_PATH = fileURLToPath(new URL('../worker.ts', import.meta.url))
const STDERR_TAIL_BYTES = 4096
const CALL_TIMEOUT_MS = 120_000
/** nodes started at once in one host */
const START_CONCURRENCY = 16
/** hosts spawned at once: a host spends its first second loading modules, more only queue on the CPUs */
const SPAWN_CONCURRENCY = 4

/** The harness's end of one node host process */
class NodeHost {
  readonly child: ChildProcessWithoutNullStreams
  readonly ready: Promise<void>
  private nextId = 1
  private readonly calls = new Map<number, { resolve(v: unknown): void, reject(e: Error): void, cmd: string }>()
  private stderrTail = ''
  private exited: Error | undefined

  constructor (onDeliveries: (items: DeliveryTuple[]) => void) {
    this.child = spawn(process.execPath, [...TS_NODE_ARGS, WORKER_PATH], { stdio: ['pipe', 'pipe', 'pipe'] })
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.ready = promise
    // an unhandled rejection here would end the harness: failures reach callers through call()
    promise.catch(() => {})
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES)
    })
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      let msg: WorkerEvent | WorkerReply
      try {
        msg = JSON.parse(line)
      } catch {
        this.stderrTail = (this.stderrTail + `\n[stdout] ${line}`).slice(-STDERR_TAIL_BYTES)
        return
      }
      if ('event' in msg) {
        if (msg.event === 'ready') {
          resolve()
        } else if (msg.event === 'deliveries') {
          onDeliveries(msg.items)
        }
        return
      }
      const call = this.calls.get(msg.id)
      if (call == null) {
        return
      }
      this.calls.delete(msg.id)
      if (msg.ok) {
        call.resolve(msg.result)
      } else {
        call.reject(new Error(`node host ${this.child.pid} ${call.cmd}: ${msg.error}`))
      }
    })
    this.child.stdin.on('error', () => {})
    this.child.on('error', (err) => {
      this.fail(err)
      reject(err)
    })
    this.child.on('exit', (code, signal) => {
      const err = new Error(`node host ${this.child.pid} exited (code ${code}, signal ${signal})${this.stderrTail !== '' ? `; its stderr ends with:\n${this.stderrTail}` : ''}`)
      this.fail(err)
      reject(err)
    })
  }

  private fail (err: Error): void {
    this.exited ??= err
    for (const call of this.calls.values()) {
      call.reject(err)
    }
    this.calls.clear()
  }

  async call<C extends WorkerRequest['cmd']> (cmd: C, args: Omit<Extract<WorkerRequest, { cmd: C }>, 'id' | 'cmd'>): Promise<WorkerResults[C]> {
    if (this.exited != null) {
      throw this.exited
    }
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    const timer = setTimeout(() => {
      this.calls.delete(id)
      reject(new Error(`node host ${this.child.pid} did not answer "${cmd}" within ${CALL_TIMEOUT_MS} ms`))
    }, CALL_TIMEOUT_MS)
    this.calls.set(id, {
      cmd,
      resolve: (v) => { clearTimeout(timer); resolve(v) },
      reject: (e) => { clearTimeout(timer); reject(e) }
    })
    this.child.stdin.write(JSON.stringify({ ...args, cmd, id }) + '\n')
    return promise as Promise<WorkerResults[C]>
  }

  /** Stops the host's nodes and waits for the process to end (killing it if it hangs) */
  async exit (): Promise<void> {
    if (this.exited != null) {
      return
    }
    const gone = new Promise<void>(resolve => this.child.once('exit', () => { resolve() }))
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 30_000)
    try {
      await this.call('exit', {})
    } catch {
      this.child.kill('SIGKILL')
    }
    await gone
    clearTimeout(timer)
  }
}

class RemoteNode implements BenchNode {
  readonly index: number
  readonly system: SystemName
  readonly peerId: string
  readonly addr: string
  readonly host: NodeHost

  constructor (index: number, system: SystemName, host: NodeHost, started: { peerId: string, addr: string }) {
    this.index = index
    this.system = system
    this.host = host
    this.peerId = started.peerId
    this.addr = started.addr
  }

  async connect (addr: string): Promise<void> {
    await this.host.call('connect', { node: this.index, addr })
  }

  async subscribe (topic: string): Promise<void> {
    await this.host.call('subscribe', { node: this.index, topic })
  }

  async publish (request: PublishRequest): Promise<PublishOutcome> {
    return this.host.call('publish', { node: this.index, request })
  }

  async peers (): Promise<string[]> {
    return this.host.call('peers', { node: this.index })
  }

  async meshPeers (topic: string): Promise<number> {
    return this.host.call('mesh', { node: this.index, topic })
  }
}

export class Cluster {
  readonly system: SystemSpec
  readonly mode: ClusterMode
  readonly nodes: RemoteNode[] = []
  private readonly hosts: NodeHost[] = []
  private readonly sink: DeliverySink
  private shared: NodeHost | undefined

  constructor (init: ClusterInit) {
    this.system = systemSpec(init.system)
    this.mode = init.mode
    this.sink = init.onDelivery
  }

  private spawnHost (): NodeHost {
    const host = new NodeHost((items) => {
      for (const [node, tag, seq, sentAt, receivedAt] of items) {
        this.sink({ node, tag, seq, sentAt, receivedAt })
      }
    })
    this.hosts.push(host)
    return host
  }

  /**
   * Starts the host that will run every node (in `inproc` mode) and loads the
   * system's modules into it, so that memory read now is the baseline to
   * subtract. Does nothing with `--procs`, where hosts come with their nodes.
   */
  async prepare (): Promise<void> {
    if (this.mode === 'inproc' && this.shared == null) {
      const host = this.spawnHost()
      this.shared = host
      await host.ready
      await host.call('load', { system: this.system.name })
    }
  }

  /** Creates and starts nodes; `inits[k]` is node `nodes.length + k` */
  async addNodes (inits: PeerInit[], onNode?: () => void): Promise<BenchNode[]> {
    await this.prepare()
    const start = async (host: NodeHost, init: PeerInit): Promise<RemoteNode> => {
      const started = await host.call('start', { system: this.system.name, init: { ...init, keySeed: bytesToHex(init.keySeed) } })
      const node = new RemoteNode(init.index, this.system.name, host, started)
      this.nodes.push(node)
      onNode?.()
      return node
    }
    const created: RemoteNode[] = []
    const batch = this.mode === 'inproc' ? START_CONCURRENCY : SPAWN_CONCURRENCY
    for (let i = 0; i < inits.length; i += batch) {
      // every started node is in this.nodes at once, so a failure half-way leaves nothing stop() cannot find
      const settled = await Promise.allSettled(inits.slice(i, i + batch).map(async (init) => {
        if (this.shared != null) {
          return start(this.shared, init)
        }
        const host = this.spawnHost()
        await host.ready
        return start(host, init)
      }))
      this.nodes.sort((a, b) => a.index - b.index)
      for (const s of settled) {
        if (s.status === 'rejected') {
          throw s.reason
        }
        created.push(s.value)
      }
    }
    return created.sort((a, b) => a.index - b.index)
  }

  /** What each host process uses: one entry in `inproc` mode, one per node with `--procs` */
  async usage (options: UsageOptions = {}): Promise<ProcessUsage[]> {
    return Promise.all(this.hosts.map(async h => h.call('usage', {
      resetEventLoopDelay: options.resetEventLoopDelay === true,
      collectGarbage: options.collectGarbage === true
    })))
  }

  /** Returns once every delivery the nodes have seen so far has reached the sink */
  async flush (): Promise<void> {
    // a host writes its buffered deliveries before its reply, on the same pipe
    await Promise.all(this.hosts.map(async h => h.call('flush', {})))
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.hosts.map(async h => h.exit()))
    this.hosts.length = 0
    this.nodes.length = 0
    this.shared = undefined
  }
}

export function createCluster (init: ClusterInit): Cluster {
  return new Cluster(init)
}
