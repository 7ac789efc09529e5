import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { Key } from 'interface-datastore'
import { decodePublicIdentity, encodePublicIdentity } from '../identity/index.ts'
import { ContactNotFoundError } from './errors.ts'
import type { MailboxKey } from './transport.ts'
import type { PublicIdentity } from '../identity/index.ts'
import type { Datastore } from 'interface-datastore'

const PREFIX = '/murmur/contacts'

/** A contact as the book keeps it */
export interface Contact {
  /** `identityId` of the contact's public identity */
  id: string
  name?: string
  identity: PublicIdentity
  /** Peers named by the contact's card (bundle, live in transparent mode) */
  peers: string[]
  /** The mailbox to deposit into: the pairwise one the contact named in the session, else the card's */
  mailbox: Uint8Array
  /** True once the contact named a pairwise mailbox inside the session */
  pairwiseMailbox: boolean
  addedAt: number
}

/** A message in a 1:1 conversation */
export interface DirectMessage {
  id: string
  contact: string
  self: boolean
  timestamp: number
  content: string
  replyTo?: string
  edited: boolean
  deleted: boolean
  /** reaction → identity ids */
  reactions: Record<string, string[]>
  /** For own messages: the contact's node acknowledged it (live) or a receipt came back */
  delivered: boolean
  /** Local arrival order within this node (the order the session accepted messages in) */
  seq: number
  /** Set for a group invite (the code is the content) */
  kind?: 'invite'
}

const enc = (o: unknown): Uint8Array => utf8ToBytes(JSON.stringify(o))
const dec = (b: Uint8Array): any => JSON.parse(new TextDecoder().decode(b))

/** The contact book, own mailboxes and conversations, under `/murmur/contacts/…` in the node's datastore */
export class ContactBook {
  private readonly datastore: Datastore
  private seq = 0

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  async init (): Promise<void> {
    const key = new Key(`${PREFIX}/seq`)
    this.seq = (await this.datastore.has(key)) ? Number(dec(await this.datastore.get(key))) : 0
  }

  async put (c: Contact): Promise<void> {
    await this.datastore.put(new Key(`${PREFIX}/book/${c.id}`), enc({ ...c, identity: bytesToHex(encodePublicIdentity(c.identity)), mailbox: bytesToHex(c.mailbox) }))
  }

  async get (id: string): Promise<Contact | undefined> {
    const key = new Key(`${PREFIX}/book/${id}`)
    if (!(await this.datastore.has(key))) {
      return undefined
    }
    const o = dec(await this.datastore.get(key))
    return { ...o, identity: decodePublicIdentity(hexToBytes(o.identity)), mailbox: hexToBytes(o.mailbox) }
  }

  async list (): Promise<Contact[]> {
    const out: Contact[] = []
    for await (const key of this.datastore.queryKeys({ prefix: `${PREFIX}/book/` })) {
      const c = await this.get(key.baseNamespace())
      if (c != null) {
        out.push(c)
      }
    }
    return out.sort((a, b) => a.addedAt - b.addedAt)
  }

  /** By id, unique id prefix (≥ 4 hex digits) or name */
  async resolve (ref: string): Promise<Contact> {
    const all = await this.list()
    const found = all.find(c => c.id === ref) ??
      (all.filter(c => c.name === ref).length === 1 ? all.find(c => c.name === ref) : undefined) ??
      (ref.length >= 4 && all.filter(c => c.id.startsWith(ref)).length === 1 ? all.find(c => c.id.startsWith(ref)) : undefined)
    if (found == null) {
      throw new ContactNotFoundError(`No contact "${ref}" (give a name, an id or a unique id prefix)`)
    }
    return found
  }

  /** A fresh mailbox this identity owns, remembered with what it is for (a card, or one contact) */
  async mintMailbox (purpose: string): Promise<Uint8Array> {
    const seed = randomBytes(32)
    const name = sha256(ed25519.getPublicKey(seed))
    await this.datastore.put(new Key(`${PREFIX}/mailboxes/${bytesToHex(name)}`), enc({ seed: bytesToHex(seed), purpose }))
    return name
  }

  /** The pairwise mailbox minted for this contact, created on first use */
  async pairwiseMailbox (contactId: string): Promise<Uint8Array> {
    const key = new Key(`${PREFIX}/pairwise/${contactId}`)
    if (await this.datastore.has(key)) {
      return hexToBytes(dec(await this.datastore.get(key)))
    }
    const name = await this.mintMailbox(`contact:${contactId}`)
    await this.datastore.put(key, enc(bytesToHex(name)))
    return name
  }

  /** Every mailbox this identity owns, with the key that proves it to a store node */
  async mailboxKeys (): Promise<MailboxKey[]> {
    const out: MailboxKey[] = []
    for await (const { value } of this.datastore.query({ prefix: `${PREFIX}/mailboxes/` })) {
      const seed = hexToBytes(dec(value).seed)
      const publicKey = ed25519.getPublicKey(seed)
      out.push({ name: sha256(publicKey), publicKey, sign: (challenge) => ed25519.sign(challenge, seed) })
    }
    return out
  }

  async putMessage (m: Omit<DirectMessage, 'seq'> & { seq?: number }): Promise<DirectMessage> {
    let seq = m.seq
    if (seq == null) {
      seq = ++this.seq
      await this.datastore.put(new Key(`${PREFIX}/seq`), enc(this.seq))
    }
    const full = { ...m, seq }
    await this.datastore.put(new Key(`${PREFIX}/messages/${m.contact}/${m.id}`), enc(full))
    return full
  }

  async getMessage (contact: string, id: string): Promise<DirectMessage | undefined> {
    const key = new Key(`${PREFIX}/messages/${contact}/${id}`)
    return (await this.datastore.has(key)) ? dec(await this.datastore.get(key)) : undefined
  }

  async messages (contact?: string): Promise<DirectMessage[]> {
    const out: DirectMessage[] = []
    for await (const { value } of this.datastore.query({ prefix: contact != null ? `${PREFIX}/messages/${contact}/` : `${PREFIX}/messages/` })) {
      out.push(dec(value))
    }
    return out.sort((a, b) => a.seq - b.seq)
  }
}
