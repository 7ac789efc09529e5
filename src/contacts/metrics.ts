import { Counter } from '../node/prometheus.ts'
import type { Registry } from 'prom-client'

/** The contacts layer's Prometheus metrics (absent without a registry) */
export interface ContactsMetrics {
  sent: Counter<'via'>
  received: Counter<'type'>
  rejected: Counter<'reason'>
  sessions: Counter<'role'>
  mailboxDropped: Counter<'reason'>
}

export function contactsMetrics (registry?: Registry): ContactsMetrics | undefined {
  if (registry == null) {
    return undefined
  }
  // one registry may serve several peers in a process (benchmarks): share the counters
  const counter = <L extends string>(name: string, help: string, label: L): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames: [label], registers: [registry] })
  return {
    sent: counter('murmur_contacts_sent_total', '1:1 envelopes sent, by how they left (live, mailbox)', 'via'),
    received: counter('murmur_contacts_received_total', '1:1 messages accepted, by type', 'type'),
    rejected: counter('murmur_contacts_rejected_total', 'Incoming envelopes refused, by error name (duplicates count as DuplicateMessageError)', 'reason'),
    sessions: counter('murmur_contacts_sessions_total', 'Double Ratchet sessions set up, by role (initiator, responder)', 'role'),
    mailboxDropped: counter('murmur_contacts_mailbox_dropped_total', 'Mailbox items acked away without being taken (never openable, or failed every attempt), by error name', 'reason')
  }
}
