import { HttpError, stringField } from '../server.ts'
import type { Contacts } from '../../../contacts/index.ts'
import type { Groups } from '../../../groups/index.ts'
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

function optionalBoolean (body: unknown, field: string): boolean | undefined {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (value == null) {
    return undefined
  }
  if (typeof value !== 'boolean') {
    throw new HttpError(400, 'BadRequest', `"${field}" must be true or false`)
  }
  return value
}

/**
 * The groups layer over HTTP. Live messages are not polled here: the daemon
 * publishes `group:message`, `group:update` and `group:membership` on
 * `/v1/events`.
 */
export function groupRoutes (groups: Groups, contacts?: Pick<Contacts, 'sendInvite' | 'inbox'>): Route[] {
  return [{
    method: 'GET',
    path: '/v1/groups',
    handler: async () => ({ groups: await groups.list() })
  }, {
    method: 'POST',
    path: '/v1/groups',
    handler: async ({ body }) => {
      const b = await body()
      const group = await groups.create(stringField(b, 'name'), { displayName: optionalString(b, 'displayName') })
      return { ...group, invite: await groups.invite(group.id) }
    }
  }, {
    method: 'POST',
    path: '/v1/groups/join',
    handler: async ({ body }) => {
      const b = await body()
      return groups.join(stringField(b, 'invite'), { displayName: optionalString(b, 'displayName') })
    }
  }, {
    method: 'GET',
    path: '/v1/groups/:id',
    handler: async ({ params }) => groups.get(params.id)
  }, {
    method: 'POST',
    path: '/v1/groups/:id/invite',
    handler: async ({ params, body }) => {
      const to = optionalString(await body().catch(() => undefined), 'to')
      const invite = await groups.invite(params.id)
      if (to == null) {
        return { invite }
      }
      if (contacts == null) {
        throw new HttpError(503, 'NotStarted', 'Contacts are not available')
      }
      // the code carries the group key: it travels only inside the contact's end-to-end session
      const sent = await contacts.sendInvite(to, invite)
      return { invite, to, sent }
    }
  }, {
    method: 'POST',
    path: '/v1/groups/accept',
    handler: async ({ body }) => {
      if (contacts == null) {
        throw new HttpError(503, 'NotStarted', 'Contacts are not available')
      }
      const b = await body().catch(() => undefined)
      const from = optionalString(b, 'from')
      const latest = (await contacts.inbox({ contact: from })).filter(m => m.kind === 'invite' && !m.self).at(-1)
      if (latest == null) {
        throw new HttpError(404, 'NotFound', from != null ? `No invite from ${from}` : 'No invite received')
      }
      return groups.join(latest.content, { displayName: optionalString(b, 'displayName') })
    }
  }, {
    method: 'POST',
    path: '/v1/groups/:id/leave',
    handler: async ({ params }) => {
      await groups.leave(params.id)
      return { left: params.id }
    }
  }, {
    method: 'GET',
    path: '/v1/groups/:id/messages',
    handler: async ({ params, url }) => {
      const limit = url.searchParams.get('limit')
      if (limit != null && !/^[1-9][0-9]*$/.test(limit)) {
        throw new HttpError(400, 'BadRequest', 'limit is a positive integer')
      }
      return groups.read(params.id, {
        channel: url.searchParams.get('channel') ?? undefined,
        since: url.searchParams.get('since') ?? undefined,
        limit: limit != null ? Number(limit) : undefined
      })
    }
  }, {
    method: 'POST',
    path: '/v1/groups/:id/messages',
    handler: async ({ params, body }) => {
      const b = await body()
      return groups.send(params.id, stringField(b, 'content'), { channel: optionalString(b, 'channel'), replyTo: optionalString(b, 'replyTo'), anonymous: optionalBoolean(b, 'anonymous') })
    }
  }, {
    method: 'PUT',
    path: '/v1/groups/:id/messages/:messageId',
    handler: async ({ params, body }) => {
      await groups.edit(params.id, params.messageId, stringField(await body(), 'content'))
      return { edited: params.messageId }
    }
  }, {
    method: 'DELETE',
    path: '/v1/groups/:id/messages/:messageId',
    handler: async ({ params }) => {
      await groups.delete(params.id, params.messageId)
      return { deleted: params.messageId }
    }
  }, {
    method: 'POST',
    path: '/v1/groups/:id/messages/:messageId/reactions',
    handler: async ({ params, body }) => {
      const reaction = stringField(await body(), 'reaction')
      await groups.react(params.id, params.messageId, reaction)
      return { reacted: params.messageId, reaction }
    }
  }, {
    method: 'GET',
    path: '/v1/groups/:id/members',
    handler: async ({ params }) => ({ members: await groups.members(params.id) })
  }, {
    method: 'DELETE',
    path: '/v1/groups/:id/members/:memberId',
    handler: async ({ params }) => {
      await groups.remove(params.id, params.memberId)
      return { removed: params.memberId }
    }
  }]
}
