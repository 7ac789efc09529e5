import { Counter, Gauge } from '../node/prometheus.ts'
import type { DropReason } from './processor.ts'
import type { Registry } from 'prom-client'

/** Every reason a packet or frame is dropped, for the `dropped` counters */
export type OnionDropReason = DropReason | 'frame' | 'not-relay' | 'next-hop-unreachable' | 'message' | 'unknown-surb' | 'surb-payload' | 'exit-topic' | 'congested'

/**
 * The layer's counters: kept as plain numbers for `status()` and mirrored to
 * prom-client (`murmur_onion_*`) when the node has a metrics registry.
 */
export class OnionMetrics {
  processed = 0
  forwarded = 0
  delivered = 0
  sent = 0
  acked = 0
  retried = 0
  failed = 0
  loops = 0
  readonly probes = { sent: 0, returned: 0, lost: 0 }
  readonly dropped: Partial<Record<OnionDropReason, number>> = {}
  private readonly prom?: {
    processed: Counter
    forwarded: Counter
    delivered: Counter
    dropped: Counter<'reason'>
    messages: Counter<'outcome'>
    probes: Counter<'outcome'>
    replayCache: Gauge
    relays: Gauge
    epoch: Gauge
  }

  constructor (registry?: Registry) {
    if (registry == null) {
      return
    }
    const registers = [registry]
    this.prom = {
      processed: new Counter({ name: 'murmur_onion_packets_processed_total', help: 'Sphinx packets that passed MAC and replay checks', registers }),
      forwarded: new Counter({ name: 'murmur_onion_packets_forwarded_total', help: 'Packets forwarded to their next hop', registers }),
      delivered: new Counter({ name: 'murmur_onion_packets_delivered_total', help: 'Packets for which this node was the last hop', registers }),
      dropped: new Counter({ name: 'murmur_onion_packets_dropped_total', help: 'Packets and frames dropped, by reason', labelNames: ['reason'], registers }),
      messages: new Counter({ name: 'murmur_onion_messages_total', help: 'Fragments sent by this node, by outcome (sent, acked, retried, failed)', labelNames: ['outcome'], registers }),
      probes: new Counter({ name: 'murmur_onion_probes_total', help: 'Loop packets that measure relays, by outcome (sent, returned, lost); cover loops count in returned and lost', labelNames: ['outcome'], registers }),
      replayCache: new Gauge({ name: 'murmur_onion_replay_cache_size', help: 'Replay tags held for the live key epochs', registers }),
      relays: new Gauge({ name: 'murmur_onion_known_relays', help: 'Verified relay descriptors in the directory', registers }),
      epoch: new Gauge({ name: 'murmur_onion_key_epoch', help: 'Current onion key epoch', registers })
    }
  }

  packet (kind: 'processed' | 'forwarded' | 'delivered'): void {
    this[kind]++
    this.prom?.[kind].inc()
  }

  drop (reason: OnionDropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
    this.prom?.dropped.inc({ reason })
  }

  message (outcome: 'sent' | 'acked' | 'retried' | 'failed'): void {
    this[outcome]++
    this.prom?.messages.inc({ outcome })
  }

  probe (outcome: 'sent' | 'returned' | 'lost'): void {
    this.probes[outcome]++
    this.prom?.probes.inc({ outcome })
  }

  gauges (replayCache: number, relays: number, epoch: number): void {
    this.prom?.replayCache.set(replayCache)
    this.prom?.relays.set(relays)
    this.prom?.epoch.set(epoch)
  }
}
