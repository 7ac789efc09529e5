import { Key } from 'interface-datastore'
import type { SphinxCrypto } from './crypto/index.ts'
import type { Datastore } from 'interface-datastore'

const PREFIX = '/murmur/onion/keys'

export interface OnionKey {
  epoch: number
  privateKey: Uint8Array
  publicKey: Uint8Array
}

/**
 * The relay's onion keys by epoch (epoch = floor(now / epochMs)). The key of
 * the previous epoch stays live for `overlapMs` after the switch, so packets
 * built from a descriptor fetched just before rotation still get through.
 * Keys are persisted so a restarted relay keeps the key it has published
 * (otherwise every packet in flight would fail its MAC) and erased once dead.
 */
export class OnionKeyring {
  private readonly crypto: SphinxCrypto
  private readonly datastore?: Datastore
  readonly epochMs: number
  readonly overlapMs: number
  private readonly keys = new Map<number, OnionKey>()

  constructor (crypto: SphinxCrypto, epochMs: number, overlapMs: number, datastore?: Datastore) {
    this.crypto = crypto
    this.epochMs = epochMs
    this.overlapMs = overlapMs
    this.datastore = datastore
  }

  epochAt (now = Date.now()): number {
    return Math.floor(now / this.epochMs)
  }

  /** When the descriptor of `epoch` stops being valid: the epoch's end plus the overlap */
  notAfter (epoch: number): number {
    return (epoch + 1) * this.epochMs + this.overlapMs
  }

  /** Makes sure the current epoch has a key; drops keys past their overlap. Returns the current key. */
  async rotate (now = Date.now()): Promise<OnionKey> {
    const epoch = this.epochAt(now)
    for (const e of [...this.keys.keys()]) {
      if (this.notAfter(e) <= now) {
        this.keys.get(e)?.privateKey.fill(0)
        this.keys.delete(e)
        try {
          await this.datastore?.delete(new Key(`${PREFIX}/${e}`))
        } catch {
          // the datastore is closing: the stale key is erased on the next start
        }
      }
    }
    let key = this.keys.get(epoch)
    if (key == null) {
      let privateKey: Uint8Array | undefined
      const dsKey = new Key(`${PREFIX}/${epoch}`)
      if (this.datastore != null && await this.datastore.has(dsKey)) {
        privateKey = await this.datastore.get(dsKey)
      }
      if (privateKey?.length !== 32) {
        privateKey = this.crypto.randomBytes(32)
        await this.datastore?.put(dsKey, privateKey)
      }
      key = { epoch, privateKey, publicKey: this.crypto.x25519PublicKey(privateKey) }
      this.keys.set(epoch, key)
    }
    return key
  }

  /** Live keys, current epoch first (the processor tries them in this order) */
  live (now = Date.now()): OnionKey[] {
    return [...this.keys.values()].filter(k => this.notAfter(k.epoch) > now).sort((a, b) => b.epoch - a.epoch)
  }

  current (now = Date.now()): OnionKey | undefined {
    return this.keys.get(this.epochAt(now))
  }
}
