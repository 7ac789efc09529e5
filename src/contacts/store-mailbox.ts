import type { MailboxKey, MailboxTransport, RecordTransport } from './transport.ts'
import type { Store } from '../store/index.ts'
import type { AbortOptions } from '@libp2p/interface'

/** What the adapter uses of the store layer */
export type StoreForContacts = Pick<Store, 'deposit' | 'fetch' | 'ack'>
/** What the record adapter uses of the store layer */
export type StoreRecordsForContacts = Pick<Store, 'publishRecord' | 'lookupRecord'>

/**
 * The contacts mailbox contract on the store layer (contacts sits above
 * store): a deposit is acknowledged once the store nodes hold it durably, a
 * fetch proves possession of the mailbox key to each store node, an ack
 * deletes on every replica. Contacts' mailbox names are already
 * sha256(public key), the store's naming rule, so no translation is needed.
 */
export class StoreMailboxTransport implements MailboxTransport {
  private readonly store: StoreForContacts

  constructor (store: StoreForContacts) {
    this.store = store
  }

  async deposit (mailbox: Uint8Array, sealed: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.store.deposit(mailbox, sealed, { signal: options?.signal })
  }

  async fetch (key: MailboxKey, options?: AbortOptions): Promise<Array<{ id: string, sealed: Uint8Array }>> {
    // the store answers oldest first, the order the sender deposited in
    const items = await this.store.fetch(key, { signal: options?.signal })
    return items.map(m => ({ id: m.id, sealed: m.payload }))
  }

  async ack (key: MailboxKey, ids: string[], options?: AbortOptions): Promise<void> {
    await this.store.ack(key, ids, options)
  }
}

/**
 * Prekey bundles on the store nodes: the k store nodes closest to
 * sha256(bundle key) keep the newest bundle each identity signed (the store
 * node validates it with `validateBundleRecord`, the DHT's validator), so a
 * new contact can start a session while the owner is offline and the DHT
 * record expired or is out of reach.
 */
export class StoreRecordTransport implements RecordTransport {
  private readonly store: StoreRecordsForContacts

  constructor (store: StoreRecordsForContacts) {
    this.store = store
  }

  async publish (key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.store.publishRecord(key, value, options)
  }

  async lookup (key: Uint8Array, options?: AbortOptions): Promise<Uint8Array[]> {
    return this.store.lookupRecord(key, options)
  }
}
