import fc from 'fast-check'
import { encodeCard } from '../../../src/contacts/index.ts'
import { contactsRoutes } from '../../../src/daemon/api/routes/contacts.ts'
import { groupRoutes } from '../../../src/daemon/api/routes/groups.ts'
import { onionRoutes } from '../../../src/daemon/api/routes/onion.ts'
import { storeRoutes } from '../../../src/daemon/api/routes/store.ts'
import { ControlApi } from '../../../src/daemon/api/server.ts'
import { MessagingIdentity } from '../../../src/identity/index.ts'
import { silentLogger } from '../../../src/node/index.ts'
import { loopbackPeer } from '../../fixtures/nodes.ts'
import { FuzzFinding } from '../registry.ts'
import type { Murmur } from '../../../src/app/index.ts'
import type { FuzzTarget } from '../registry.ts'

const TOKEN = 'fuzz-token'
/** Statuses the layer routes map their errors to; a 500 (an error no route expected) is a finding */
const STATUSES = new Set([200, 400, 403, 404, 405, 413, 429, 502, 503, 504, 507])
/**
 * Routes of the table not fuzzed, and why. Every other route the layers
 * register is (the list is the route table itself, so a new route is fuzzed
 * the day it is added).
 */
export const NOT_FUZZED: Record<string, string> = {
  'POST /v1/groups/:id/leave': 'it would end the one group the other routes work on',
  'GET /v1/events': 'a live event stream (the server\'s own route, covered by the control API tests), not a request with a body'
}
const FIELDS = ['name', 'displayName', 'invite', 'to', 'from', 'content', 'channel', 'replyTo', 'reaction', 'card', 'mailbox', 'seed', 'topic', 'text', 'payload', 'peerId', 'ids', 'ttl', 'limit']

/**
 * The control API's layer routes (groups, contacts, onion, store) on one whole
 * Murmur on loopback: any method, route and JSON body answers a mapped status
 * and a JSON error, never a 500, and the peer keeps serving. It has no other
 * peer, so nothing leaves 127.0.0.1. Leaving the group is not fuzzed: it
 * would end the one group the other routes work on (NOT_FUZZED).
 */
export function layerApiTarget (): FuzzTarget {
  let murmur: Murmur | undefined
  let api: ControlApi | undefined
  let url = ''
  let routes: string[] = []
  // real values the fuzzer mixes into paths and bodies, so that the routes get past "not found"
  const real = { groupId: '', messageId: '', invite: '', card: '', identity: '' }
  const value = (): fc.Arbitrary<unknown> => fc.oneof(
    { arbitrary: fc.constantFrom(...Object.values(real)), weight: 3 },
    { arbitrary: fc.string({ maxLength: 80 }), weight: 2 },
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b => Buffer.from(b).toString('hex')),
    fc.integer(),
    fc.constantFrom(null, true, [], {}, 'x'.repeat(70_000)),
    fc.jsonValue({ maxDepth: 2 })
  )
  return {
    name: 'control API: layer routes (groups, contacts, onion, store) and bodies',
    ciRuns: 60,
    setup: async () => {
      murmur = await loopbackPeer({ logger: silentLogger() })
      const group = await murmur.groups.create('fuzz')
      real.groupId = group.id
      real.messageId = (await murmur.groups.send(group.id, 'hello')).id
      real.invite = await murmur.groups.invite(group.id)
      real.card = encodeCard({ identity: MessagingIdentity.generate().publicIdentity, mailbox: new Uint8Array(32).fill(7), peers: [] })
      real.identity = murmur.identity.id
      api = new ControlApi({ token: TOKEN, logger: silentLogger().forComponent('fuzz') })
      api.addRoutes(contactsRoutes(murmur))
      api.addRoutes(onionRoutes(murmur.onion, murmur.directory))
      api.addRoutes(storeRoutes(murmur.store))
      api.addRoutes(groupRoutes(murmur.groups, murmur.contacts))
      routes = api.routeTable().map(r => `${r.method} ${r.path}`).filter(r => NOT_FUZZED[r] == null)
      url = (await api.listen('127.0.0.1', 0)).url
    },
    teardown: async () => {
      await api?.close()
      await murmur?.stop()
    },
    get arbitrary () {
      const param = fc.oneof({ arbitrary: fc.constantFrom(real.groupId, real.messageId, real.identity, 'x'), weight: 3 }, fc.string({ minLength: 1, maxLength: 40 }))
      return fc.record({
        route: fc.constantFrom(...routes),
        // mostly the route's own method: a wrong one only reaches the router's 405
        otherMethod: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), weight: 1 }),
        params: fc.tuple(param, param, param),
        query: fc.option(fc.webQueryParameters(), { nil: undefined }),
        body: fc.oneof(
          // each field a route reads, present or not, with a real value, a near one or a wrong type
          { arbitrary: fc.record(Object.fromEntries(FIELDS.map(f => [f, value()])), { requiredKeys: [] }).map(v => JSON.stringify(v)), weight: 4 },
          fc.dictionary(fc.string({ maxLength: 10 }), value(), { maxKeys: 3 }).map(v => JSON.stringify(v)),
          fc.string({ maxLength: 100 }),
          fc.constant('')
        )
      })
    },
    check: async ({ route, otherMethod, params, query, body }) => {
      const [routeMethod, template] = route.split(' ')
      const method = otherMethod ?? routeMethod
      let i = 0
      const path = template.replace(/:[a-zA-Z]+/g, () => encodeURIComponent(params[i++]))
      const res = await fetch(`${url}${path}${query != null ? `?${query}` : ''}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: method === 'GET' ? undefined : body,
        signal: AbortSignal.timeout(40_000)
      })
      const text = await res.text()
      const what = `${method} ${path} ${body.slice(0, 200)}`
      if (!STATUSES.has(res.status)) {
        throw new FuzzFinding(`${what} answered ${res.status}: ${text.slice(0, 300)}`)
      }
      const json = JSON.parse(text)
      if (res.status !== 200 && (typeof json?.error?.code !== 'string' || typeof json?.error?.message !== 'string')) {
        throw new FuzzFinding(`${what} answered ${res.status} without a JSON error: ${text.slice(0, 300)}`)
      }
    }
  }
}
