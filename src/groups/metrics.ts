import { Counter, Gauge } from '../node/prometheus.ts'
import type { Registry } from 'prom-client'

/** The groups layer's figures on the node's registry (`murmur_groups_*`); absent registry = no-ops */
export class GroupsMetrics {
  private readonly envelopes?: Counter<'result' | 'reason'>
  private readonly published?: Counter
  private readonly ignoredOps?: Counter<'reason'>
  private readonly groups?: Gauge

  constructor (registry?: Registry) {
    if (registry == null) {
      return
    }
    // a registry outlives a restarted layer: reuse what is already there
    this.envelopes = (registry.getSingleMetric('murmur_groups_envelopes_total') as Counter<'result' | 'reason'> | undefined) ?? new Counter({
      name: 'murmur_groups_envelopes_total',
      help: 'Group envelopes received, by validation result and reason',
      labelNames: ['result', 'reason'],
      registers: [registry]
    })
    this.published = (registry.getSingleMetric('murmur_groups_published_total') as Counter | undefined) ?? new Counter({
      name: 'murmur_groups_published_total',
      help: 'Group envelopes this peer published',
      registers: [registry]
    })
    this.ignoredOps = (registry.getSingleMetric('murmur_groups_ignored_operations_total') as Counter<'reason'> | undefined) ?? new Counter({
      name: 'murmur_groups_ignored_operations_total',
      help: 'Valid envelopes whose operation was not honoured (an edit by a non-author, a roster from a non-admin…)',
      labelNames: ['reason'],
      registers: [registry]
    })
    this.groups = (registry.getSingleMetric('murmur_groups_joined') as Gauge | undefined) ?? new Gauge({
      name: 'murmur_groups_joined',
      help: 'Groups this peer follows',
      registers: [registry]
    })
  }

  envelope (result: string, reason: string): void {
    this.envelopes?.inc({ result, reason })
  }

  publish (): void {
    this.published?.inc()
  }

  ignoredOperation (reason: string): void {
    this.ignoredOps?.inc({ reason })
  }

  setGroups (n: number): void {
    this.groups?.set(n)
  }
}
