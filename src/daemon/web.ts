/**
 * The web chat page on its own HTTP listener (`--web HOST:PORT`): the page
 * built into `dist/web/` by scripts/build-web.js, and `config.json` with the
 * daemon's browser-facing addresses as the page's default bootstrap list.
 * Nothing of the control API is served here: the page is a peer of its own
 * and talks to the daemon over libp2p, like any other peer.
 */

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { closeServer, listenOn } from './http.ts'
import type { Server } from 'node:http'

/** Where the built page is, from dist/src/daemon (installed) or src/daemon (a checkout) */
const PAGE_DIRS = ['../../web/', '../../dist/web/'].map(rel => fileURLToPath(new URL(rel, import.meta.url)))

const FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/app.js.map': 'app.js.map',
  '/style.css': 'style.css'
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.css': 'text/css; charset=utf-8'
}

export interface WebConfig {
  /** The daemon's browser-facing multiaddrs (`/ws`, `/webrtc-direct`) */
  bootstrap: string[]
  /** Whether the page must allow `ws://` and private addresses to reach them */
  allowPrivateAddresses: boolean
}

/** The addresses a browser can dial: WebSockets and WebRTC-direct, never through a relay */
export function browserFacingAddresses (addrs: string[]): string[] {
  return addrs.filter(a => !a.includes('/p2p-circuit') && (/\/wss?(\/|$)/.test(a) || a.includes('/webrtc-direct/')))
}

/** A browser refuses `ws://` and private addresses unless told otherwise */
export function needsPrivateAddresses (addrs: string[]): boolean {
  return addrs.some(a => (/\/ws(\/|$)/.test(a) && !a.includes('/tls/')) ||
    /^\/ip4\/(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.)/.test(a) || /^\/ip6\/(::1|f[cd]|fe80)/i.test(a) ||
    /^\/dns4?\/localhost\//.test(a))
}

export class WebServer {
  private readonly config: () => WebConfig
  private server?: Server
  readonly pageDir?: string

  constructor (config: () => WebConfig) {
    this.config = config
    this.pageDir = PAGE_DIRS.find(dir => existsSync(join(dir, 'index.html')))
  }

  async listen (host: string, port: number): Promise<{ url: string }> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method not allowed\n')
        return
      }
      if (path === '/config.json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(this.config()))
        return
      }
      const file = FILES[path]
      if (file == null) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n')
        return
      }
      if (this.pageDir == null) {
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end('The web page is not built: run `npm run build`\n')
        return
      }
      readFile(join(this.pageDir, file)).then(body => {
        res.writeHead(200, {
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
          'Cache-Control': 'no-cache',
          'X-Content-Type-Options': 'nosniff'
        }).end(req.method === 'HEAD' ? undefined : body)
      }, (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`Cannot read ${file}: ${err.message}\n`)
      })
    })
    this.server = server
    return listenOn(server, host, port)
  }

  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server != null) {
      await closeServer(server)
    }
  }
}
