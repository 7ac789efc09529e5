/**
 * The line protocol between the harness and a `--procs` worker
 * (benchmarks/worker.ts): one JSON object per line, requests on the worker's
 * stdin, replies and events on its stdout. Each request carries an `id` that
 * its reply repeats; events have no id.
 *
 * It is the harness's own and not the daemon's control API on purpose: the
 * control API has no pubsub endpoints yet, and a benchmark needs to stamp and
 * read its payloads inside the node's process to measure latency.
 */

import type { PublishOutcome, PublishRequest } from './node.ts'
import type { SystemName } from './systems.ts'
import type { ProcessUsage } from './usage.ts'
import type { Role } from '../../src/node/index.ts'

export interface WorkerPeerInit {
  index: number
  /** 32 bytes, hex */
  keySeed: string
  bootstrap?: string[]
  dhtClientMode?: boolean
  minConnections?: number
  roles?: Role[]
}

export type WorkerRequest =
  | { id: number, cmd: 'start', system: SystemName, init: WorkerPeerInit }
  | { id: number, cmd: 'connect', addr: string }
  | { id: number, cmd: 'subscribe', topic: string }
  | { id: number, cmd: 'publish', request: PublishRequest }
  | { id: number, cmd: 'peers' }
  | { id: number, cmd: 'mesh', topic: string }
  | { id: number, cmd: 'usage', resetEventLoopDelay: boolean }
  | { id: number, cmd: 'flush' }
  | { id: number, cmd: 'stop' }

export interface WorkerResults {
  start: { peerId: string, addr: string }
  connect: null
  subscribe: null
  publish: PublishOutcome
  peers: string[]
  mesh: number
  usage: ProcessUsage
  flush: null
  stop: null
}

export type WorkerReply =
  | { id: number, ok: true, result: unknown }
  | { id: number, ok: false, error: string }

/** [tag, seq, sentAt, receivedAt] */
export type DeliveryTuple = [number, number, number, number]

export type WorkerEvent =
  | { event: 'ready', pid: number }
  | { event: 'deliveries', items: DeliveryTuple[] }

/** How often a worker sends the deliveries it has buffered */
export const DELIVERY_FLUSH_MS = 100
