/**
 * The control API as the CLI (or a script) sees it. Finds a running daemon
 * through `<home>/api` and authenticates with `<home>/api-token`.
 */

import { ApiError, DaemonNotRunningError } from '../errors.ts'
import { readApiFile, readToken } from '../home.ts'

export interface ApiClientInit {
  url: string
  token: string
}

export class ApiClient {
  readonly url: string
  private readonly token: string

  constructor (init: ApiClientInit) {
    this.url = init.url.replace(/\/$/, '')
    this.token = init.token
  }

  /**
   * A client for the daemon that runs on `home`; `apiOverride` (HOST:PORT or
   * a URL) replaces the address the daemon wrote.
   */
  static async forHome (home: string, apiOverride?: string): Promise<ApiClient> {
    const token = await readToken(home)
    const url = apiOverride != null ? toUrl(apiOverride) : await readApiFile(home)
    if (token == null || url == null) {
      throw new DaemonNotRunningError(`No daemon is running on ${home} (start one with \`murmur daemon --home ${home}\`)`)
    }
    return new ApiClient({ url, token })
  }

  async get<T = any> (path: string, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, options)
  }

  async post<T = any> (path: string, body?: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('POST', path, body, options)
  }

  async request<T = any> (method: string, path: string, body?: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.fetch(method, path, body, options.signal)
    const text = await res.text()
    let json: any
    try {
      json = text === '' ? {} : JSON.parse(text)
    } catch {
      throw new ApiError(res.status, 'BadResponse', `The daemon answered ${res.status} with a body that is not JSON`)
    }
    if (!res.ok) {
      throw new ApiError(res.status, json?.error?.code ?? 'Error', json?.error?.message ?? `HTTP ${res.status}`)
    }
    return json as T
  }

  /** Server-Sent Events from `/v1/events`, as `{ event, data }` */
  async * events (options: { signal?: AbortSignal } = {}): AsyncGenerator<{ event: string, data: unknown }> {
    const res = await this.fetch('GET', '/v1/events', undefined, options.signal)
    if (!res.ok || res.body == null) {
      throw new ApiError(res.status, 'Error', `The event stream answered ${res.status}`)
    }
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        const data: string[] = []
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) {
            event = line.slice(7)
          } else if (line.startsWith('data: ')) {
            data.push(line.slice(6))
          }
        }
        if (data.length > 0) {
          yield { event, data: JSON.parse(data.join('\n')) }
        }
      }
    }
  }

  private async fetch (method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(this.url + path, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {})
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal
      })
    } catch (err: any) {
      if (err?.name === 'AbortError' || err?.name === 'TimeoutError') {
        throw err
      }
      throw new DaemonNotRunningError(`Cannot reach the daemon at ${this.url}: ${err?.cause?.code ?? err.message}`)
    }
  }
}

function toUrl (api: string): string {
  return /^https?:\/\//.test(api) ? api : `http://${api}`
}
