import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { Key } from 'interface-datastore'
import { decodePublicIdentity, encodePublicIdentity } from '../identity/index.ts'
import { DoubleRatchet } from './ratchet.ts'
import type { RatchetOptions } from './ratchet.ts'
import type { X3dhInit } from './x3dh.ts'
import type { Datastore } from 'interface-datastore'

/** A Double Ratchet session with one contact */
export interface Session {
  ratchet: DoubleRatchet
  /** Initiator only: sent with every message until the responder answers (X3DH §3.3) */
  init?: X3dhInit
  /** Responder only: the initiator's ephemeral key, to recognise further first messages of the same session */
  remoteEphemeral?: Uint8Array
  /** The contact has sent something in this session, so it holds the session too */
  confirmed: boolean
  /** A receipt came back, so the contact has our pairwise mailbox name (sent in every message until then) */
  mailboxAcked?: boolean
}

const PREFIX = '/murmur/contacts/sessions'
const EPHEMERALS = '/murmur/contacts/ephemerals'

/** Sessions persisted in the datastore: written before a message leaves and after one is accepted */
export class SessionStore {
  private readonly datastore: Datastore
  private readonly options: RatchetOptions

  constructor (datastore: Datastore, options: RatchetOptions = {}) {
    this.datastore = datastore
    this.options = options
  }

  async get (contactId: string): Promise<Session | undefined> {
    const key = new Key(`${PREFIX}/${contactId}`)
    if (!(await this.datastore.has(key))) {
      return undefined
    }
    const o = JSON.parse(new TextDecoder().decode(await this.datastore.get(key)))
    return {
      ratchet: DoubleRatchet.deserialize(o.ratchet, this.options),
      init: o.init == null
        ? undefined
        : { identity: decodePublicIdentity(hexToBytes(o.init.identity)), ephemeral: hexToBytes(o.init.ephemeral), signedPrekeyId: o.init.signedPrekeyId, oneTimePrekeyId: o.init.oneTimePrekeyId },
      remoteEphemeral: o.remoteEphemeral != null ? hexToBytes(o.remoteEphemeral) : undefined,
      confirmed: o.confirmed,
      mailboxAcked: o.mailboxAcked === true
    }
  }

  async put (contactId: string, s: Session): Promise<void> {
    await this.datastore.put(new Key(`${PREFIX}/${contactId}`), utf8ToBytes(JSON.stringify({
      ratchet: s.ratchet.serialize(),
      init: s.init == null
        ? undefined
        : { identity: bytesToHex(encodePublicIdentity(s.init.identity)), ephemeral: bytesToHex(s.init.ephemeral), signedPrekeyId: s.init.signedPrekeyId, oneTimePrekeyId: s.init.oneTimePrekeyId },
      remoteEphemeral: s.remoteEphemeral != null ? bytesToHex(s.remoteEphemeral) : undefined,
      confirmed: s.confirmed,
      mailboxAcked: s.mailboxAcked === true
    })))
  }

  async has (contactId: string): Promise<boolean> {
    return this.datastore.has(new Key(`${PREFIX}/${contactId}`))
  }

  /**
   * X3DH §4.2 (replay): a first message without a one-time prekey could be
   * replayed to make the responder start the same session again, throwing
   * away the one in use. Every initiator ephemeral key that set up a session is
   * remembered until the signed prekey it used can no longer be held.
   */
  async seenEphemeral (ephemeral: Uint8Array): Promise<boolean> {
    return this.datastore.has(new Key(`${EPHEMERALS}/${bytesToHex(ephemeral)}`))
  }

  async rememberEphemeral (ephemeral: Uint8Array, now = Date.now()): Promise<void> {
    await this.datastore.put(new Key(`${EPHEMERALS}/${bytesToHex(ephemeral)}`), utf8ToBytes(String(now)))
  }

  async forgetEphemeralsBefore (time: number): Promise<void> {
    for await (const { key, value } of this.datastore.query({ prefix: `${EPHEMERALS}/` })) {
      if (Number(new TextDecoder().decode(value)) < time) {
        await this.datastore.delete(key)
      }
    }
  }
}
