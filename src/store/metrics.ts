/** `murmur_store_*` metrics on the node's Prometheus registry */

import { Counter, Gauge } from '../node/prometheus.ts'
import type { StoreTotals } from './db.ts'
import type { Registry } from 'prom-client'

export class StoreMetrics {
  readonly requests: Counter<'type' | 'status'>
  readonly deposits: Counter<'result'>
  readonly served: Counter
  readonly acked: Counter
  readonly expired: Counter
  readonly replicated: Counter<'result'>
  readonly syncRounds: Counter<'result'>
  readonly history: Counter
  readonly refused: Counter<'reason'>
  private readonly registry: Registry
  private readonly names: string[] = []

  constructor (registry: Registry, totals: () => StoreTotals) {
    this.registry = registry
    const registers = [registry]
    const counter = <T extends string>(name: string, help: string, labelNames: T[] = []): Counter<T> => {
      this.names.push(name)
      return new Counter({ name, help, labelNames, registers })
    }
    this.requests = counter('murmur_store_requests_total', 'Store protocol requests answered, by type and status', ['type', 'status'])
    this.deposits = counter('murmur_store_deposits_total', 'Envelopes deposited, by result', ['result'])
    this.served = counter('murmur_store_fetched_total', 'Envelopes served to mailbox owners')
    this.acked = counter('murmur_store_acked_total', 'Envelopes deleted by their owner\'s ack')
    this.expired = counter('murmur_store_expired_total', 'Envelopes deleted by the TTL sweeper')
    this.replicated = counter('murmur_store_replicated_total', 'Envelopes and acks pushed to other replicas, by result', ['result'])
    this.syncRounds = counter('murmur_store_sync_rounds_total', 'Anti-entropy rounds with a replica, by result', ['result'])
    this.history = counter('murmur_store_history_envelopes_total', 'Group envelopes kept for history')
    this.refused = counter('murmur_store_refused_total', 'Store streams and requests refused by a limit, by reason (rate-limit, cut-off, streams, too-large)', ['reason'])
    const gauge = (name: string, help: string, read: (t: StoreTotals) => number): void => {
      this.names.push(name)
      // eslint-disable-next-line no-new
      new Gauge({ name, help, registers, collect () { this.set(read(totals())) } })
    }
    gauge('murmur_store_messages', 'Messages held', t => t.messages)
    gauge('murmur_store_bytes', 'Payload bytes held', t => t.bytes)
    gauge('murmur_store_mailboxes', 'Mailboxes with at least one message', t => t.mailboxes)
    gauge('murmur_store_tombstones', 'Tombstones of acked messages kept so they never come back', t => t.tombstones)
    gauge('murmur_store_oldest_message_seconds', 'Age of the oldest message held', t => t.oldest == null ? 0 : (Date.now() - t.oldest) / 1000)
  }

  remove (): void {
    for (const name of this.names) {
      this.registry.removeSingleMetric(name)
    }
  }
}
