import { TopicValidatorResult } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js'
import { TypedEventEmitter } from 'main-event'
import { equals as equalBytes } from 'uint8arrays/equals'
import { decodePublicIdentity, encodePublicIdentity } from '../identity/index.ts'
import { Body, completeBody, decodeEnvelope, DEFAULT_MAX_ENVELOPE_BYTES, MAX_ATTACHMENTS, MAX_CHANNEL_CHARS, MAX_NAME_CHARS, MAX_REACTION_CHARS, MESSAGE_ID_PATTERN, sealBody } from './codec.ts'
import { newEpochKey, openEpochKey, sealEpochKey } from './crypto.ts'
import { AnonymousPublishUnavailableError, EnvelopeRejectedError, EnvelopeTooLargeError, GroupNotFoundError, GroupsNotStartedError, InvalidGroupArgumentError, MessageNotFoundError, NotGroupAdminError, NotMessageAuthorError } from './errors.ts'
import { encodeInvite, parseInvite } from './invite.ts'
import { findMember, isAdmin, memberIdentity, memberInfos, removeMembers, storedMember, upsertMember } from './membership.ts'
import { GroupsMetrics } from './metrics.ts'
import { formatCursor, GroupStore, isCursor } from './timeline.ts'
import { groupTopic } from './topic.ts'
import { validateEnvelope } from './validator.ts'
import type { Attachment, GroupInfo, Groups, GroupsComponents, GroupsEvents, GroupsInit, IngestResult, MemberInfo, OutgoingMessage, SealedEnvelope, TimelineEntry } from './index.ts'
import type { GroupState, PendingOp, StoredEntry } from './timeline.ts'
import type { Accepted, ValidationPolicy, Verdict } from './validator.ts'
import type { MessagingIdentity } from '../identity/index.ts'
import type { Logger } from '../node/index.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { PeerId, Startable } from '@libp2p/interface'

const DEFAULT_CHANNEL = 'general'
/** Envelopes of the next epoch kept while its REKEY is on its way, per group */
const MAX_PENDING_EPOCH = 256
/** Envelopes kept for when a first peer subscribes, per topic */
const MAX_OUTBOX = 256

/** The datastore name of an envelope waiting in the outbox */
const outboxId = (envelope: Uint8Array): string => bytesToHex(sha256(envelope))
/** Accepted verdicts waiting for gossipsub's `message` event */
const MAX_ACCEPTED = 4096
/** First repeat of an unanswered JOIN (well after the admin's ROSTER delay); it doubles up to the max */
const JOIN_RETRY_MS = 3000
const JOIN_RETRY_MAX_MS = 48_000
/** How long the admin gathers JOINs before answering them with one ROSTER */
const ROSTER_DELAY_MS = 300
/** Message ids remembered in memory beside the datastore index */
const MAX_RECENT = 65_536

export class DefaultGroups extends TypedEventEmitter<GroupsEvents> implements Groups, Startable {
  private readonly pubsub: GossipSub
  private readonly store: GroupStore
  private readonly identity: MessagingIdentity
  private readonly anonymousPublisher?: (topic: string, envelope: Uint8Array) => Promise<void>
  private readonly log: Logger
  private readonly metrics: GroupsMetrics
  private readonly live: ValidationPolicy
  private readonly history: ValidationPolicy
  private readonly readLimit: number
  private readonly groups = new Map<string, GroupState>()
  private readonly byTopic = new Map<string, string>()
  /** one chain of state changes per group, so concurrent envelopes never race on its state */
  private readonly locks = new Map<string, Promise<void>>()
  /** gossipsub message id (hex) → what its validator accepted, until the `message` event */
  private readonly accepted = new Map<string, Accepted>()
  private readonly pendingEpoch = new Map<string, Uint8Array[]>()
  private readonly outbox = new Map<string, Uint8Array[]>()
  /** `<group>/<message id>` accepted or in flight: catches a replay before the first copy is stored */
  private readonly recent = new Set<string>()
  /** groups joined whose admin has not answered our JOIN yet, with the timer of the next JOIN */
  private readonly joining = new Map<string, ReturnType<typeof setTimeout>>()
  /** groups whose admin (us) will send a ROSTER shortly */
  private readonly rosterTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private started = false

  constructor (components: GroupsComponents, init: GroupsInit = {}) {
    super()
    this.pubsub = components.pubsub
    this.store = new GroupStore(components.datastore)
    this.identity = components.identity
    this.anonymousPublisher = components.anonymousPublisher
    this.log = components.logger.forComponent('groups')
    this.metrics = new GroupsMetrics(components.metricsRegistry)
    const maxEnvelopeBytes = init.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES
    const maxFutureMs = init.maxFutureMs ?? 120_000
    this.live = { maxEnvelopeBytes, maxAgeMs: init.maxAgeMs ?? 600_000, maxFutureMs }
    this.history = { maxEnvelopeBytes, maxAgeMs: init.historyMaxAgeMs ?? 7 * 24 * 3600_000, maxFutureMs }
    this.readLimit = init.readLimit ?? 500
    this.onMessage = this.onMessage.bind(this)
    this.onGraft = this.onGraft.bind(this)
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    for (const state of await this.store.loadGroups()) {
      this.groups.set(state.id, state)
    }
    await this.store.loadPending()
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.addEventListener('gossipsub:graft', this.onGraft)
    for (const state of this.groups.values()) {
      this.follow(state)
    }
    // envelopes that had not gone out when this peer last stopped (or crashed): out now, or when a member subscribes
    const unsent = new Map<string, Uint8Array[]>()
    for (const { id, topic, envelope } of await this.store.loadOutbox()) {
      if (this.byTopic.has(topic)) {
        unsent.set(topic, [...(unsent.get(topic) ?? []), envelope])
      } else {
        await this.store.dropOutbox(id)
      }
    }
    this.metrics.setGroups(this.groups.size)
    this.started = true
    for (const [topic, envelopes] of unsent) {
      void this.flushOutbox(topic, envelopes).catch(err => { this.log.warn({ err }, 'sending the outbox failed') })
    }
    this.log.info({ groups: this.groups.size }, 'groups started')
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.removeEventListener('gossipsub:graft', this.onGraft)
    for (const state of this.groups.values()) {
      this.unfollow(state)
    }
    // let every queued state change reach the datastore before the node closes it
    for (const timer of [...this.joining.values(), ...this.rosterTimers.values()]) {
      clearTimeout(timer)
    }
    this.joining.clear()
    this.rosterTimers.clear()
    await Promise.all([...this.locks.values()])
    this.groups.clear()
    this.accepted.clear()
    this.pendingEpoch.clear()
    this.outbox.clear()
    this.recent.clear()
  }

  // --- the public API ------------------------------------------------------

  async create (name: string, opts: { displayName?: string } = {}): Promise<GroupInfo> {
    this.assertStarted()
    checkName(name, 'The group name')
    const displayName = optionalName(opts.displayName)
    const id = bytesToHex(randomBytes(32))
    const state: GroupState = {
      id,
      name,
      topic: groupTopic(id),
      createdAt: Date.now(),
      epoch: 0,
      keys: { 0: bytesToHex(newEpochKey()) },
      members: [storedMember(this.identity.publicIdentity, displayName, true)],
      removed: [],
      removedSelf: false,
      seq: 0
    }
    await this.store.saveGroup(state)
    this.groups.set(id, state)
    this.follow(state)
    this.metrics.setGroups(this.groups.size)
    this.log.info({ group: id.slice(0, 8) }, 'group created')
    return this.info(state)
  }

  async invite (groupId: string): Promise<string> {
    const state = this.group(groupId)
    const admin = findMember(state, this.identity.id)?.admin === true ? findMember(state, this.identity.id) : state.members.find(m => m.admin)
    if (admin == null) {
      throw new NotGroupAdminError('The group has no admin left to name in an invite')
    }
    return encodeInvite({
      groupId: state.id,
      name: state.name,
      epoch: state.epoch,
      epochKey: hexToBytes(state.keys[String(state.epoch)]),
      admin: memberIdentity(admin),
      adminName: admin.name ?? ''
    })
  }

  async join (code: string, opts: { displayName?: string } = {}): Promise<GroupInfo> {
    this.assertStarted()
    const invite = parseInvite(code)
    const displayName = optionalName(opts.displayName)
    const known = this.groups.get(invite.groupId)
    if (known != null && !known.removedSelf) {
      return this.info(known)
    }
    const admin = storedMember(invite.admin, invite.adminName, true)
    const state: GroupState = {
      id: invite.groupId,
      name: invite.name,
      topic: groupTopic(invite.groupId),
      createdAt: Date.now(),
      epoch: invite.epoch,
      keys: { [invite.epoch]: bytesToHex(invite.epochKey) },
      members: admin.id === this.identity.id ? [admin] : [admin, storedMember(this.identity.publicIdentity, displayName, false)],
      removed: [],
      removedSelf: false,
      seq: 0
    }
    await this.store.saveGroup(state)
    this.groups.set(state.id, state)
    this.follow(state)
    this.metrics.setGroups(this.groups.size)
    // the JOIN tells the members who we are; it waits in the outbox until a member is reachable
    await this.sendBody(state, { type: Body.Type.JOIN, content: displayName ?? '' })
    if (!isAdmin(state, this.identity.id)) {
      this.repeatJoin(state.id, displayName ?? '', JOIN_RETRY_MS)
    }
    this.log.info({ group: state.id.slice(0, 8) }, 'group joined')
    return this.info(state)
  }

  async list (): Promise<GroupInfo[]> {
    return [...this.groups.values()].map(s => this.info(s)).sort((a, b) => a.createdAt - b.createdAt)
  }

  async get (groupId: string): Promise<GroupInfo> {
    return this.info(this.group(groupId))
  }

  async send (groupId: string, content: string, opts: { channel?: string, replyTo?: string, attachments?: Attachment[], anonymous?: boolean } = {}): Promise<TimelineEntry> {
    const state = this.memberGroup(groupId)
    const { anonymous, ...rest } = opts
    const body = messageBody({ type: 'message', content, ...rest })
    const id = anonymous === true ? await this.sendAnonymously(state, body) : await this.sendBody(state, body)
    return this.entryById(state, id)
  }

  async edit (groupId: string, messageId: string, content: string): Promise<void> {
    const state = this.memberGroup(groupId)
    await this.ownEntry(state, messageId)
    await this.sendBody(state, messageBody({ type: 'edit', target: messageId, content }))
  }

  async delete (groupId: string, messageId: string): Promise<void> {
    const state = this.memberGroup(groupId)
    await this.ownEntry(state, messageId)
    await this.sendBody(state, messageBody({ type: 'delete', target: messageId }))
  }

  async react (groupId: string, messageId: string, reaction: string): Promise<void> {
    const state = this.memberGroup(groupId)
    await this.entryById(state, messageId)
    await this.sendBody(state, messageBody({ type: 'react', target: messageId, reaction }))
  }

  async read (groupId: string, opts: { channel?: string, since?: string, limit?: number } = {}): Promise<{ entries: TimelineEntry[], cursor: string }> {
    const state = this.group(groupId)
    if (opts.since != null && opts.since !== '' && !isCursor(opts.since)) {
      throw new InvalidGroupArgumentError('since is a cursor from an earlier read')
    }
    const limit = opts.limit ?? this.readLimit
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidGroupArgumentError('limit is a positive integer')
    }
    let entries = await this.store.entries(state.id)
    if (opts.channel != null) {
      entries = entries.filter(e => e.channel === opts.channel)
    }
    const since = opts.since
    if (since != null && since !== '') {
      // page forward from the cursor
      entries = entries.filter(e => e.cursor > since).slice(0, limit)
    } else {
      // the latest entries
      entries = entries.slice(-limit)
    }
    const cursor = entries.length > 0 ? entries[entries.length - 1].cursor : (since ?? formatCursor(0))
    return { entries: entries.map(e => this.view(e)), cursor }
  }

  async members (groupId: string): Promise<MemberInfo[]> {
    return memberInfos(this.group(groupId), this.identity.id)
  }

  async remove (groupId: string, memberId: string): Promise<void> {
    const state = this.memberGroup(groupId)
    if (!isAdmin(state, this.identity.id)) {
      throw new NotGroupAdminError()
    }
    if (memberId === this.identity.id) {
      throw new InvalidGroupArgumentError('An admin leaves with leave(), not remove()')
    }
    if (findMember(state, memberId) == null) {
      throw new InvalidGroupArgumentError(`${memberId} is not a member of this group`)
    }
    await this.rekey(state, [memberId])
  }

  async leave (groupId: string): Promise<void> {
    const state = this.group(groupId)
    if (!state.removedSelf) {
      await this.sendBody(state, { type: Body.Type.LEAVE }).catch(err => {
        this.log.debug({ err }, 'could not announce leaving')
      })
    }
    this.unfollow(state)
    await this.locked(state.id, async () => {
      this.groups.delete(state.id)
      await this.store.deleteGroup(state.id)
    })
    this.metrics.setGroups(this.groups.size)
  }

  async sealEnvelope (groupId: string, message: OutgoingMessage): Promise<SealedEnvelope> {
    const state = this.memberGroup(groupId)
    const body = messageBody(message)
    const envelope = this.seal(state, body)
    return { topic: state.topic, envelope, messageId: body.id }
  }

  async publishEnvelope (topic: string, envelope: Uint8Array): Promise<void> {
    this.assertStarted()
    if (!(envelope instanceof Uint8Array) || envelope.length > this.live.maxEnvelopeBytes) {
      throw new EnvelopeTooLargeError()
    }
    const groupId = this.byTopic.get(topic)
    const state = groupId != null ? this.groups.get(groupId) : undefined
    if (state == null || state.removedSelf) {
      // not ours: publish as is; with nobody to send to this throws, so an exit does not ack and the sender tries another
      await this.pubsub.publish(topic, envelope)
      this.metrics.publish()
      return
    }
    // gossipsub hands a peer none of its own publishes: an exit that is a member takes the envelope in itself,
    // and refuses what its fellow members would reject
    const verdict = await this.locked(state.id, async () => this.check(state, envelope, this.live))
    if (verdict.result === 'reject') {
      this.count(verdict)
      throw new EnvelopeRejectedError(`The envelope is not valid for this group: ${verdict.reason}`)
    }
    await this.pubsub.publish(topic, envelope)
    this.metrics.publish()
    if (verdict.result === 'accept') {
      // only once published: if publishing failed, the copy another exit publishes is accepted as new
      this.count(verdict)
      await this.locked(state.id, async () => {
        this.recent.add(`${state.id}/${verdict.body.id}`)
        await this.apply(state, verdict)
      })
    }
  }

  async ingestEnvelope (topic: string, envelope: Uint8Array): Promise<IngestResult> {
    const groupId = this.byTopic.get(topic)
    if (groupId == null) {
      throw new GroupNotFoundError(`No group of this peer uses topic ${topic}`)
    }
    return this.locked(groupId, async () => {
      const state = this.groups.get(groupId)
      if (state == null) {
        return { result: 'ignore', reason: 'left' }
      }
      const verdict = await this.check(state, envelope, this.history)
      if ((verdict.result === 'reject' && verdict.reason === 'replayed') || (verdict.result === 'ignore' && verdict.reason === 'own')) {
        // history overlaps what came live: not an attack
        return { result: 'ignore', reason: 'duplicate' }
      }
      this.count(verdict)
      if (verdict.result === 'accept') {
        await this.apply(state, verdict)
        return { result: 'accept' }
      }
      if (verdict.result === 'ignore' && verdict.reason === 'pending_epoch') {
        this.keepForNextEpoch(state.id, envelope)
      }
      return { result: verdict.result, reason: verdict.reason }
    })
  }

  /**
   * Sends the JOIN again until an admin's ROSTER answers: right after a
   * connection, gossipsub may know a member's subscription before its own
   * stream to that member is open, and the first JOIN goes nowhere.
   */
  private repeatJoin (groupId: string, displayName: string, delayMs: number): void {
    if (delayMs > JOIN_RETRY_MAX_MS) {
      this.joining.delete(groupId)
      return
    }
    this.joining.set(groupId, setTimeout(() => {
      const state = this.groups.get(groupId)
      if (!this.started || state == null || state.removedSelf || !this.joining.has(groupId)) {
        return
      }
      this.sendBody(state, { type: Body.Type.JOIN, content: displayName })
        .catch(err => { this.log.debug({ err }, 'repeating a JOIN failed') })
      this.repeatJoin(groupId, displayName, delayMs * 2)
    }, delayMs))
  }

  // --- gossipsub ------------------------------------------------------------

  /** Subscribes to a group's topic with its validator */
  private follow (state: GroupState): void {
    this.byTopic.set(state.topic, state.id)
    if (state.removedSelf) {
      return
    }
    this.pubsub.topicValidators.set(state.topic, async (peer, msg) => this.validate(peer, msg))
    const scoring = scoreParams(this.pubsub)
    if (scoring != null) {
      scoring.topics[state.topic] = GROUP_TOPIC_SCORE
    }
    this.pubsub.subscribe(state.topic)
  }

  private unfollow (state: GroupState): void {
    this.pubsub.topicValidators.delete(state.topic)
    const scoring = scoreParams(this.pubsub)
    if (scoring != null) {
      delete scoring.topics[state.topic]
    }
    if (this.pubsub.getTopics().includes(state.topic)) {
      this.pubsub.unsubscribe(state.topic)
    }
    this.outbox.delete(state.topic)
  }

  private async validate (_peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const groupId = this.byTopic.get(msg.topic)
    const state = groupId != null ? this.groups.get(groupId) : undefined
    if (state == null) {
      return TopicValidatorResult.Ignore
    }
    let verdict: Verdict
    try {
      verdict = await this.check(state, msg.data, this.live)
    } catch (err: any) {
      // a failing datastore is ours, not the forwarder's
      this.log.warn({ err }, 'envelope validation failed')
      return TopicValidatorResult.Ignore
    }
    this.count(verdict)
    if (verdict.result === 'accept') {
      this.recent.add(`${state.id}/${verdict.body.id}`)
      if (this.accepted.size >= MAX_ACCEPTED) {
        this.accepted.delete(this.accepted.keys().next().value as string)
      }
      this.accepted.set(bytesToHex(sha256(msg.data)), verdict)
      return TopicValidatorResult.Accept
    }
    if (verdict.result === 'ignore') {
      if (verdict.reason === 'pending_epoch') {
        this.keepForNextEpoch(state.id, msg.data)
      }
      return TopicValidatorResult.Ignore
    }
    this.log.debug({ group: state.id.slice(0, 8), reason: verdict.reason, detail: verdict.detail }, 'envelope rejected')
    return TopicValidatorResult.Reject
  }

  private onMessage (evt: CustomEvent<Message>): void {
    const groupId = this.byTopic.get(evt.detail.topic)
    if (groupId == null) {
      return
    }
    const key = bytesToHex(sha256(evt.detail.data))
    const verdict = this.accepted.get(key)
    this.accepted.delete(key)
    if (verdict == null) {
      return
    }
    void this.locked(groupId, async () => {
      const state = this.groups.get(groupId)
      if (state != null) {
        await this.apply(state, verdict)
      }
    }).catch(err => {
      this.log.warn({ err }, 'applying an envelope failed')
    })
  }

  /**
   * The outbox goes out when a member joins our mesh on the topic, not when
   * its subscription arrives: at that moment gossipsub may not have its
   * stream to the member yet, and a publish then reaches nobody without an
   * error (and gossipsub refuses the same bytes again as a duplicate)
   */
  private onGraft (evt: CustomEvent<{ topic: string }>): void {
    const topic = evt.detail.topic
    if (this.outbox.has(topic)) {
      const waiting = this.outbox.get(topic) ?? []
      this.outbox.delete(topic)
      void this.flushOutbox(topic, waiting).catch(err => { this.log.warn({ err }, 'sending the outbox failed') })
    }
  }

  /** Sends what waited for a subscriber; what still finds none waits again */
  private async flushOutbox (topic: string, waiting: Uint8Array[]): Promise<void> {
    for (const envelope of waiting) {
      // dropped only once it went out: a crash in between sends it again, which members take as a duplicate
      if (await this.publish(topic, envelope)) {
        await this.store.dropOutbox(outboxId(envelope))
      }
    }
  }

  /** Publishes, or keeps the envelope for the first subscriber; true when it went out */
  private async publish (topic: string, envelope: Uint8Array): Promise<boolean> {
    try {
      await this.pubsub.publish(topic, envelope)
      this.metrics.publish()
      return true
    } catch (err: any) {
      if (err?.message !== 'PublishError.NoPeersSubscribedToTopic') {
        throw err
      }
      // nobody to send to yet: send when the first peer subscribes; kept in the
      // datastore too, since the sender's timeline already shows it as sent
      const waiting = this.outbox.get(topic) ?? []
      if (waiting.length < MAX_OUTBOX) {
        waiting.push(envelope)
        await this.store.saveOutbox(topic, outboxId(envelope), envelope)
      }
      this.outbox.set(topic, waiting)
      return false
    }
  }

  // --- validation and the timeline -------------------------------------------

  private async check (state: GroupState, bytes: Uint8Array, policy: ValidationPolicy): Promise<Verdict> {
    return validateEnvelope({
      bytes,
      state,
      selfId: this.identity.id,
      now: Date.now(),
      policy,
      seen: async (_author, id) => this.recent.has(`${state.id}/${id}`) || (await this.store.getId(state.id, id)) != null
    })
  }

  private count (verdict: Verdict): void {
    this.metrics.envelope(verdict.result, verdict.result === 'accept' ? 'ok' : verdict.reason)
  }

  private keepForNextEpoch (groupId: string, envelope: Uint8Array): void {
    const waiting = this.pendingEpoch.get(groupId) ?? []
    if (waiting.length < MAX_PENDING_EPOCH) {
      waiting.push(envelope)
    }
    this.pendingEpoch.set(groupId, waiting)
  }

  private remember (groupId: string, id: string): void {
    if (this.recent.size >= MAX_RECENT) {
      this.recent.clear()
    }
    this.recent.add(`${groupId}/${id}`)
  }

  /** Applies an accepted envelope to the group's state and timeline; runs under the group's lock */
  private async apply (state: GroupState, accepted: Accepted): Promise<void> {
    const { body, senderId, sender, envelope } = accepted
    if ((await this.store.getId(state.id, body.id)) != null) {
      return
    }
    this.remember(state.id, body.id)
    let membership = false
    // whoever holds the current key is a member
    if (envelope.epoch === state.epoch && findMember(state, senderId) == null) {
      membership = upsertMember(state, storedMember(sender, body.type === Body.Type.JOIN ? body.content : undefined, false)) || membership
    }
    const timestamp = Number(body.timestamp)
    let afterwards: (() => Promise<void>) | undefined
    switch (body.type) {
      case Body.Type.MESSAGE: {
        state.seq++
        const entry: StoredEntry = {
          id: body.id,
          groupId: state.id,
          channel: body.channel,
          author: senderId,
          timestamp,
          content: body.content,
          ...(body.replyTo != null ? { replyTo: body.replyTo } : {}),
          attachments: body.attachments.map(a => ({ name: a.name, type: a.type, size: Number(a.size), hash: bytesToHex(a.hash) })),
          edited: false,
          deleted: false,
          reactions: {},
          cursor: formatCursor(state.seq)
        }
        for (const op of await this.store.takePending(state.id, body.id)) {
          this.applyOp(entry, op)
        }
        await this.store.saveGroup(state)
        await this.store.putEntry(entry)
        await this.store.putId(state.id, body.id, entry.cursor)
        this.safeDispatch('message', { groupId: state.id, entry: this.view(entry) })
        break
      }
      case Body.Type.EDIT:
      case Body.Type.DELETE:
      case Body.Type.REACT: {
        const op: PendingOp = { id: body.id, type: body.type, author: senderId, timestamp, content: body.content }
        const target = body.target ?? ''
        const cursor = await this.store.getId(state.id, target)
        if (cursor == null || cursor === '-') {
          // its message has not arrived yet
          await this.store.putPending(state.id, target, op)
        } else {
          const entry = await this.store.getEntry(state.id, cursor)
          if (entry != null && this.applyOp(entry, op)) {
            await this.store.putEntry(entry)
            this.safeDispatch('update', { groupId: state.id, entry: this.view(entry) })
          }
        }
        await this.store.putId(state.id, body.id, '-')
        break
      }
      case Body.Type.JOIN:
        membership = upsertMember(state, storedMember(sender, body.content, findMember(state, senderId)?.admin ?? false)) || membership
        if (senderId !== this.identity.id && isAdmin(state, this.identity.id)) {
          // tell the newcomer who else is here
          this.scheduleRoster(state.id)
        }
        await this.store.putId(state.id, body.id, '-')
        break
      case Body.Type.LEAVE:
        if (findMember(state, senderId) != null && senderId !== this.identity.id) {
          if (isAdmin(state, this.identity.id)) {
            // the leaver still holds the key: rotate it
            afterwards = async () => {
              const current = this.groups.get(state.id)
              if (current != null && findMember(current, senderId) != null) {
                await this.rekey(current, [senderId])
              }
            }
          } else {
            membership = removeMembers(state, [senderId]) || membership
          }
        }
        await this.store.putId(state.id, body.id, '-')
        break
      case Body.Type.ROSTER:
        if (isAdmin(state, senderId)) {
          const mine = encodePublicIdentity(this.identity.publicIdentity)
          if (body.members.some(m => equalBytes(m.identity, mine))) {
            // the admin knows us: no more JOINs
            clearTimeout(this.joining.get(state.id))
            this.joining.delete(state.id)
          }
          for (const m of body.members) {
            try {
              membership = upsertMember(state, storedMember(decodePublicIdentity(m.identity), m.name, m.admin)) || membership
            } catch {
              this.metrics.ignoredOperation('bad_roster_member')
            }
          }
        } else {
          this.metrics.ignoredOperation('roster_not_admin')
        }
        await this.store.putId(state.id, body.id, '-')
        break
      case Body.Type.REKEY:
        await this.store.putId(state.id, body.id, '-')
        if (!isAdmin(state, senderId)) {
          this.metrics.ignoredOperation('rekey_not_admin')
          break
        }
        membership = (await this.applyRekey(state, body)) || membership
        if (!state.removedSelf) {
          afterwards = async () => { await this.replayNextEpoch(state.id) }
        }
        break
      default:
        break
    }
    if (membership || body.type !== Body.Type.MESSAGE) {
      // a MESSAGE saved the state (its cursor) already
      await this.store.saveGroup(state)
    }
    if (membership) {
      this.safeDispatch('membership', { groupId: state.id, members: memberInfos(state, this.identity.id) })
    }
    if (afterwards != null) {
      // after this lock is released: these take the lock themselves
      const run = afterwards
      setTimeout(() => { run().catch(err => { this.log.warn({ err }, 'membership follow-up failed') }) }, 0)
    }
  }

  /** Applies an edit, delete or reaction to its entry; answers whether it changed */
  private applyOp (entry: StoredEntry, op: PendingOp): boolean {
    if (op.type === 'REACT') {
      const who = entry.reactions[op.content] ?? []
      if (who.includes(op.author)) {
        return false
      }
      entry.reactions[op.content] = [...who, op.author]
      return true
    }
    if (op.author !== entry.author) {
      this.metrics.ignoredOperation('not_author')
      this.log.debug({ message: entry.id }, 'edit or delete from a non-author ignored')
      return false
    }
    if (entry.deleted) {
      return false
    }
    if (op.type === 'EDIT') {
      entry.content = op.content
      entry.edited = true
    } else {
      entry.deleted = true
      entry.content = ''
      entry.attachments = []
    }
    return true
  }

  private async applyRekey (state: GroupState, body: Body): Promise<boolean> {
    const newEpoch = Number(body.newEpoch)
    if (body.removed.includes(this.identity.id)) {
      // we are out: keep the history, stop following the topic
      state.removedSelf = true
      removeMembers(state, body.removed)
      this.unfollow(state)
      this.log.info({ group: state.id.slice(0, 8) }, 'removed from the group')
      return true
    }
    const mine = body.keys.find(k => k.member === this.identity.id)
    if (mine == null || newEpoch <= state.epoch) {
      this.metrics.ignoredOperation('rekey_not_for_us')
      return false
    }
    try {
      state.keys[String(newEpoch)] = bytesToHex(openEpochKey(this.identity, mine.box, state.id, newEpoch))
    } catch {
      this.metrics.ignoredOperation('rekey_box')
      return false
    }
    state.epoch = newEpoch
    removeMembers(state, body.removed)
    for (const m of body.members) {
      try {
        upsertMember(state, storedMember(decodePublicIdentity(m.identity), m.name, m.admin))
      } catch {
        this.metrics.ignoredOperation('bad_roster_member')
      }
    }
    return true
  }

  private async replayNextEpoch (groupId: string): Promise<void> {
    const waiting = this.pendingEpoch.get(groupId) ?? []
    this.pendingEpoch.delete(groupId)
    const state = this.groups.get(groupId)
    if (state == null) {
      return
    }
    for (const envelope of waiting) {
      await this.locked(groupId, async () => {
        const verdict = await this.check(state, envelope, this.live)
        if (verdict.result === 'accept') {
          this.count(verdict)
          await this.apply(state, verdict)
        } else if (verdict.result === 'ignore' && verdict.reason === 'pending_epoch') {
          this.keepForNextEpoch(groupId, envelope)
        }
      })
    }
  }

  // --- sending ----------------------------------------------------------------

  private seal (state: GroupState, body: Body): Uint8Array {
    const envelope = sealBody(this.identity, state.id, state.epoch, hexToBytes(state.keys[String(state.epoch)]), body)
    if (envelope.length > this.live.maxEnvelopeBytes) {
      throw new EnvelopeTooLargeError(`The envelope would be ${envelope.length} bytes, over the ${this.live.maxEnvelopeBytes}-byte limit`)
    }
    return envelope
  }

  /** Seals a body, applies it to our own state first (so it is in the timeline when this returns), publishes it */
  private async sendBody (state: GroupState, partial: Partial<Body> | (() => Partial<Body>)): Promise<string> {
    let body: Body | undefined
    const envelope = await this.locked(state.id, async () => {
      // a builder runs under the lock, so it sees the epoch the body is sealed with
      body = completeBody(typeof partial === 'function' ? partial() : partial)
      const bytes = this.seal(state, body)
      await this.apply(state, {
        result: 'accept',
        envelope: decodeEnvelope(bytes, this.live.maxEnvelopeBytes),
        sender: this.identity.publicIdentity,
        senderId: this.identity.id,
        body
      })
      return bytes
    })
    await this.publish(state.topic, envelope)
    return (body as Body).id
  }

  /**
   * Seals a body and has an onion exit publish it, so the envelope enters the
   * topic at the exit, not here; it enters our timeline once an exit took it.
   * It is marked seen first, so the copy gossip brings back is ours, not new.
   */
  private async sendAnonymously (state: GroupState, body: Body): Promise<string> {
    if (this.anonymousPublisher == null) {
      throw new AnonymousPublishUnavailableError()
    }
    const seen = `${state.id}/${body.id}`
    const bytes = await this.locked(state.id, async () => {
      this.recent.add(seen)
      return this.seal(state, body)
    })
    try {
      await this.anonymousPublisher(state.topic, bytes)
    } catch (err) {
      this.recent.delete(seen)
      throw err
    }
    await this.locked(state.id, async () => {
      await this.apply(state, {
        result: 'accept',
        envelope: decodeEnvelope(bytes, this.live.maxEnvelopeBytes),
        sender: this.identity.publicIdentity,
        senderId: this.identity.id,
        body
      })
    })
    this.metrics.publish()
    return body.id
  }

  /**
   * One ROSTER answers every JOIN of a short window: when many join at once
   * (a group created for a team), a ROSTER per JOIN would be a storm that
   * every member must decrypt and verify.
   */
  private scheduleRoster (groupId: string): void {
    if (this.rosterTimers.has(groupId)) {
      return
    }
    this.rosterTimers.set(groupId, setTimeout(() => {
      this.rosterTimers.delete(groupId)
      if (this.started) {
        this.sendRoster(groupId).catch(err => { this.log.debug({ err }, 'sending a roster failed') })
      }
    }, ROSTER_DELAY_MS))
  }

  private async sendRoster (groupId: string): Promise<void> {
    const state = this.groups.get(groupId)
    if (state == null || state.removedSelf) {
      return
    }
    await this.sendBody(state, () => ({
      type: Body.Type.ROSTER,
      members: state.members.map(m => ({ identity: encodePublicIdentity(memberIdentity(m)), name: m.name ?? '', admin: m.admin }))
    }))
  }

  /** Draws a new epoch key for everyone but `removed`, sealed to each, sent under the current epoch */
  private async rekey (state: GroupState, removed: string[]): Promise<void> {
    const key = newEpochKey()
    let newEpoch = 0
    await this.sendBody(state, () => {
      // under the lock: two removals in a row make two epochs, never two keys for one
      newEpoch = state.epoch + 1
      const remaining = state.members.filter(m => !removed.includes(m.id))
      return {
        type: Body.Type.REKEY,
        newEpoch: BigInt(newEpoch),
        keys: remaining.map(m => ({ member: m.id, box: sealEpochKey(memberIdentity(m).dhKey, key, state.id, newEpoch) })),
        removed,
        members: remaining.map(m => ({ identity: encodePublicIdentity(memberIdentity(m)), name: m.name ?? '', admin: m.admin }))
      }
    })
    key.fill(0)
    this.log.info({ group: state.id.slice(0, 8), epoch: newEpoch, removed: removed.length }, 'group key rotated')
  }

  // --- helpers -----------------------------------------------------------------

  private async locked<T> (groupId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(groupId) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const tail = run.then(() => {}, () => {})
    this.locks.set(groupId, tail)
    void tail.then(() => {
      if (this.locks.get(groupId) === tail) {
        this.locks.delete(groupId)
      }
    })
    return run
  }

  private safeDispatch<K extends keyof GroupsEvents> (type: K, detail: GroupsEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail })
    } catch (err) {
      this.log.warn({ err }, 'a groups event listener threw')
    }
  }

  private assertStarted (): void {
    if (!this.started) {
      throw new GroupsNotStartedError()
    }
  }

  private group (groupId: string): GroupState {
    this.assertStarted()
    const state = typeof groupId === 'string' ? this.groups.get(groupId) : undefined
    if (state == null) {
      throw new GroupNotFoundError(`No group ${String(groupId)}`)
    }
    return state
  }

  /** A group this peer may still write to */
  private memberGroup (groupId: string): GroupState {
    const state = this.group(groupId)
    if (state.removedSelf) {
      throw new NotGroupAdminError('This peer was removed from the group')
    }
    return state
  }

  private async entryById (state: GroupState, messageId: string): Promise<TimelineEntry> {
    if (typeof messageId !== 'string' || !MESSAGE_ID_PATTERN.test(messageId)) {
      throw new InvalidGroupArgumentError('A message id is 32 hex characters')
    }
    const cursor = await this.store.getId(state.id, messageId)
    const entry = cursor != null && cursor !== '-' ? await this.store.getEntry(state.id, cursor) : undefined
    if (entry == null) {
      throw new MessageNotFoundError(`No message ${messageId} in this group`)
    }
    return this.view(entry)
  }

  private async ownEntry (state: GroupState, messageId: string): Promise<TimelineEntry> {
    const entry = await this.entryById(state, messageId)
    if (entry.author !== this.identity.id) {
      throw new NotMessageAuthorError()
    }
    return entry
  }

  private view (entry: StoredEntry): TimelineEntry {
    return { ...entry, self: entry.author === this.identity.id }
  }

  private info (state: GroupState): GroupInfo {
    return {
      id: state.id,
      name: state.name,
      topic: state.topic,
      epoch: state.epoch,
      admin: isAdmin(state, this.identity.id),
      members: memberInfos(state, this.identity.id),
      createdAt: state.createdAt
    }
  }
}

/**
 * Scoring of a group topic: only invalid deliveries count (P4 of the
 * gossipsub v1.1 spec), so a peer that forwards envelopes our validator
 * REJECTs loses score, while a quiet group (few messages, the common case)
 * never punishes its honest members for delivering little.
 */
const GROUP_TOPIC_SCORE = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  // about a minute to forget most of it (one decay step per second)
  invalidMessageDeliveriesDecay: 0.95
})

/** gossipsub keeps its score parameters on the service; the interface does not show them */
function scoreParams (pubsub: GossipSub): { topics: Record<string, unknown> } | undefined {
  return (pubsub as unknown as { score?: { params?: { topics: Record<string, unknown> } } }).score?.params
}

function checkName (name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_CHARS) {
    throw new InvalidGroupArgumentError(`${what} is 1 to ${MAX_NAME_CHARS} characters`)
  }
}

function optionalName (name: unknown): string | undefined {
  if (name == null || name === '') {
    return undefined
  }
  checkName(name, 'The display name')
  return name
}

function checkId (id: unknown, what: string): string {
  if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) {
    throw new InvalidGroupArgumentError(`${what} is a message id (32 hex characters)`)
  }
  return id
}

/** Checks what a caller asked to send and turns it into a body */
function messageBody (message: OutgoingMessage): Body {
  switch (message.type) {
    case 'message': {
      const channel = message.channel ?? DEFAULT_CHANNEL
      if (typeof channel !== 'string' || channel === '' || channel.length > MAX_CHANNEL_CHARS) {
        throw new InvalidGroupArgumentError(`A channel is 1 to ${MAX_CHANNEL_CHARS} characters`)
      }
      const attachments = message.attachments ?? []
      if (typeof message.content !== 'string' || (message.content === '' && attachments.length === 0)) {
        throw new InvalidGroupArgumentError('A message has content or attachments')
      }
      if (!Array.isArray(attachments) || attachments.length > MAX_ATTACHMENTS) {
        throw new InvalidGroupArgumentError(`At most ${MAX_ATTACHMENTS} attachments`)
      }
      return completeBody({
        type: Body.Type.MESSAGE,
        channel,
        content: message.content,
        ...(message.replyTo != null ? { replyTo: checkId(message.replyTo, 'replyTo') } : {}),
        attachments: attachments.map(a => {
          if (typeof a?.name !== 'string' || typeof a.type !== 'string' || !Number.isSafeInteger(a.size) || a.size < 0 ||
            typeof a.hash !== 'string' || !/^[0-9a-f]{64}$/.test(a.hash) || a.name.length > 256 || a.type.length > 128) {
            throw new InvalidGroupArgumentError('An attachment is { name, type, size, hash: hex sha-256 }')
          }
          return { name: a.name, type: a.type, size: BigInt(a.size), hash: hexToBytes(a.hash) }
        })
      })
    }
    case 'edit':
      if (typeof message.content !== 'string' || message.content === '') {
        throw new InvalidGroupArgumentError('An edit has content')
      }
      return completeBody({ type: Body.Type.EDIT, target: checkId(message.target, 'The edited message'), content: message.content })
    case 'delete':
      return completeBody({ type: Body.Type.DELETE, target: checkId(message.target, 'The deleted message') })
    case 'react':
      if (typeof message.reaction !== 'string' || message.reaction === '' || message.reaction.length > MAX_REACTION_CHARS) {
        throw new InvalidGroupArgumentError(`A reaction is 1 to ${MAX_REACTION_CHARS} characters`)
      }
      return completeBody({ type: Body.Type.REACT, target: checkId(message.target, 'The message reacted to'), content: message.reaction })
    default:
      throw new InvalidGroupArgumentError('Unknown message type')
  }
}
