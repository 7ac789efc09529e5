/**
 * The control API: HTTP+JSON on a local address, one route table, every
 * request authenticated by a bearer token. `GET /v1/events` is a stream of
 * Server-Sent Events that any layer can publish to.
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { closeServer, listenOn } from '../http.ts'
import type { Logger } from '../../node/logger.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** Bodies above this are refused with 413 */
export const MAX_BODY_BYTES = 1024 * 1024

/**
 * Open connections beyond this are closed on arrival, so a client that opens
 * connections without end holds at most this many sockets (and their buffers)
 */
export const MAX_CONNECTIONS = 64

/** Open `/v1/events` streams beyond this are answered 503 */
export const MAX_EVENT_STREAMS = 16

/** A client must send its headers within this, and its whole request within REQUEST_TIMEOUT_MS */
export const HEADERS_TIMEOUT_MS = 10_000
export const REQUEST_TIMEOUT_MS = 30_000

/** SSE comment lines keep proxies and clients from timing the stream out */
const SSE_KEEPALIVE_MS = 15_000

export class HttpError extends Error {
  static name = 'HttpError'
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
  }
}

export interface RouteContext {
  params: Record<string, string>
  url: URL
  /** The request body parsed as JSON; a malformed one is a 400 */
  body(): Promise<unknown>
  /** Aborts when the client goes away */
  signal: AbortSignal
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** `/v1/peers` or with parameters, `/v1/peers/:id` */
  path: string
  /** Returns the JSON answer (200) */
  handler(ctx: RouteContext): Promise<unknown>
}

/** Maps an error thrown by a handler to a status code (by the error's name) */
const STATUS_BY_ERROR: Record<string, number> = {
  InvalidMultiaddrError: 400,
  InvalidInitError: 400,
  ConfigError: 400,
  UsageError: 400,
  PeerNotFoundError: 404,
  NotFoundError: 404,
  NotStartedError: 503,
  AbortError: 504,
  TimeoutError: 504,
  // groups and contacts (both have a MessageNotFoundError: 404 for either)
  MessageNotFoundError: 404,
  GroupNotFoundError: 404,
  InvalidInviteError: 400,
  InvalidGroupArgumentError: 400,
  NotGroupAdminError: 403,
  NotMessageAuthorError: 403,
  EnvelopeTooLargeError: 413,
  GroupsNotStartedError: 503,
  AnonymousPublishUnavailableError: 503,
  EnvelopeRejectedError: 400,
  ContactCardError: 400,
  SelfContactError: 400,
  MessageFormatError: 400,
  ContactNotFoundError: 404,
  PrekeyBundleNotFoundError: 404,
  DeliveryError: 502,
  // onion
  UnknownDestinationError: 404,
  MessageTooLargeError: 400,
  NoRouteError: 503,
  OnionNotStartedError: 503,
  DeliveryFailedError: 504,
  // store
  StoreRequestError: 400,
  StoreMessageTooLargeError: 413,
  MailboxProofRequiredError: 403,
  StaleChallengeError: 403,
  WrongMailboxError: 403,
  MailboxQuotaError: 507,
  StorageFullError: 507,
  DepositRateLimitError: 429,
  NotServingError: 404,
  NoStoreNodesError: 503,
  QuorumNotReachedError: 503
}

export interface ControlApiInit {
  token: string
  logger: Logger
}

interface CompiledRoute extends Route {
  pattern: RegExp
  keys: string[]
}

export class ControlApi {
  private readonly tokenDigest: Buffer
  private readonly log: Logger
  private readonly routes: CompiledRoute[] = []
  private readonly streams = new Set<ServerResponse>()
  private server?: Server
  private keepalive?: ReturnType<typeof setInterval>

  constructor (init: ControlApiInit) {
    this.tokenDigest = digest(init.token)
    this.log = init.logger
    this.addRoutes([{
      method: 'GET',
      path: '/v1/health',
      handler: async () => ({ ok: true })
    }])
  }

  addRoutes (routes: Route[]): void {
    for (const route of routes) {
      const keys: string[] = []
      const source = route.path.split('/').map(part => {
        if (part.startsWith(':')) {
          keys.push(part.slice(1))
          return '([^/]+)'
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      }).join('/')
      this.routes.push({ ...route, pattern: new RegExp(`^${source}$`), keys })
    }
  }

  /**
   * Every endpoint, `/v1/events` included, in the order they were added: what
   * a test iterates to check that none answers without the token
   */
  routeTable (): Array<{ method: Route['method'], path: string }> {
    return [
      ...this.routes.map(r => ({ method: r.method, path: r.path })),
      { method: 'GET', path: '/v1/events' }
    ]
  }

  /** Sends an event to every open `/v1/events` stream */
  publish (event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const res of this.streams) {
      res.write(frame)
    }
  }

  async listen (host: string, port: number): Promise<{ host: string, port: number, url: string }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(err => {
        this.log.error({ err }, 'control API request failed')
        if (!res.headersSent) {
          sendError(res, 500, 'InternalError', 'Internal error')
        } else {
          res.destroy()
        }
      })
    })
    server.maxConnections = MAX_CONNECTIONS
    server.headersTimeout = HEADERS_TIMEOUT_MS
    server.requestTimeout = REQUEST_TIMEOUT_MS
    this.server = server
    const where = await listenOn(server, host, port)
    this.keepalive = setInterval(() => {
      for (const res of this.streams) {
        res.write(': keepalive\n\n')
      }
    }, SSE_KEEPALIVE_MS)
    this.keepalive.unref()
    return where
  }

  async close (): Promise<void> {
    clearInterval(this.keepalive)
    for (const res of this.streams) {
      res.end()
    }
    this.streams.clear()
    const server = this.server
    if (server == null) {
      return
    }
    this.server = undefined
    await closeServer(server)
  }

  private authorized (req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    const match = /^Bearer (.+)$/.exec(header)
    if (match == null) {
      return false
    }
    // compare digests so the comparison is constant-time whatever the length
    return timingSafeEqual(digest(match[1]), this.tokenDigest)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Cache-Control', 'no-store')
    const url = requestUrl(req.url)
    if (url == null) {
      closeAfter(req, res)
      sendError(res, 400, 'BadRequest', 'Malformed request target')
      return
    }

    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="murmur"')
      // an unauthenticated client's body is never read: drop the connection after the answer
      closeAfter(req, res)
      sendError(res, 401, 'Unauthorized', 'A valid bearer token is required (see <home>/api-token)')
      return
    }

    if (url.pathname === '/v1/events') {
      if (req.method !== 'GET') {
        sendError(res, 405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed on ${url.pathname}`)
        return
      }
      if (this.streams.size >= MAX_EVENT_STREAMS) {
        sendError(res, 503, 'TooManyStreams', `At most ${MAX_EVENT_STREAMS} event streams may be open`)
        return
      }
      this.openStream(req, res)
      return
    }

    const candidates = this.routes.filter(r => r.pattern.test(url.pathname))
    if (candidates.length === 0) {
      sendError(res, 404, 'NotFound', `No such endpoint: ${url.pathname}`)
      return
    }
    const route = candidates.find(r => r.method === req.method)
    if (route == null) {
      res.setHeader('Allow', candidates.map(r => r.method).join(', '))
      sendError(res, 405, 'MethodNotAllowed', `${req.method ?? ''} is not allowed on ${url.pathname}`)
      return
    }

    const values = route.pattern.exec(url.pathname)?.slice(1) ?? []
    let params: Record<string, string>
    try {
      params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(values[i])]))
    } catch {
      // `%` not followed by two hex digits, or a broken UTF-8 sequence (found by fuzzing: was a 500)
      sendError(res, 400, 'BadRequest', `Malformed percent-encoding in ${url.pathname}`)
      return
    }
    const controller = new AbortController()
    res.once('close', () => { controller.abort() })

    let result: unknown
    try {
      result = await route.handler({ params, url, body: async () => readJsonBody(req), signal: controller.signal })
    } catch (err: any) {
      const { status, code, message } = describeError(err)
      if (status === 413) {
        // the rest of an oversized body is not worth reading
        closeAfter(req, res)
      }
      if (status >= 500) {
        this.log.error({ err, route: route.path }, 'control API handler failed')
      }
      sendError(res, status, code, message)
      return
    }
    sendJson(res, 200, result ?? {})
  }

  private openStream (req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive'
    })
    res.write('event: ready\ndata: {}\n\n')
    this.streams.add(res)
    req.once('close', () => {
      this.streams.delete(res)
    })
  }
}

function describeError (err: any): { status: number, code: string, message: string } {
  if (err instanceof HttpError) {
    return { status: err.status, code: err.code, message: err.message }
  }
  const status = STATUS_BY_ERROR[err?.name]
  if (status == null) {
    return { status: 500, code: 'InternalError', message: `Internal error: ${err?.message ?? String(err)}` }
  }
  return { status, code: err.name, message: err.message }
}

/** A request target is a path: `//x` must not be read as a host (found by fuzzing: was a 500) */
function requestUrl (target = '/'): URL | undefined {
  try {
    return new URL(`http://localhost${target.startsWith('/') ? target : `/${target}`}`)
  } catch {
    return undefined
  }
}

function closeAfter (req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close')
  res.once('finish', () => { req.socket.destroy() })
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function sendError (res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } })
}

async function readJsonBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) {
    throw new HttpError(413, 'PayloadTooLarge', `Request body over ${MAX_BODY_BYTES} bytes`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, 'PayloadTooLarge', `Request body over ${MAX_BODY_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') {
    return {}
  }
  try {
    return JSON.parse(text)
  } catch (err: any) {
    throw new HttpError(400, 'BadRequest', `Malformed JSON body: ${err.message}`)
  }
}

/** Reads a string field of a JSON body object, or answers 400 */
export function stringField (body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (typeof body !== 'object' || body == null || Array.isArray(body) || typeof value !== 'string' || value === '') {
    throw new HttpError(400, 'BadRequest', `The body must be a JSON object with a string "${field}"`)
  }
  return value
}
