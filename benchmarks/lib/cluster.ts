/**
 * A benchmark network of one system: its nodes, created in this process
 * (`InProcessCluster`) or one OS process per node (`ProcessCluster`, with
 * `--procs`), and what its processes use.
 */

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { bytesToHex } from './hex.ts'
import { LocalNode } from './node.ts'
import { systemSpec } from './systems.ts'
import { processUsage, startUsageMonitors } from './usage.ts'
import type { BenchNode, Delivery, DeliverySink, PublishOutcome, PublishRequest } from './node.ts'
import type { PeerInit, SystemName, SystemSpec } from './systems.ts'
import type { ProcessUsage } from './usage.ts'
import type { WorkerEvent, WorkerReply, WorkerRequest, WorkerResults } from './worker-protocol.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

export type ClusterMode = 'inproc' | 'procs'

export interface Cluster {
  readonly system: SystemSpec
  readonly mode: ClusterMode
  readonly nodes: readonly BenchNode[]
  /** Creates and starts nodes; `inits[k]` is node `nodes.length + k` */
  addNodes(inits: PeerInit[], onNode?: () => void): Promise<BenchNode[]>
  /** What each process of the network uses: one entry in-process, one per node with --procs */
  usage(options?: { resetEventLoopDelay?: boolean }): Promise<ProcessUsage[]>
  /** Returns once every delivery the nodes have seen so far has reached the sink */
  flush(): Promise<void>
  stop(): Promise<void>
}

export interface ClusterInit {
  system: SystemName
  mode: ClusterMode
  onDelivery: DeliverySink
  /** how many nodes start at once */
  concurrency?: number
}

export function createCluster (init: ClusterInit): Cluster {
  return init.mode === 'procs' ? new ProcessCluster(init) : new InProcessCluster(init)
}

/**
 * Creates nodes `size` at a time and adds each to `into` as soon as it exists,
 * so that a failure half-way leaves every started node where `stop()` finds it
 */
async function createInBatches<T, N extends BenchNode> (items: T[], size: number, into: N[], fn: (item: T) => Promise<N>): Promise<N[]> {
  const out: N[] = []
  for (let i = 0; i < items.length; i += size) {
    const settled = await Promise.allSettled(items.slice(i, i + size).map(async (item) => {
      const node = await fn(item)
      into.push(node)
      out.push(node)
    }))
    into.sort((a, b) => a.index - b.index)
    const failed = settled.find(s => s.status === 'rejected')
    if (failed != null) {
      throw failed.reason
    }
  }
  return out.sort((a, b) => a.index - b.index)
}

export class InProcessCluster implements Cluster {
  readonly system: SystemSpec
  readonly mode = 'inproc' as const
  readonly nodes: LocalNode[] = []
  private readonly sink: DeliverySink
  private readonly concurrency: number

  constructor (init: ClusterInit) {
    this.system = systemSpec(init.system)
    this.sink = init.onDelivery
    this.concurrency = init.concurrency ?? 16
    startUsageMonitors()
  }

  async addNodes (inits: PeerInit[], onNode?: () => void): Promise<BenchNode[]> {
    return createInBatches(inits, this.concurrency, this.nodes, async (init) => {
      const peer = await this.system.create(init)
      onNode?.()
      return new LocalNode(init.index, this.system.name, peer, this.sink)
    })
  }

  async usage (options: { resetEventLoopDelay?: boolean } = {}): Promise<ProcessUsage[]> {
    return [processUsage(options)]
  }

  async flush (): Promise<void> {
    // deliveries reach the sink synchronously
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => n.stop()))
    this.nodes.length = 0
  }
}

const WORKER_PATH = fileURLToPath(new URL('../worker.ts', import.meta.url))
const STDERR_TAIL_BYTES = 4096
const WORKER_CALL_TIMEOUT_MS = 120_000

/** The harness's end of one worker process */
class WorkerProcess {
  readonly child: ChildProcessWithoutNullStreams
  readonly ready: Promise<void>
  private nextId = 1
  private readonly calls = new Map<number, { resolve(v: unknown): void, reject(e: Error): void, cmd: string }>()
  private stderrTail = ''
  private exited: Error | undefined

  constructor (onDeliveries: (items: Array<[number, number, number, number]>) => void) {
    this.child = spawn(process.execPath, [WORKER_PATH], { stdio: ['pipe', 'pipe', 'pipe'] })
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.ready = promise
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
        call.reject(new Error(`worker ${this.child.pid} ${call.cmd}: ${msg.error}`))
      }
    })
    this.child.on('error', (err) => { this.fail(err); reject(err) })
    this.child.on('exit', (code, signal) => {
      const err = new Error(`worker ${this.child.pid} exited (code ${code}, signal ${signal})${this.stderrTail !== '' ? `; its stderr ends with:\n${this.stderrTail}` : ''}`)
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
    const request = { ...args, cmd }
    if (this.exited != null) {
      throw this.exited
    }
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    const timer = setTimeout(() => {
      this.calls.delete(id)
      reject(new Error(`worker ${this.child.pid} did not answer "${request.cmd}" within ${WORKER_CALL_TIMEOUT_MS} ms`))
    }, WORKER_CALL_TIMEOUT_MS)
    this.calls.set(id, {
      cmd: request.cmd,
      resolve: (v) => { clearTimeout(timer); resolve(v) },
      reject: (e) => { clearTimeout(timer); reject(e) }
    })
    this.child.stdin.write(JSON.stringify({ ...request, id }) + '\n')
    return promise as Promise<WorkerResults[C]>
  }

  async stop (): Promise<void> {
    if (this.exited != null) {
      return
    }
    const gone = new Promise<void>(resolve => this.child.once('exit', () => { resolve() }))
    try {
      await this.call('stop', {})
    } catch {
      this.child.kill('SIGKILL')
    }
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 10_000)
    await gone
    clearTimeout(timer)
  }
}

class RemoteNode implements BenchNode {
  readonly index: number
  readonly system: SystemName
  readonly peerId: string
  readonly addr: string
  readonly worker: WorkerProcess

  constructor (index: number, system: SystemName, worker: WorkerProcess, started: { peerId: string, addr: string }) {
    this.index = index
    this.system = system
    this.worker = worker
    this.peerId = started.peerId
    this.addr = started.addr
  }

  async connect (addr: string): Promise<void> {
    await this.worker.call('connect', { addr })
  }

  async subscribe (topic: string): Promise<void> {
    await this.worker.call('subscribe', { topic })
  }

  async publish (request: PublishRequest): Promise<PublishOutcome> {
    return this.worker.call('publish', { request })
  }

  async peers (): Promise<string[]> {
    return this.worker.call('peers', {})
  }

  async meshPeers (topic: string): Promise<number> {
    return this.worker.call('mesh', { topic })
  }

  async stop (): Promise<void> {
    await this.worker.stop()
  }
}

/**
 * One worker process per node (benchmarks/worker.ts), on the same Node binary
 * as the harness. Workers stamp and read payloads themselves; the harness
 * only collects their reports.
 */
export class ProcessCluster implements Cluster {
  readonly system: SystemSpec
  readonly mode = 'procs' as const
  readonly nodes: RemoteNode[] = []
  private readonly sink: DeliverySink
  private readonly concurrency: number

  constructor (init: ClusterInit) {
    this.system = systemSpec(init.system)
    this.sink = init.onDelivery
    // a worker spends its first second loading modules; more at once only queues on the CPUs
    this.concurrency = init.concurrency ?? 4
  }

  async addNodes (inits: PeerInit[], onNode?: () => void): Promise<BenchNode[]> {
    return createInBatches(inits, this.concurrency, this.nodes, async (init) => {
      const worker = new WorkerProcess((items) => {
        for (const [tag, seq, sentAt, receivedAt] of items) {
          const delivery: Delivery = { node: init.index, tag, seq, sentAt, receivedAt }
          this.sink(delivery)
        }
      })
      try {
        await worker.ready
        const started = await worker.call('start', {
          system: this.system.name,
          init: { ...init, keySeed: bytesToHex(init.keySeed) }
        })
        onNode?.()
        return new RemoteNode(init.index, this.system.name, worker, started)
      } catch (err) {
        await worker.stop()
        throw err
      }
    })
  }

  async usage (options: { resetEventLoopDelay?: boolean } = {}): Promise<ProcessUsage[]> {
    return Promise.all(this.nodes.map(async n => n.worker.call('usage', { resetEventLoopDelay: options.resetEventLoopDelay === true })))
  }

  async flush (): Promise<void> {
    // a worker writes its buffered deliveries before its reply, on the same pipe
    await Promise.all(this.nodes.map(async n => n.worker.call('flush', {})))
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => n.stop()))
    this.nodes.length = 0
  }
}
