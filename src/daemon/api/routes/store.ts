import { generateMailboxKey, mailboxName } from '../../../store/index.ts'
import { HttpError, stringField } from '../server.ts'
import type { Store, StoredMessage } from '../../../store/index.ts'
import type { Route } from '../server.ts'

const HEX = /^[0-9a-f]*$/i

function hexField (body: unknown, field: string, length?: number): Uint8Array {
  const value = stringField(body, field)
  if (!HEX.test(value) || value.length % 2 !== 0 || (length != null && value.length !== length * 2)) {
    throw new HttpError(400, 'BadRequest', `"${field}" must be ${length != null ? `${length} bytes of ` : ''}hex`)
  }
  return Uint8Array.from(Buffer.from(value, 'hex'))
}

/** A payload as UTF-8 text (`text`) or base64 (`payload`) */
function payloadOf (body: unknown): Uint8Array {
  const b = body as Record<string, unknown>
  if (typeof b?.text === 'string' && b.text !== '') {
    return new TextEncoder().encode(b.text)
  }
  return Uint8Array.from(Buffer.from(stringField(body, 'payload'), 'base64'))
}

function toJson (m: StoredMessage): Record<string, unknown> {
  return { id: m.id, payload: Buffer.from(m.payload).toString('base64'), timestamp: m.timestamp, expires: m.expires, cursor: m.cursor }
}

/**
 * The store layer on the control API: the store node's status, and deposit /
 * fetch / ack so that the CLI and tests can drive mailboxes. Fetch and ack take
 * the mailbox key's seed: the control API is the user's own, on loopback.
 */
export function storeRoutes (store: Store): Route[] {
  return [{
    method: 'GET',
    path: '/v1/store/status',
    handler: async () => {
      const status = store.status()
      return status == null ? { serving: false } : { serving: true, ...status }
    }
  }, {
    method: 'POST',
    path: '/v1/store/keys',
    handler: async () => {
      const key = generateMailboxKey()
      return { seed: Buffer.from(key.seed).toString('hex'), publicKey: Buffer.from(key.publicKey).toString('hex'), mailbox: Buffer.from(mailboxName(key.publicKey)).toString('hex') }
    }
  }, {
    method: 'POST',
    path: '/v1/store/deposit',
    handler: async ({ body, signal }) => {
      const b = await body()
      const mailbox = hexField(b, 'mailbox', 32)
      const ttl = (b as Record<string, unknown>).ttlMs
      if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0)) {
        throw new HttpError(400, 'BadRequest', '"ttlMs" must be a positive integer')
      }
      return store.deposit(mailbox, payloadOf(b), { ttlMs: ttl, signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
    }
  }, {
    method: 'POST',
    path: '/v1/store/fetch',
    handler: async ({ body, signal }) => {
      const b = await body()
      const key = generateMailboxKey(hexField(b, 'seed', 32))
      const limit = (b as Record<string, unknown>).limit
      const messages = await store.fetch(key, { limit: typeof limit === 'number' ? limit : undefined, signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]) })
      return { mailbox: Buffer.from(mailboxName(key.publicKey)).toString('hex'), messages: messages.map(toJson) }
    }
  }, {
    method: 'POST',
    path: '/v1/store/ack',
    handler: async ({ body, signal }) => {
      const b = await body()
      const key = generateMailboxKey(hexField(b, 'seed', 32))
      const ids = (b as Record<string, unknown>).ids
      if (!Array.isArray(ids) || ids.some(id => typeof id !== 'string' || !/^[0-9a-f]{64}$/i.test(id))) {
        throw new HttpError(400, 'BadRequest', '"ids" must be a list of 64-character hex message ids')
      }
      return store.ack(key, ids, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
    }
  }, {
    method: 'POST',
    path: '/v1/store/follow',
    handler: async ({ body }) => {
      const topic = stringField(await body(), 'topic')
      await store.followTopic(topic)
      return { following: topic }
    }
  }, {
    method: 'GET',
    path: '/v1/store/history',
    handler: async ({ url, signal }) => {
      const topic = url.searchParams.get('topic')
      if (topic == null || topic === '') {
        throw new HttpError(400, 'BadRequest', 'The query must name a topic')
      }
      const since = url.searchParams.get('since') ?? undefined
      const page = await store.history(topic, { since: since != null && /^\d+$/.test(since) ? Number(since) : since, signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
      return { cursor: page.cursor, envelopes: page.envelopes.map(toJson) }
    }
  }]
}
