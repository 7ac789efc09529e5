/**
 * The control API of a daemon in a netns testnet host, from the test process.
 *
 * The API listens on 127.0.0.1 inside the host's namespace, out of the test
 * process's reach; one small Node process per host runs in that namespace
 * (`ip netns exec`), takes requests as JSON lines on stdin and answers on
 * stdout, and relays the daemon's event stream with a local timestamp. One
 * process per host for the whole test instead of a CLI process per request:
 * on a 2-core machine spawning hundreds of CLIs would be the load under test.
 */

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

/** Runs in the host's namespace: the home's api file and token are read per request (a restarted daemon writes them again) */
const DRIVER = `
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
const home = process.argv[1]
const out = (o) => { process.stdout.write(JSON.stringify(o) + '\\n') }
async function api () {
  const [url, token] = await Promise.all([readFile(home + '/api', 'utf8'), readFile(home + '/api-token', 'utf8')])
  return { url: url.trim(), token: token.trim() }
}
createInterface({ input: process.stdin }).on('line', async (line) => {
  const req = JSON.parse(line)
  try {
    const { url, token } = await api()
    const res = await fetch(url + req.path, {
      method: req.method,
      headers: { authorization: 'Bearer ' + token, ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: req.body !== undefined ? JSON.stringify(req.body) : undefined,
      signal: AbortSignal.timeout(req.timeoutMs)
    })
    const text = await res.text()
    out({ id: req.id, status: res.status, body: text === '' ? {} : JSON.parse(text) })
  } catch (err) {
    out({ id: req.id, status: 0, body: { error: { code: err.name, message: err.message } } })
  }
})
let stopped = false
process.stdin.on('end', () => { stopped = true; process.exit(0) })
// the event stream, again after each break (a daemon stopped and restarted)
while (!stopped) {
  try {
    const { url, token } = await api()
    const res = await fetch(url + '/v1/events', { headers: { authorization: 'Bearer ' + token } })
    out({ connected: true })
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true })
      let end
      while ((end = buffer.indexOf('\\n\\n')) !== -1) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        const data = []
        for (const l of frame.split('\\n')) {
          if (l.startsWith('event: ')) event = l.slice(7)
          else if (l.startsWith('data: ')) data.push(l.slice(6))
        }
        if (data.length > 0) out({ event, at: Date.now(), data: JSON.parse(data.join('\\n')) })
      }
    }
  } catch {}
  await new Promise(resolve => setTimeout(resolve, 300))
}
`

export interface ApiEvent { event: string, at: number, data: any }

export class ApiRequestError extends Error {
  readonly status: number
  readonly code: string
  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiRequestError'
    this.status = status
    this.code = code
  }
}

export class HostApi {
  readonly host: string
  readonly events: ApiEvent[] = []
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve(v: any): void, reject(e: Error): void }>()
  private nextId = 0
  private listeners = new Set<(e: ApiEvent) => void>()
  /** Resolves once the event stream is connected the first time */
  readonly connected: Promise<void>

  constructor (host: string, namespace: string, home: string) {
    this.host = host
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--input-type=module', '-e', DRIVER, home], { stdio: ['pipe', 'pipe', 'inherit'] })
    let onConnected!: () => void
    this.connected = new Promise(resolve => { onConnected = resolve })
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const msg = JSON.parse(line)
      if (msg.connected === true) {
        onConnected()
      } else if (msg.event != null) {
        this.events.push(msg)
        for (const l of this.listeners) { l(msg) }
      } else {
        const p = this.pending.get(msg.id)
        this.pending.delete(msg.id)
        if (msg.status >= 200 && msg.status < 300) {
          p?.resolve(msg.body)
        } else {
          p?.reject(new ApiRequestError(msg.status, msg.body?.error?.code ?? 'Error', `${this.host}: ${msg.body?.error?.message ?? `HTTP ${msg.status}`}`))
        }
      }
    })
  }

  async request<T = any> (method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++
    const answer = new Promise<T>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    this.child.stdin?.write(JSON.stringify({ id, method, path, body, timeoutMs }) + '\n')
    return answer
  }

  async get<T = any> (path: string): Promise<T> { return this.request<T>('GET', path) }
  async post<T = any> (path: string, body?: unknown, timeoutMs?: number): Promise<T> { return this.request<T>('POST', path, body ?? {}, timeoutMs) }

  onEvent (listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  close (): void {
    this.child.stdin?.end()
    this.child.kill('SIGTERM')
  }
}
