/**
 * What one process uses: memory, CPU time, event-loop delay and bytes written
 * to TCP sockets.
 *
 * Bytes on the wire are counted at the socket: every TCP socket the process
 * opens or accepts is announced on Node's `net.client.socket` /
 * `net.server.socket` diagnostics channels, and `socket.bytesWritten` is what
 * went into the kernel, i.e. after noise encryption and yamux framing (TCP/IP
 * headers excluded). Every protocol counts (gossipsub, identify, DHT, ping):
 * that is the cost a deployment pays. In one process every byte written is
 * also read by a peer in the same process, so written bytes are the wire
 * bytes, counted once.
 */

import dc from 'node:diagnostics_channel'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Socket } from 'node:net'

export interface EventLoopDelay {
  /** milliseconds */
  p50: number
  p99: number
  max: number
  mean: number
}

export interface ProcessUsage {
  rssBytes: number
  heapUsedBytes: number
  heapTotalBytes: number
  externalBytes: number
  /** CPU time since the process started */
  cpuUserMicros: number
  cpuSystemMicros: number
  /** bytes written to TCP sockets since the process started */
  wireBytesWritten: number
  /** event-loop delay since the last reset */
  eventLoopDelay: EventLoopDelay
}

class WireCounter {
  private closedBytes = 0
  private readonly live = new Set<Socket>()

  constructor () {
    const track = (message: unknown): void => {
      const socket = (message as { socket?: Socket }).socket
      if (socket == null) {
        return
      }
      this.live.add(socket)
      socket.once('close', () => {
        this.closedBytes += socket.bytesWritten
        this.live.delete(socket)
      })
    }
    dc.subscribe('net.client.socket', track)
    dc.subscribe('net.server.socket', track)
  }

  total (): number {
    let sum = this.closedBytes
    for (const socket of this.live) {
      sum += socket.bytesWritten
    }
    return sum
  }
}

/**
 * The event-loop delay monitor's timer period. Node records the whole period
 * (an idle loop reads about 10.1 ms at a 10 ms resolution), so the period is
 * subtracted from every reading to leave the delay alone.
 */
const ELD_RESOLUTION_MS = 10

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>

let counter: WireCounter | undefined
let histogram: IntervalHistogram | undefined

/**
 * Starts counting socket bytes and event-loop delay. Call it before the first
 * node is created: sockets opened earlier are not counted.
 */
export function startUsageMonitors (): void {
  counter ??= new WireCounter()
  if (histogram == null) {
    histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
    histogram.enable()
  }
}

export function processUsage (options: { resetEventLoopDelay?: boolean } = {}): ProcessUsage {
  startUsageMonitors()
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  const h = histogram as IntervalHistogram
  const ms = (ns: number): number => Number.isFinite(ns) ? Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS) : 0
  const eventLoopDelay: EventLoopDelay = h.count > 0
    ? { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) }
    : { p50: 0, p99: 0, max: 0, mean: 0 }
  if (options.resetEventLoopDelay === true) {
    h.reset()
  }
  return {
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    heapTotalBytes: mem.heapTotal,
    externalBytes: mem.external,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
    wireBytesWritten: (counter as WireCounter).total(),
    eventLoopDelay
  }
}

let gcFn: (() => void) | undefined | null

/**
 * A full garbage collection before a memory reading, so that per-node figures
 * are live memory and not garbage not yet collected. Works without
 * `--expose-gc` by enabling it at run time. Answers whether it could collect.
 */
export async function collectGarbage (): Promise<boolean> {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      gcFn = runInNewContext('gc') as () => void
    } catch {
      gcFn = null
    }
  }
  if (gcFn == null) {
    return false
  }
  // twice, with a turn of the event loop between, so that finalizers run
  gcFn()
  await new Promise(resolve => setImmediate(resolve))
  gcFn()
  return true
}
