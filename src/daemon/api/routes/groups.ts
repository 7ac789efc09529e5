import { HttpError, stringField } from '../server.ts'
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

/**
 * The groups layer over HTTP. Live messages are not polled here: the daemon
 * publishes `group:message`, `group:update` and `group:membership` on
 * `/v1/events`.
 */
export function groupRoutes (groups: Groups): Route[] {
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
    handler: async ({ params }) => ({ invite: await groups.invite(params.id) })
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
      return groups.send(params.id, stringField(b, 'content'), { channel: optionalString(b, 'channel'), replyTo: optionalString(b, 'replyTo') })
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
