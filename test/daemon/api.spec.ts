import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { ApiClient } from '../../src/daemon/api/client.ts'
import { mergeConfig } from '../../src/daemon/config.ts'
import { Daemon } from '../../src/daemon/daemon.ts'
import { ApiError } from '../../src/daemon/errors.ts'
import { readToken } from '../../src/daemon/home.ts'
import { loopbackProfile, silentLogger } from '../../src/node/index.ts'
import { tempDir } from '../fixtures/cli.ts'
import { loopbackNode, stopAll } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

describe('control API', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let daemon: Daemon
  let token: string
  let peer: MurmurNode | undefined

  before(async () => {
    tmp = await tempDir()
    const home = join(tmp.dir, 'home')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(home)
    daemon = await Daemon.start({
      home,
      config: mergeConfig({ api: '127.0.0.1:0', metrics: null, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      logger: silentLogger(),
      node: loopbackProfile()
    })
    token = (await readToken(home)) ?? ''
  })

  after(async () => {
    await daemon?.stop()
    await stopAll([peer])
    await tmp?.cleanup()
  })

  const call = async (path: string, init: RequestInit = {}, auth: string | null = `Bearer ${token}`): Promise<{ status: number, json: any }> => {
    const res = await fetch(daemon.apiUrl + path, {
      ...init,
      headers: { ...(auth != null ? { Authorization: auth } : {}), ...(init.headers as Record<string, string> ?? {}) }
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
  }

  it('refuses requests without the token, or with a wrong one, with 401 on every endpoint', async () => {
    for (const path of ['/v1/health', '/v1/status', '/v1/id', '/v1/peers', '/v1/nope', '/v1/events']) {
      expect((await call(path, {}, null)).status, path).to.equal(401)
      expect((await call(path, {}, 'Bearer wrong')).status, path).to.equal(401)
      expect((await call(path, {}, `Basic ${token}`)).status, path).to.equal(401)
    }
    const res = await call('/v1/stop', { method: 'POST' }, 'Bearer ' + token.slice(0, -1))
    expect(res.status).to.equal(401)
    expect(res.json.error.code).to.equal('Unauthorized')
    expect(daemon.node.isStarted()).to.equal(true)
  })

  it('answers an unknown route with 404 and a JSON error, a wrong method with 405', async () => {
    const missing = await call('/v1/does-not-exist')
    expect(missing.status).to.equal(404)
    expect(missing.json.error).to.deep.include({ code: 'NotFound' })
    const wrong = await call('/v1/status', { method: 'DELETE' })
    expect(wrong.status).to.equal(405)
    expect(wrong.json.error.code).to.equal('MethodNotAllowed')
  })

  it('answers malformed or wrong bodies with 400 and keeps serving', async () => {
    const malformed = await call('/v1/connect', { method: 'POST', body: '{"addr": ', headers: { 'Content-Type': 'application/json' } })
    expect(malformed.status).to.equal(400)
    expect(malformed.json.error.message).to.match(/Malformed JSON/)

    const noAddr = await call('/v1/connect', { method: 'POST', body: '[1,2]' })
    expect(noAddr.status).to.equal(400)

    const badAddr = await call('/v1/connect', { method: 'POST', body: JSON.stringify({ addr: '/ip4/127.0.0.1/tcp/1' }) })
    expect(badAddr.status).to.equal(400)
    expect(badAddr.json.error.code).to.equal('InvalidMultiaddrError')

    const huge = await call('/v1/connect', { method: 'POST', body: JSON.stringify({ addr: 'x'.repeat(2 * 1024 * 1024) }) })
    expect(huge.status).to.equal(413)

    const health = await call('/v1/health')
    expect(health).to.deep.equal({ status: 200, json: { ok: true } })
    expect((await call('/v1/status')).json.peerId).to.equal(daemon.node.peerId.toString())
  })

  it('streams peer events to /v1/events', async () => {
    const client = new ApiClient({ url: daemon.apiUrl, token })
    const controller = new AbortController()
    const events = client.events({ signal: controller.signal })
    expect((await events.next()).value).to.deep.equal({ event: 'ready', data: {} })

    peer = await loopbackNode()
    await client.post('/v1/connect', { addr: peer.getMultiaddrs()[0].toString() })
    const next = await events.next()
    expect(next.value).to.deep.equal({ event: 'peer:connect', data: { peerId: peer.peerId.toString() } })
    controller.abort()
  })

  it('gives the client named errors', async () => {
    const client = new ApiClient({ url: daemon.apiUrl, token })
    const err = await client.get('/v1/peers/not-a-peer-id').catch(e => e)
    expect(err).to.be.instanceOf(ApiError)
    expect(err.status).to.equal(400)
  })
})
