/**
 * The line protocol between the harness and a node host (benchmarks/worker.ts):
 * one JSON object per line, requests on the host's stdin, replies and events
 * on its stdout. Each request carries an `id` that its reply repeats; events
 * have no id. A host runs any number of nodes of one system: all of a
 * network's nodes by default, one with `--procs`.
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
  /** loads the system's modules, so that memory measured after it is the nodes' alone */
  | { id: number, cmd: 'load', system: SystemName }
  | { id: number, cmd: 'start', system: SystemName, init: WorkerPeerInit }
  | { id: number, cmd: 'connect', node: number, addr: string }
  | { id: number, cmd: 'subscribe', node: number, topic: string }
  | { id: number, cmd: 'publish', node: number, request: PublishRequest }
  | { id: number, cmd: 'peers', node: number }
  | { id: number, cmd: 'mesh', node: number, topic: string }
  | { id: number, cmd: 'usage', resetEventLoopDelay: boolean, collectGarbage: boolean }
  | { id: number, cmd: 'flush' }
  /** stops every node of the host; the host exits after replying */
  | { id: number, cmd: 'exit' }

export interface WorkerResults {
  load: null
  start: { peerId: string, addr: string }
  connect: null
  subscribe: null
  publish: PublishOutcome
  peers: string[]
  mesh: number
  usage: ProcessUsage
  flush: null
  exit: null
}

export type WorkerReply =
  | { id: number, ok: true, result: unknown }
  | { id: number, ok: false, error: string }

/** [node, tag, seq, sentAt, receivedAt] */
export type DeliveryTuple = [number, number, number, number, number]

export type WorkerEvent =
  | { event: 'ready', pid: number }
  | { event: 'deliveries', items: DeliveryTuple[] }

/** How often a host sends the deliveries it has buffered */
export const DELIVERY_FLUSH_MS = 100
