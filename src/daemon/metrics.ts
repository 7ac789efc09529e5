/**
 * `/metrics` in Prometheus text format: libp2p's metrics and Murmur's own
 * (`murmur_…`), from the registry the node was given. Unauthenticated, as
 * Prometheus expects, so it binds to loopback unless told otherwise.
 */

import { createServer } from 'node:http'
import { closeServer, listenOn } from './http.ts'
import type { Server } from 'node:http'
import type { Registry } from 'prom-client'

export class MetricsServer {
  private readonly registry: Registry
  private server?: Server

  constructor (registry: Registry) {
    this.registry = registry
  }

  async listen (host: string, port: number): Promise<{ url: string }> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: try GET /metrics\n')
        return
      }
      this.registry.metrics().then(text => {
        res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text)
      }, (err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`Metrics failed: ${err.message}\n`)
      })
    })
    this.server = server
    const { url } = await listenOn(server, host, port)
    return { url: `${url}/metrics` }
  }

  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server == null) {
      return
    }
    await closeServer(server)
  }
}
