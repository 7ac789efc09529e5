import { bytesToHex } from '@noble/hashes/utils.js'
import { HttpError, stringField } from '../server.ts'
import type { Murmur } from '../../../app/index.ts'
import type { Route } from '../server.ts'

function optionalString (body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (value == null) {
    return undefined
  }
  if (typeof value !== 'string') {
    throw new HttpError(400, 'BadRequest', `"${field}" must be a string`)
  }
  return value
}

/** The messaging identity (public part only) and contacts / 1:1 messages */
export function contactsRoutes (murmur: Pick<Murmur, 'identity' | 'contacts'>): Route[] {
  const { contacts, identity } = murmur
  return [{
    method: 'GET',
    path: '/v1/identity',
    handler: async () => ({
      id: identity.id,
      signingKey: bytesToHex(identity.publicIdentity.signingKey),
      dhKey: bytesToHex(identity.publicIdentity.dhKey)
    })
  }, {
    // POST: every card names a mailbox minted for it
    method: 'POST',
    path: '/v1/contacts/card',
    handler: async () => ({ card: await contacts.card() })
  }, {
    method: 'GET',
    path: '/v1/contacts',
    handler: async () => ({ contacts: await contacts.list() })
  }, {
    method: 'POST',
    path: '/v1/contacts',
    handler: async ({ body }) => {
      const b = await body()
      return contacts.add(stringField(b, 'card'), { name: optionalString(b, 'name') })
    }
  }, {
    method: 'GET',
    path: '/v1/contacts/:ref',
    handler: async ({ params }) => contacts.get(params.ref)
  }, {
    method: 'POST',
    path: '/v1/contacts/:ref/messages',
    handler: async ({ params, body }) => {
      const b = await body()
      return contacts.send(params.ref, stringField(b, 'content'), { replyTo: optionalString(b, 'replyTo') })
    }
  }, {
    // for `group invite --to <contact>`: the code from groups.invite() through the 1:1 session
    method: 'POST',
    path: '/v1/contacts/:ref/invites',
    handler: async ({ params, body }) => contacts.sendInvite(params.ref, stringField(await body(), 'invite'))
  }, {
    method: 'POST',
    path: '/v1/contacts/:ref/messages/:id/edit',
    handler: async ({ params, body }) => contacts.edit(params.ref, params.id, stringField(await body(), 'content'))
  }, {
    method: 'POST',
    path: '/v1/contacts/:ref/messages/:id/delete',
    handler: async ({ params }) => contacts.delete(params.ref, params.id)
  }, {
    method: 'POST',
    path: '/v1/contacts/:ref/messages/:id/react',
    handler: async ({ params, body }) => contacts.react(params.ref, params.id, stringField(await body(), 'reaction'))
  }, {
    method: 'GET',
    path: '/v1/inbox',
    handler: async ({ url }) => {
      const limitText = url.searchParams.get('limit')
      const limit = limitText != null ? Number(limitText) : undefined
      if (limit != null && (!Number.isInteger(limit) || limit < 1)) {
        throw new HttpError(400, 'BadRequest', '"limit" must be a positive integer')
      }
      return { messages: await contacts.inbox({ contact: url.searchParams.get('contact') ?? undefined, limit }) }
    }
  }]
}
