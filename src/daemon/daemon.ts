/**
 * A running daemon: the node, the control API and the metrics endpoint,
 * started in that order and stopped in reverse, so that nothing answers for a
 * node that is not there.
 */

import { Registry } from 'prom-client'
import { createMurmur } from '../app/index.ts'
import { nodeRoutes } from './api/routes/node.ts'
import { ControlApi } from './api/server.ts'
import { checkApiBinding, isLoopback, parseHostPort } from './config.ts'
import { HomeInUseError } from './errors.ts'
import { loadOrCreateToken, removeApiFile, writeApiFile } from './home.ts'
import { MetricsServer } from './metrics.ts'
import type { DaemonConfig } from './config.ts'
import type { Murmur, MurmurInit } from '../app/index.ts'
import type { MurmurNode, MurmurLogger } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'

export interface DaemonInit {
  home: string
  config: DaemonConfig
  logger: MurmurLogger
  /** Extra node settings (tests and the testnet use the loopback profile) */
  node?: Partial<MurmurInit>
}

export class Daemon {
  /** The whole peer: the node and the layers above it */
  readonly murmur: Murmur
  readonly node: MurmurNode
  readonly api: ControlApi
  readonly home: string
  apiUrl = ''
  metricsUrl?: string
  private readonly config: DaemonConfig
  private readonly log: Logger
  private readonly metrics?: MetricsServer
  private stopping?: Promise<void>
  private readonly stoppedSignal = Promise.withResolvers<void>()

  private constructor (init: DaemonInit, murmur: Murmur, token: string, registry?: Registry) {
    this.home = init.home
    this.config = init.config
    this.murmur = murmur
    this.node = murmur.node
    this.log = init.logger.forComponent('daemon')
    this.api = new ControlApi({ token, logger: init.logger.forComponent('daemon:api') })
    this.api.addRoutes(nodeRoutes(murmur.node))
    this.api.addRoutes([{
      method: 'POST',
      path: '/v1/stop',
      handler: async () => {
        // answer first, then stop
        setImmediate(() => { void this.stop() })
        return { stopping: true }
      }
    }])
    if (registry != null) {
      this.metrics = new MetricsServer(registry)
    }
  }

  static async start (init: DaemonInit): Promise<Daemon> {
    const { config, home } = init
    checkApiBinding(config)
    const token = await loadOrCreateToken(home)
    const registry = config.metrics != null ? new Registry() : undefined
    const murmur = await createMurmur({
      home,
      listen: config.listen,
      announce: config.announce,
      bootstrap: config.bootstrap,
      roles: config.roles,
      mdns: config.mdns,
      metricsRegistry: registry,
      logger: init.logger,
      ...init.node
    })
    try {
      await murmur.start()
    } catch (err: any) {
      if (err?.code === 'LEVEL_DATABASE_NOT_OPEN' && /lock/i.test(String(err?.cause?.message ?? ''))) {
        throw new HomeInUseError(home)
      }
      throw err
    }

    const daemon = new Daemon(init, murmur, token, registry)
    try {
      await daemon.listen()
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  /** Resolves when the daemon has stopped (by `stop()`, a signal or `POST /v1/stop`) */
  get stopped (): Promise<void> {
    return this.stoppedSignal.promise
  }

  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping')
      await removeApiFile(this.home)
      await this.api.close()
      await this.metrics?.close()
      await this.murmur.stop()
      this.log.info('stopped')
      this.stoppedSignal.resolve()
    })()
    return this.stopping
  }

  private async listen (): Promise<void> {
    const api = parseHostPort(this.config.api, 'api')
    if (!isLoopback(api.host)) {
      // allowed by apiAllowRemote (checkApiBinding refused it otherwise)
      this.log.warn({ api: this.config.api }, 'the control API listens beyond loopback: anyone who can reach it and holds the token controls this node')
    }
    const { url } = await this.api.listen(api.host, api.port)
    this.apiUrl = url
    await writeApiFile(this.home, url)

    if (this.metrics != null && this.config.metrics != null) {
      const m = parseHostPort(this.config.metrics, 'metrics')
      if (!isLoopback(m.host)) {
        this.log.warn({ metrics: this.config.metrics }, 'metrics are served beyond loopback without authentication')
      }
      this.metricsUrl = (await this.metrics.listen(m.host, m.port)).url
    }

    this.node.addEventListener('peer:connect', (evt) => { this.api.publish('peer:connect', evt.detail) })
    this.node.addEventListener('peer:disconnect', (evt) => { this.api.publish('peer:disconnect', evt.detail) })

    this.log.info({
      peerId: this.node.peerId.toString(),
      addresses: this.node.getMultiaddrs().map(String),
      api: this.apiUrl,
      metrics: this.metricsUrl ?? null,
      roles: [...this.node.roles],
      home: this.home
    }, 'daemon ready')
  }
}
