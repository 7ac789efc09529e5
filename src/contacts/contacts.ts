import { TypedEventEmitter } from '@libp2p/interface'
import { equalBytes } from '@noble/ciphers/utils.js'
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { encodePublicIdentity, identityId, open, seal } from '../identity/index.ts'
import { ContactBook } from './book.ts'
import { decodeCard, encodeCard } from './card.ts'
import { DeliveryError, DuplicateMessageError, MessageFormatError, MessageNotFoundError, PrekeyBundleNotFoundError, SelfContactError, UnknownPrekeyError } from './errors.ts'
import { decodeBody, decodeEnvelope, encodeBody, encodeEnvelope, MAX_CONTENT_CHARS } from './messages.ts'
import { contactsMetrics } from './metrics.ts'
import { bundleKey, chooseFromBundle, decodeBundle, PrekeyStore, signBundle, SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS } from './prekeys.ts'
import { DoubleRatchet } from './ratchet.ts'
import { SessionStore } from './sessions.ts'
import { DirectLiveTransport } from './transport.ts'
import { x3dhInitiate, x3dhRespond } from './x3dh.ts'
import type { Contact, DirectMessage } from './book.ts'
import type { Body, DecodedEnvelope, DirectMessageType } from './messages.ts'
import type { ContactsMetrics } from './metrics.ts'
import type { Session } from './sessions.ts'
import type { LiveTransport, MailboxTransport, RecordTransport } from './transport.ts'
import type { X3dhInit } from './x3dh.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { MurmurNode } from '../node/index.ts'
import type { Startable } from '@libp2p/interface'

/** Associated data of the outer seal: binds the box to this use */
const SEAL_AD = utf8ToBytes('murmur/dm/v1')
/** How often prekeys are checked for rotation and replenishment */
const MAINTAIN_INTERVAL_MS = 3600_000
/**
 * A mailbox item that fails to open for a reason that may pass (a datastore
 * error, a session not held yet) stays in the mailbox for this many fetches
 * before it is acked away; one that can never open (not sealed to this
 * identity, malformed) is acked at once. Acking a failure on the first try
 * deletes the message on every replica, so a passing fault would lose it.
 */
const MAILBOX_ATTEMPTS = 3
/** Failures that no retry can mend */
const PERMANENT_FAILURES = new Set(['SealedBoxError', 'EnvelopeFormatError', 'MessageFormatError', 'IdentityFormatError'])

export interface ContactsComponents {
  node: MurmurNode
  identity: MessagingIdentity
}

export interface ContactsInit {
  /**
   * The live transport; the composite (`createMurmur`) hands it the onion
   * transport unless told to be transparent.
   *
   * @default the transparent `/murmur/dm/1.0.0` transport (`DirectLiveTransport`)
   */
  live?: LiveTransport
  /**
   * The mailbox transport (store layer). Without one, a message the contact
   * cannot take live fails with `DeliveryError` (it stays in the conversation, undelivered).
   *
   * @default undefined
   */
  mailbox?: MailboxTransport
  /**
   * Where the prekey bundle is also published and looked up: signed records
   * on the store nodes (the composite sets the store layer's). Without it,
   * bundles live only on the owner's node and in the DHT.
   *
   * @default undefined
   */
  records?: RecordTransport
  /**
   * How long live delivery may take before falling back to the mailbox
   *
   * @default 10000
   */
  sendTimeoutMs?: number
  /**
   * How long a DHT lookup of a prekey bundle may take
   *
   * @default 15000
   */
  bundleLookupTimeoutMs?: number
  /**
   * Publish the prekey bundle in the DHT (besides serving it directly and,
   * with `records`, on the store nodes)
   *
   * @default true
   */
  publishBundle?: boolean
  /**
   * How often the owned mailboxes are fetched, when a mailbox transport is
   * set (also once at start)
   *
   * @default 60000
   */
  mailboxPollMs?: number
}

export interface ContactInfo {
  id: string
  name?: string
  peers: string[]
  addedAt: number
  /** A ratchet session exists */
  session: boolean
}

export interface SendResult {
  message: DirectMessage
  /** How it left: acknowledged live, or deposited in the contact's mailbox */
  via: 'live' | 'mailbox'
}

export interface ContactsEvents {
  /** A new message from a contact */
  message: CustomEvent<{ contact: ContactInfo, message: DirectMessage }>
  /** A message edited, deleted, reacted to, or (own messages) marked delivered */
  update: CustomEvent<{ contact: ContactInfo, message: DirectMessage }>
  /** A contact added (by card, or by a first message from them) */
  contact: CustomEvent<ContactInfo>
  /** A group invite from a contact (also a `message` with `kind: 'invite'`) */
  invite: CustomEvent<{ contact: ContactInfo, invite: string, message: DirectMessage }>
}

function info (c: Contact, session: boolean): ContactInfo {
  return { id: c.id, name: c.name, peers: c.peers, addedAt: c.addedAt, session }
}

/**
 * Contacts and 1:1 messaging (DESIGN.md "1:1 messaging"): contact cards,
 * X3DH with signed and one-time prekeys, Double Ratchet sessions persisted in
 * the datastore, delivery through the live transport and, failing that, the
 * contact's mailbox.
 *
 * Every session operation runs under one lock, so a send and a receive never
 * race on the ratchet state, and the state is persisted before a message
 * leaves or is reported received.
 */
export class Contacts extends TypedEventEmitter<ContactsEvents> implements Startable {
  private readonly node: MurmurNode
  private readonly identity: MessagingIdentity
  private readonly book: ContactBook
  private readonly sessions: SessionStore
  private readonly prekeys: PrekeyStore
  private readonly live: LiveTransport
  private readonly mailbox?: MailboxTransport
  private readonly records?: RecordTransport
  private readonly sendTimeoutMs: number
  private readonly bundleLookupTimeoutMs: number
  private readonly publishBundle: boolean
  private readonly mailboxPollMs: number
  private readonly metrics?: ContactsMetrics
  private pollTimer?: ReturnType<typeof setInterval>
  private retryTimer?: ReturnType<typeof setTimeout>
  private readonly log: ReturnType<MurmurNode['logger']['forComponent']>
  private lock: Promise<unknown> = Promise.resolve()
  /** Failed attempts per mailbox item id, for items still in a mailbox */
  private readonly mailboxFailures = new Map<string, number>()
  private bundle?: Uint8Array
  private published = false
  private publishedOnStores = false
  private shutdown = new AbortController()
  private publishing?: Promise<void>
  private readonly onPeerConnect = (): void => {
    if (!this.published || (this.records != null && !this.publishedOnStores)) {
      // only where it is still missing: a network without store nodes must not cost a DHT put per connection
      this.publish(true)
    }
  }

  private timer?: ReturnType<typeof setInterval>
  private started = false

  constructor (components: ContactsComponents, init: ContactsInit = {}) {
    super()
    this.node = components.node
    this.identity = components.identity
    this.book = new ContactBook(this.node.datastore)
    this.sessions = new SessionStore(this.node.datastore)
    this.prekeys = new PrekeyStore(this.node.datastore)
    this.live = init.live ?? new DirectLiveTransport(this.node, { timeoutMs: init.sendTimeoutMs })
    this.mailbox = init.mailbox
    this.records = init.records
    this.sendTimeoutMs = init.sendTimeoutMs ?? 10_000
    this.bundleLookupTimeoutMs = init.bundleLookupTimeoutMs ?? 15_000
    this.publishBundle = init.publishBundle ?? true
    this.mailboxPollMs = init.mailboxPollMs ?? 60_000
    this.metrics = contactsMetrics(this.node.metricsRegistry)
    this.log = this.node.logger.forComponent('contacts')
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    await this.book.init()
    await this.prekeys.maintain()
    await this.refreshBundle()
    // whichever transport it is (direct streams, onion handler) takes messages from here on
    await this.live.start?.({
      onSealed: async (sealed) => { await this.receive(sealed) },
      bundleFor: (signingKey) => equalBytes(signingKey, this.identity.publicIdentity.signingKey) ? this.bundle : undefined
    })
    this.timer = setInterval(() => {
      this.exclusive(async () => {
        if (await this.prekeys.maintain()) {
          await this.refreshBundle()
        } else {
          this.publish()
        }
        await this.sessions.forgetEphemeralsBefore(Date.now() - SIGNED_PREKEY_ROTATION_MS - SIGNED_PREKEY_GRACE_MS)
      }).catch(err => { this.log.error({ err }, 'prekey maintenance failed') })
    }, MAINTAIN_INTERVAL_MS)
    this.timer.unref?.()
    this.node.addEventListener('peer:connect', this.onPeerConnect)
    if (this.mailbox != null) {
      let failures = 0
      const poll = (): void => {
        clearTimeout(this.retryTimer)
        if (!this.started) {
          return
        }
        this.fetchMailboxes().then(() => { failures = 0 }, err => {
          this.log.warn({ err }, 'mailbox fetch failed')
          // at start the node usually knows no store node yet: try again soon, not only at the next poll
          failures++
          const wait = Math.min(this.mailboxPollMs, 1_000 * 2 ** Math.min(failures, 10))
          if (this.started && wait < this.mailboxPollMs) {
            this.retryTimer = setTimeout(poll, wait)
            this.retryTimer.unref?.()
          }
        })
      }
      this.pollTimer = setInterval(poll, this.mailboxPollMs)
      this.pollTimer.unref?.()
      setTimeout(poll, 0)
    }
    this.started = true
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    clearInterval(this.pollTimer)
    clearTimeout(this.retryTimer)
    this.node.removeEventListener('peer:connect', this.onPeerConnect)
    this.shutdown.abort()
    await this.publishing
    await this.live.stop?.()
    await this.lock.catch(() => {})
    this.started = false
  }

  /** Runs `fn` alone: ratchet state is read, advanced and persisted by one operation at a time */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => {})
    return run
  }

  private async refreshBundle (): Promise<void> {
    const contents = await this.prekeys.contents()
    this.bundle = signBundle(this.identity, { ...contents, peers: [this.node.peerId.toString()], sequence: Date.now() })
    this.published = false
    this.publishedOnStores = false
    this.publish()
  }

  /**
   * Puts the current bundle in the DHT and on the store nodes, in the
   * background: best effort, since the bundle is also served directly to
   * whoever holds the card. Retried on the next peer connection while either
   * has not succeeded (a node that starts alone has nobody to store it), and
   * republished with the maintenance timer (hourly: the store nodes keep a
   * record at most 7 days, the DHT less), on start and on every rotation or
   * one-time prekey replenish (`refreshBundle`).
   */
  private publish (missingOnly = false): void {
    if (this.bundle == null || this.publishing != null) {
      return
    }
    const bundle = this.bundle
    const key = bundleKey(this.identity.publicIdentity.signingKey)
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.bundleLookupTimeoutMs)])
    const dht = this.publishBundle && !(missingOnly && this.published)
      ? this.node.libp2p.contentRouting.put(key, bundle, { signal })
        .then(() => { this.published = this.bundle === bundle })
        .catch(err => { this.log.debug({ err }, 'prekey bundle not published in the DHT (yet)') })
      : undefined
    const records = missingOnly && this.publishedOnStores ? undefined : this.records
    const stores = records?.publish(key, bundle, { signal })
      .then(() => { this.publishedOnStores = this.bundle === bundle })
      .catch(err => { this.log.debug({ err }, 'prekey bundle not published on the store nodes (yet)') })
    if (dht == null && stores == null) {
      return
    }
    this.publishing = Promise.all([dht, stores]).then(() => {})
      .finally(() => { this.publishing = undefined })
  }

  /**
   * Resolves when the current bundle is in the DHT (`'dht'`, the default) or
   * on the store nodes (`'stores'`), for tests and tools; false when that failed
   */
  async publishNow (where: 'dht' | 'stores' = 'dht'): Promise<boolean> {
    await this.publishing
    this.publish()
    await this.publishing
    return where === 'dht' ? this.published : this.publishedOnStores
  }

  /** This node's current signed prekey bundle record */
  currentBundle (): Uint8Array | undefined {
    return this.bundle
  }

  /** A contact card for this identity, with a mailbox minted for this card */
  async card (): Promise<string> {
    const mailbox = await this.book.mintMailbox('card')
    return encodeCard({ identity: this.identity.publicIdentity, mailbox, peers: [this.node.peerId.toString()] })
  }

  async add (cardText: string, opts: { name?: string } = {}): Promise<ContactInfo> {
    const card = decodeCard(cardText)
    const id = identityId(card.identity)
    if (id === this.identity.id) {
      throw new SelfContactError()
    }
    return this.exclusive(async () => {
      const existing = await this.book.get(id)
      const contact: Contact = {
        id,
        name: opts.name ?? existing?.name,
        identity: card.identity,
        peers: card.peers,
        mailbox: existing?.pairwiseMailbox === true ? existing.mailbox : card.mailbox,
        pairwiseMailbox: existing?.pairwiseMailbox ?? false,
        addedAt: existing?.addedAt ?? Date.now()
      }
      await this.book.put(contact)
      const result = info(contact, await this.sessions.has(id))
      if (existing == null) {
        this.safeDispatch('contact', result)
      }
      return result
    })
  }

  async list (): Promise<ContactInfo[]> {
    const out: ContactInfo[] = []
    for (const c of await this.book.list()) {
      out.push(info(c, await this.sessions.has(c.id)))
    }
    return out
  }

  async get (ref: string): Promise<ContactInfo> {
    const c = await this.book.resolve(ref)
    return info(c, await this.sessions.has(c.id))
  }

  /** Messages, oldest first (in the order this node accepted them); one contact or all */
  async inbox (opts: { contact?: string, limit?: number } = {}): Promise<DirectMessage[]> {
    const contact = opts.contact != null ? (await this.book.resolve(opts.contact)).id : undefined
    const all = await this.book.messages(contact)
    return opts.limit != null ? all.slice(-opts.limit) : all
  }

  async send (ref: string, content: string, opts: { replyTo?: string } = {}): Promise<SendResult> {
    if (typeof content !== 'string' || content.length === 0 || content.length > MAX_CONTENT_CHARS) {
      throw new MessageFormatError(`A message is 1 to ${MAX_CONTENT_CHARS} characters`)
    }
    return this.sendBody(ref, { type: 'MESSAGE', content, replyTo: opts.replyTo })
  }

  /** A group invite code (from `groups.invite()`) through the 1:1 session; the contact gets an `invite` event */
  async sendInvite (ref: string, invite: string): Promise<SendResult> {
    if (typeof invite !== 'string' || invite.length === 0 || invite.length > MAX_CONTENT_CHARS) {
      throw new MessageFormatError(`An invite is 1 to ${MAX_CONTENT_CHARS} characters`)
    }
    return this.sendBody(ref, { type: 'INVITE', content: invite })
  }

  async edit (ref: string, messageId: string, content: string): Promise<SendResult> {
    return this.sendBody(ref, { type: 'EDIT', content, target: messageId })
  }

  async delete (ref: string, messageId: string): Promise<SendResult> {
    return this.sendBody(ref, { type: 'DELETE', content: '', target: messageId })
  }

  async react (ref: string, messageId: string, reaction: string): Promise<SendResult> {
    return this.sendBody(ref, { type: 'REACT', content: reaction, target: messageId })
  }

  private async sendBody (ref: string, part: { type: DirectMessageType, content: string, target?: string, replyTo?: string }): Promise<SendResult> {
    const contact = await this.book.resolve(ref)
    const id = bytesToHex(randomBytes(16))
    const timestamp = Date.now()
    let own: DirectMessage | undefined
    // the bundle lookup (network, up to bundleLookupTimeoutMs) happens outside the lock, so receiving goes on meanwhile
    const bundle = (await this.sessions.has(contact.id)) ? undefined : await this.findBundle(contact)
    const sealed = await this.exclusive(async () => {
      if (part.target != null) {
        const target = await this.book.getMessage(contact.id, part.target)
        // only the author edits or deletes; either side reacts
        if (target == null || (!target.self && part.type !== 'REACT')) {
          throw new MessageNotFoundError(`No ${part.type === 'REACT' ? '' : 'own '}message ${part.target} in this conversation`)
        }
        own = this.apply(target, this.identity.id, part.type, part.content)
        await this.book.putMessage(own)
      } else {
        own = await this.book.putMessage({ id, contact: contact.id, self: true, timestamp, content: part.content, replyTo: part.replyTo, edited: false, deleted: false, reactions: {}, delivered: false, ...(part.type === 'INVITE' ? { kind: 'invite' as const } : {}) })
      }
      return this.encryptFor(contact, { type: part.type, id, timestamp, content: part.content, target: part.target, replyTo: part.replyTo, receipts: [] }, bundle)
    })
    const via = await this.deliver(contact, sealed)
    if (part.target == null && own != null && via === 'live') {
      own = await this.exclusive(async () => {
        const latest = await this.book.getMessage(contact.id, id)
        return this.book.putMessage({ ...(latest ?? own as DirectMessage), delivered: true })
      })
    }
    return { message: own as DirectMessage, via }
  }

  /** Encrypts in the contact's session (setting one up through X3DH first); the session is persisted before the bytes leave */
  private async encryptFor (contact: Contact, body: Body, bundle?: Uint8Array): Promise<Uint8Array> {
    let session = await this.sessions.get(contact.id)
    if (session == null) {
      // a session may have appeared while the bundle was looked up (the contact wrote first): then it is used
      session = await this.initiate(contact, bundle ?? await this.findBundle(contact))
    }
    if (!session.confirmed) {
      // until the contact answers, it may not have our card: say who we are
      body.card = encodeCard({ identity: this.identity.publicIdentity, mailbox: await this.book.pairwiseMailbox(contact.id), peers: [this.node.peerId.toString()] })
    }
    if (session.mailboxAcked !== true) {
      // the mailbox only this contact deposits into, until a receipt shows it arrived
      body.mailbox = await this.book.pairwiseMailbox(contact.id)
    }
    const { header, ciphertext } = session.ratchet.encrypt(encodeBody(body))
    await this.sessions.put(contact.id, session)
    const envelope = encodeEnvelope({ sender: encodePublicIdentity(this.identity.publicIdentity), init: session.init, header, ciphertext }, encodePublicIdentity)
    return seal(contact.identity.dhKey, envelope, SEAL_AD)
  }

  private async initiate (contact: Contact, bytes: Uint8Array): Promise<Session> {
    const bundle = decodeBundle(bytes)
    if (!equalBytes(encodePublicIdentity(bundle.identity), encodePublicIdentity(contact.identity))) {
      throw new PrekeyBundleNotFoundError('The prekey bundle found belongs to another identity')
    }
    const chosen = chooseFromBundle(bundle)
    const { sharedKey, associatedData, init } = x3dhInitiate(this.identity, chosen)
    const ratchet = DoubleRatchet.initAlice(sharedKey, chosen.signedPrekey, associatedData)
    sharedKey.fill(0)
    this.metrics?.sessions.inc({ role: 'initiator' })
    if (bundle.peers.length > 0 && contact.peers.length === 0) {
      contact.peers = bundle.peers
      await this.book.put(contact)
    }
    return { ratchet, init, confirmed: false }
  }

  /**
   * A contact's prekey bundle, from (in this order) its own node (direct or
   * over onion routes, to the peers its card names: the freshest, and it
   * needs the contact online), the DHT (while some peer holds the record),
   * then its store nodes (kept up to 7 days, validated by them and again
   * here). The DHT and the store nodes get a lookup timeout each.
   */
  private async findBundle (contact: Contact): Promise<Uint8Array> {
    const key = bundleKey(contact.identity.signingKey)
    const direct = await this.live.fetchBundle?.(contact.peers, contact.identity.signingKey, { signal: AbortSignal.timeout(this.bundleLookupTimeoutMs) })
    if (direct != null) {
      return direct
    }
    const misses: string[] = []
    try {
      return await this.node.libp2p.contentRouting.get(key, { signal: AbortSignal.timeout(this.bundleLookupTimeoutMs) })
    } catch (err: any) {
      misses.push(`DHT: ${err?.message ?? err}`)
    }
    if (this.records != null) {
      try {
        const found = newestBundleOf(contact, await this.records.lookup(key, { signal: AbortSignal.timeout(this.bundleLookupTimeoutMs) }))
        if (found != null) {
          return found
        }
        misses.push('store nodes: none holds it')
      } catch (err: any) {
        misses.push(`store nodes: ${err?.message ?? err}`)
      }
    }
    throw new PrekeyBundleNotFoundError(`No prekey bundle for contact ${contact.id} (asked its peers; ${misses.join('; ')})`)
  }

  private async deliver (contact: Contact, sealed: Uint8Array): Promise<'live' | 'mailbox'> {
    let liveError: string
    try {
      await this.live.send({ peers: contact.peers, dhKey: contact.identity.dhKey }, sealed, { signal: AbortSignal.timeout(this.sendTimeoutMs) })
      this.metrics?.sent.inc({ via: 'live' })
      return 'live'
    } catch (err: any) {
      liveError = err?.message ?? String(err)
    }
    if (this.mailbox == null) {
      throw new DeliveryError(`${liveError}; no mailbox transport to fall back on (the message is kept, undelivered)`)
    }
    await this.mailbox.deposit(contact.mailbox, sealed, { signal: AbortSignal.timeout(this.sendTimeoutMs) })
    this.metrics?.sent.inc({ via: 'mailbox' })
    return 'mailbox'
  }

  /**
   * Takes one sealed envelope from a transport (live or a mailbox fetch):
   * opens it, runs X3DH when it starts a session, decrypts, persists, and
   * only then dispatches events. A duplicate (its key already used) is
   * accepted silently, so the transport acks it and nothing shows twice.
   */
  async receive (sealed: Uint8Array): Promise<void> {
    try {
      await this.receiveOne(sealed)
    } catch (err: any) {
      this.metrics?.rejected.inc({ reason: err?.name ?? 'Error' })
      throw err
    }
  }

  private async receiveOne (sealed: Uint8Array): Promise<void> {
    const env = decodeEnvelope(open(this.identity, sealed, SEAL_AD))
    const events: Array<() => void> = []
    const receipt = await this.exclusive(async () => {
      const body = await this.decryptEnvelope(env)
      if (body == null) {
        return undefined
      }
      const contact = await this.learnSender(env, body, events)
      return this.applyBody(contact, body, events)
    })
    for (const e of events) {
      e()
    }
    if (receipt != null) {
      // receipts go out in the background: the sender's ack already happened
      this.sendReceipt(receipt.contact, receipt.ids).catch(err => { this.log.debug({ err }, 'receipt not delivered') })
    }
  }

  /** Decrypts in the sender's session (setting one up from a first message); undefined for a duplicate */
  private async decryptEnvelope (env: DecodedEnvelope): Promise<Body | undefined> {
    const senderId = identityId(env.sender)
    const session = await this.sessions.get(senderId)
    const chosen = await this.sessionFor(env, senderId, session)
    if (chosen == null) {
      return undefined
    }
    const { active, fresh } = chosen
    let bodyBytes: Uint8Array
    try {
      bodyBytes = active.ratchet.decrypt({ header: env.header, ciphertext: env.ciphertext })
    } catch (err) {
      if (err instanceof DuplicateMessageError) {
        this.metrics?.rejected.inc({ reason: err.name })
        return undefined
      }
      throw err
    }
    const body = decodeBody(bodyBytes)
    this.metrics?.received.inc({ type: body.type })
    if (fresh && env.init != null) {
      await this.adopt(env.init, session)
    }
    if (env.init == null) {
      // the contact answers in this session: it holds it, no more init needed
      active.init = undefined
      active.confirmed = true
    }
    if (body.type === 'RECEIPT') {
      active.mailboxAcked = true
    }
    await this.sessions.put(senderId, active)
    return body
  }

  /** The session a message belongs to: the one held, or a new one from a first message; undefined for a replay */
  private async sessionFor (env: DecodedEnvelope, senderId: string, session?: Session): Promise<{ active: Session, fresh: boolean } | undefined> {
    const init = env.init
    if (init != null && !equalBytes(encodePublicIdentity(init.identity), encodePublicIdentity(env.sender))) {
      throw new UnknownPrekeyError('The first message names another identity than its sender')
    }
    const sameSession = init != null && session?.remoteEphemeral != null && equalBytes(session.remoteEphemeral, init.ephemeral)
    // both sides started a session at once: the one started by the smaller identity id wins
    const oursWins = session?.init != null && !session.confirmed && this.identity.id < senderId
    if (init != null && !sameSession && !oursWins) {
      if (await this.sessions.seenEphemeral(init.ephemeral)) {
        // a replayed first message of a session already set up (and maybe replaced since)
        this.metrics?.rejected.inc({ reason: DuplicateMessageError.name })
        return undefined
      }
      // a new session from the contact (first contact, or they lost their state)
      return { active: await this.respond(init), fresh: true }
    }
    if (session == null) {
      throw new UnknownPrekeyError('A message in a session this identity does not hold')
    }
    return { active: session, fresh: false }
  }

  /** A first message decrypted: its ephemeral is remembered, the one-time prekey out of the bundle, the old session wiped */
  private async adopt (init: X3dhInit, replaced?: Session): Promise<void> {
    this.metrics?.sessions.inc({ role: 'responder' })
    await this.sessions.rememberEphemeral(init.ephemeral)
    replaced?.ratchet.wipe()
    // a second first message naming a key another contact used first: the bundle already lacks it
    if (init.oneTimePrekeyId != null && await this.prekeys.useOneTime(init.oneTimePrekeyId)) {
      await this.prekeys.maintain()
      await this.refreshBundle()
    }
  }

  /** The sender as a contact: added on first contact (from the card in the body), its pairwise mailbox noted */
  private async learnSender (env: DecodedEnvelope, body: Body, events: Array<() => void>): Promise<Contact> {
    const senderId = identityId(env.sender)
    let contact = await this.book.get(senderId)
    if (contact == null) {
      const card = body.card != null ? safeCard(body.card) : undefined
      contact = { id: senderId, identity: env.sender, peers: card?.peers ?? [], mailbox: body.mailbox ?? card?.mailbox ?? new Uint8Array(32), pairwiseMailbox: body.mailbox != null, addedAt: Date.now() }
      await this.book.put(contact)
      const ci = info(contact, true)
      events.push(() => { this.safeDispatch('contact', ci) })
    } else if (body.mailbox != null && !equalBytes(body.mailbox, contact.mailbox)) {
      contact.mailbox = body.mailbox
      contact.pairwiseMailbox = true
      await this.book.put(contact)
    }
    return contact
  }

  private async applyBody (c: Contact, body: Body, events: Array<() => void>): Promise<{ contact: Contact, ids: string[] } | undefined> {
    const ci = info(c, true)
    if (body.type === 'MESSAGE' || body.type === 'INVITE') {
      if (await this.book.getMessage(c.id, body.id) == null) {
        const m = await this.book.putMessage({ id: body.id, contact: c.id, self: false, timestamp: body.timestamp, content: body.content, replyTo: body.replyTo, edited: false, deleted: false, reactions: {}, delivered: true, ...(body.type === 'INVITE' ? { kind: 'invite' as const } : {}) })
        events.push(() => { this.safeDispatch('message', { contact: ci, message: m }) })
        if (body.type === 'INVITE') {
          events.push(() => { this.safeDispatch('invite', { contact: ci, invite: body.content, message: m }) })
        }
      }
      return { contact: c, ids: [body.id] }
    }
    if (body.type === 'RECEIPT') {
      for (const rid of body.receipts) {
        const m = await this.book.getMessage(c.id, rid)
        if (m?.self === true && !m.delivered) {
          const updated = await this.book.putMessage({ ...m, delivered: true })
          events.push(() => { this.safeDispatch('update', { contact: ci, message: updated }) })
        }
      }
      return undefined
    }
    const target = await this.book.getMessage(c.id, body.target as string)
    // only the author may edit or delete; either side may react
    if (target != null && (body.type === 'REACT' || !target.self)) {
      const updated = await this.book.putMessage(this.apply(target, c.id, body.type, body.content))
      events.push(() => { this.safeDispatch('update', { contact: ci, message: updated }) })
    }
    return undefined
  }

  private async sendReceipt (contact: Contact, ids: string[]): Promise<void> {
    const sealed = await this.exclusive(async () => this.encryptFor(contact, { type: 'RECEIPT', id: '', timestamp: Date.now(), content: '', receipts: ids }))
    await this.deliver(contact, sealed)
  }

  private async respond (init: X3dhInit): Promise<Session> {
    const spk = await this.prekeys.signedPrekey(init.signedPrekeyId)
    if (spk == null) {
      throw new UnknownPrekeyError(`Signed prekey ${init.signedPrekeyId} is not held (rotated out)`)
    }
    let opk
    if (init.oneTimePrekeyId != null) {
      opk = await this.prekeys.oneTime(init.oneTimePrekeyId)
      if (opk == null) {
        throw new UnknownPrekeyError(`One-time prekey ${init.oneTimePrekeyId} is already used (and past its grace) or was never this identity's`)
      }
    }
    const { sharedKey, associatedData } = x3dhRespond(this.identity, init, spk, opk)
    const ratchet = DoubleRatchet.initBob(sharedKey, spk, associatedData)
    sharedKey.fill(0)
    spk.secretKey.fill(0)
    opk?.secretKey.fill(0)
    return { ratchet, remoteEphemeral: init.ephemeral, confirmed: true }
  }

  /**
   * Mailbox transport: fetch every owned mailbox, take what is there, ack what
   * was taken, what can never be taken, and what failed `MAILBOX_ATTEMPTS`
   * fetches in a row; every failure is logged and counted.
   */
  async fetchMailboxes (): Promise<number> {
    if (this.mailbox == null) {
      return 0
    }
    let taken = 0
    const seen = new Set<string>()
    for (const key of await this.book.mailboxKeys()) {
      const items = await this.mailbox.fetch(key)
      const done: string[] = []
      for (const item of items) {
        seen.add(item.id)
        try {
          await this.receive(item.sealed)
          taken++
          done.push(item.id)
        } catch (err: any) {
          const attempts = (this.mailboxFailures.get(item.id) ?? 0) + 1
          const permanent = PERMANENT_FAILURES.has(err?.name)
          if (permanent || attempts >= MAILBOX_ATTEMPTS) {
            this.log.warn({ err, item: item.id, attempts }, 'a mailbox item could not be opened; acked away')
            this.metrics?.mailboxDropped.inc({ reason: err?.name ?? 'Error' })
            done.push(item.id)
          } else {
            this.log.warn({ err, item: item.id, attempts }, 'a mailbox item could not be opened; left for the next fetch')
            this.mailboxFailures.set(item.id, attempts)
          }
        }
      }
      if (done.length > 0) {
        await this.mailbox.ack(key, done)
      }
    }
    // ids gone from every mailbox (acked, expired) need no count
    for (const id of this.mailboxFailures.keys()) {
      if (!seen.has(id)) {
        this.mailboxFailures.delete(id)
      }
    }
    return taken
  }

  private apply (target: DirectMessage, actor: string, type: DirectMessageType, content: string): DirectMessage {
    const m = { ...target, reactions: { ...target.reactions } }
    if (type === 'EDIT') {
      m.content = content
      m.edited = true
    } else if (type === 'DELETE') {
      m.content = ''
      m.deleted = true
    } else if (type === 'REACT') {
      const who = new Set(m.reactions[content] ?? [])
      who.add(actor)
      m.reactions[content] = [...who]
    }
    return m
  }

  private safeDispatch<K extends keyof ContactsEvents>(type: K, detail: ContactsEvents[K]['detail']): void {
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }))
    } catch (err: any) {
      this.log.error({ err }, 'a contacts listener threw')
    }
  }
}

/** The newest bundle among store nodes' answers that verifies and belongs to the contact */
function newestBundleOf (contact: Contact, records: Uint8Array[]): Uint8Array | undefined {
  let best: Uint8Array | undefined
  let bestSeq = -1
  for (const r of records) {
    try {
      const b = decodeBundle(r)
      if (equalBytes(b.identity.signingKey, contact.identity.signingKey) && b.sequence > bestSeq) {
        best = r
        bestSeq = b.sequence
      }
    } catch {
      // a store node that answers garbage is skipped
    }
  }
  return best
}

function safeCard (text: string): ReturnType<typeof decodeCard> | undefined {
  try {
    return decodeCard(text)
  } catch {
    return undefined
  }
}
