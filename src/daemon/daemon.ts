/**
 * A running daemon: the node, the control API and the metrics endpoint,
 * started in that order and stopped in reverse, so that nothing answers for a
 * node that is not there.
 */

import { Registry } from 'prom-client'
import { createMurmur } from '../app/index.ts'
import { contactsRoutes } from './api/routes/contacts.ts'
import { groupRoutes } from './api/routes/groups.ts'
import { nodeRoutes } from './api/routes/node.ts'
import { onionRoutes, TEXT_KIND } from './api/routes/onion.ts'
import { storeRoutes } from './api/routes/store.ts'
import { ControlApi } from './api/server.ts'
import { BrowserTopicFollower } from './browser-topics.ts'
import { checkApiBinding, isLoopback, parseDuration, parseHostPort } from './config.ts'
import { HomeInUseError } from './errors.ts'
import { loadOrCreateToken, removeApiFile, writeApiFile } from './home.ts'
import { MetricsServer } from './metrics.ts'
import { browserFacingAddresses, needsPrivateAddresses, WebServer } from './web.ts'
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
  /** Where the web chat page is served (`--web`) */
  webUrl?: string
  private readonly config: DaemonConfig
  private readonly log: Logger
  private readonly metrics?: MetricsServer
  private readonly web?: WebServer
  private readonly topicFollower?: BrowserTopicFollower
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
    this.api.addRoutes(contactsRoutes(murmur))
    this.api.addRoutes(onionRoutes(murmur.onion, murmur.directory))
    // texts from `murmur onion send` show on the event stream (no sender: the onion layer never knows it)
    murmur.onion.handle(TEXT_KIND, msg => {
      this.api.publish('onion:message', { messageId: msg.messageId, text: new TextDecoder().decode(msg.data) })
    })
    this.api.addRoutes(storeRoutes(murmur.store))
    this.api.addRoutes(groupRoutes(murmur.groups, murmur.contacts))
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
    if (init.config.web != null) {
      const node = murmur.node
      this.topicFollower = new BrowserTopicFollower({
        pubsub: node.libp2p.services.pubsub,
        onPeerDisconnect: (listener) => {
          node.addEventListener('peer:disconnect', listener)
          return () => { node.removeEventListener('peer:disconnect', listener) }
        },
        log: init.logger.forComponent('daemon:browser-topics')
      })
      this.web = new WebServer(() => {
        const bootstrap = browserFacingAddresses(this.node.getMultiaddrs().map(String))
        return { bootstrap, allowPrivateAddresses: needsPrivateAddresses(bootstrap) }
      })
    }
  }

  static async start (init: DaemonInit): Promise<Daemon> {
    const { config, home } = init
    checkApiBinding(config)
    const token = await loadOrCreateToken(home)
    const registry = config.metrics != null ? new Registry() : undefined
    const murmur = await createMurmur({
      home,
      listen: config.web != null ? withBrowserListeners(config.listen) : config.listen,
      // browsers meet through this daemon and upgrade to direct WebRTC
      relayServer: config.web != null ? true : undefined,
      announce: config.announce,
      bootstrap: config.bootstrap,
      roles: config.roles,
      mdns: config.mdns,
      onion: { profile: config.privacy, diversity: config.onionDiversity },
      contacts: { transparent: config.transparent },
      metricsRegistry: registry,
      logger: init.logger,
      ...init.node,
      store: {
        maxBytes: config.storeMaxBytes,
        ttlMs: parseDuration(config.storeTtl, 'storeTtl'),
        maxMessagesPerMailbox: config.storeMailboxMessages,
        maxBytesPerMailbox: config.storeMailboxBytes,
        depositRate: config.storeDepositRate,
        transparent: config.transparent,
        ...init.node?.store
      }
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
      await this.web?.close()
      this.topicFollower?.stop()
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

    if (this.web != null && this.config.web != null) {
      const w = parseHostPort(this.config.web, 'web')
      if (this.web.pageDir == null) {
        this.log.warn('the web page is not built (run `npm run build`): --web answers 503')
      }
      this.webUrl = (await this.web.listen(w.host, w.port)).url
      this.topicFollower?.start()
    }

    this.node.addEventListener('peer:connect', (evt) => { this.api.publish('peer:connect', evt.detail) })
    this.node.addEventListener('peer:disconnect', (evt) => { this.api.publish('peer:disconnect', evt.detail) })
    this.murmur.contacts.addEventListener('message', (evt) => { this.api.publish('contact:message', evt.detail) })
    this.murmur.contacts.addEventListener('update', (evt) => { this.api.publish('contact:update', evt.detail) })
    this.murmur.contacts.addEventListener('contact', (evt) => { this.api.publish('contact:new', evt.detail) })
    this.murmur.contacts.addEventListener('invite', (evt) => { this.api.publish('contact:invite', evt.detail) })
    this.murmur.groups.addEventListener('message', (evt) => { this.api.publish('group:message', evt.detail) })
    this.murmur.groups.addEventListener('update', (evt) => { this.api.publish('group:update', evt.detail) })
    this.murmur.groups.addEventListener('membership', (evt) => { this.api.publish('group:membership', evt.detail) })

    this.log.info({
      peerId: this.node.peerId.toString(),
      addresses: this.node.getMultiaddrs().map(String),
      api: this.apiUrl,
      metrics: this.metricsUrl ?? null,
      web: this.webUrl ?? null,
      roles: [...this.node.roles],
      home: this.home
    }, 'daemon ready')
  }
}

/** A daemon serving browsers listens on WebSockets and WebRTC-direct, on a free port unless the config names one */
export function withBrowserListeners (listen: string[]): string[] {
  const out = [...listen]
  if (!listen.some(a => /\/wss?(\/|$)/.test(a))) {
    out.push('/ip4/0.0.0.0/tcp/0/ws')
  }
  if (!listen.some(a => a.includes('/webrtc-direct'))) {
    out.push('/ip4/0.0.0.0/udp/0/webrtc-direct')
  }
  return out
}
