import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { MAX_EVENT_STREAMS } from '../../src/daemon/api/server.ts'
import { main } from '../../src/daemon/cli.ts'
import { checkApiBinding, mergeConfig } from '../../src/daemon/config.ts'
import { Daemon } from '../../src/daemon/daemon.ts'
import { RemoteApiRefusedError } from '../../src/daemon/errors.ts'
import { readToken } from '../../src/daemon/home.ts'
import { loopbackProfile, silentLogger } from '../../src/node/index.ts'
import { captureIo, tempDir } from '../fixtures/cli.ts'

describe('control API security', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let home: string
  let daemon: Daemon
  let token: string
  let laterLayerCalled = false

  before(async () => {
    tmp = await tempDir()
    home = join(tmp.dir, 'home')
    await mkdir(home)
    daemon = await Daemon.start({
      home,
      config: mergeConfig({ api: '127.0.0.1:0', metrics: null, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      logger: silentLogger(),
      node: loopbackProfile()
    })
    // stands for the routes other layers register later: the table is iterated, not listed here
    daemon.api.addRoutes([{
      method: 'POST',
      path: '/v1/later/:thing/act',
      handler: async () => { laterLayerCalled = true; return {} }
    }])
    token = (await readToken(home)) ?? ''
  })

  after(async () => {
    await daemon?.stop()
    await tmp?.cleanup()
  })

  it('answers 401 on every registered route without a valid token, and runs no handler', async () => {
    const table = daemon.api.routeTable()
    expect(table.map(r => r.path)).to.include.members(['/v1/health', '/v1/stop', '/v1/events', '/v1/later/:thing/act'])
    const wrongs: Array<string | null> = [null, '', 'Bearer', 'Bearer ', 'Bearer wrong', `Basic ${token}`, `bearer ${token}`,
      `Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, `Bearer  ${token}`, `Bearer ${token.toUpperCase()}`]
    for (const route of table) {
      const path = route.path.replace(/:[^/]+/g, 'x')
      for (const auth of wrongs) {
        const res = await fetch(daemon.apiUrl + path, {
          method: route.method,
          headers: auth == null ? {} : { Authorization: auth },
          body: route.method === 'GET' ? undefined : JSON.stringify({ addr: '/ip4/127.0.0.1/tcp/1/p2p/x' })
        })
        expect(res.status, `${route.method} ${path} with ${String(auth)}`).to.equal(401)
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer/)
        expect((await res.json()).error.code).to.equal('Unauthorized')
      }
    }
    expect(laterLayerCalled).to.equal(false)
    // POST /v1/stop was among them: the daemon still runs
    expect(daemon.node.isStarted()).to.equal(true)
    const ok = await fetch(daemon.apiUrl + '/v1/health', { headers: { Authorization: `Bearer ${token}` } })
    expect(ok.status).to.equal(200)
  })

  it('answers malformed request targets with 400, not 500 (fuzzing found both)', async () => {
    for (const path of ['/v1/peers/%', '/v1/peers/%E0%A4%A', '//']) {
      const res = await fetch(daemon.apiUrl + path, { headers: { Authorization: `Bearer ${token}` } })
      expect(res.status, path).to.be.oneOf([400, 404])
      expect((await res.json()).error.code).to.be.a('string')
    }
  })

  it('holds at most MAX_EVENT_STREAMS event streams; one more is a 503', async () => {
    const controllers: AbortController[] = []
    try {
      for (let i = 0; i < MAX_EVENT_STREAMS; i++) {
        const controller = new AbortController()
        controllers.push(controller)
        const res = await fetch(daemon.apiUrl + '/v1/events', { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal })
        expect(res.status).to.equal(200)
      }
      const extra = await fetch(daemon.apiUrl + '/v1/events', { headers: { Authorization: `Bearer ${token}` } })
      expect(extra.status).to.equal(503)
      expect((await extra.json()).error.code).to.equal('TooManyStreams')
    } finally {
      controllers.forEach(c => { c.abort() })
    }
    // once they are gone, a stream opens again
    const controller = new AbortController()
    let status = 0
    for (let tries = 0; tries < 50 && status !== 200; tries++) {
      const res = await fetch(daemon.apiUrl + '/v1/events', { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal })
      status = res.status
      if (status !== 200) {
        await res.arrayBuffer()
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    controller.abort()
    expect(status).to.equal(200)
  })

  it('keeps the token in a 0600 file', async () => {
    expect((await stat(join(home, 'api-token'))).mode & 0o777).to.equal(0o600)
    expect((await readFile(join(home, 'api-token'), 'utf8')).trim()).to.match(/^[0-9a-f]{64}$/)
  })

  it('tightens a token file someone loosened to 0600 when the daemon starts', async () => {
    const loose = join(tmp.dir, 'loose')
    await mkdir(loose)
    await writeFile(join(loose, 'api-token'), 'ab'.repeat(32) + '\n', { mode: 0o644 })
    await chmod(join(loose, 'api-token'), 0o644)
    const other = await Daemon.start({
      home: loose,
      config: mergeConfig({ api: '127.0.0.1:0', metrics: null, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      logger: silentLogger(),
      node: loopbackProfile()
    })
    try {
      expect((await stat(join(loose, 'api-token'))).mode & 0o777).to.equal(0o600)
      // the token it holds is the one in the file
      const res = await fetch(other.apiUrl + '/v1/health', { headers: { Authorization: `Bearer ${'ab'.repeat(32)}` } })
      expect(res.status).to.equal(200)
    } finally {
      await other.stop()
    }
  })

  it('refuses a control API beyond loopback unless told explicitly', async () => {
    for (const api of ['0.0.0.0:7420', '10.1.2.3:0', '[::]:7420', 'example.org:7420']) {
      expect(() => { checkApiBinding({ api, apiAllowRemote: false }) }, api).to.throw(RemoteApiRefusedError)
      expect(() => { checkApiBinding({ api, apiAllowRemote: true }) }, api).not.to.throw()
    }
    for (const api of ['127.0.0.1:7420', '127.8.9.1:0', 'localhost:7420', '[::1]:7420']) {
      expect(() => { checkApiBinding({ api, apiAllowRemote: false }) }, api).not.to.throw()
    }
    await expect(Daemon.start({
      home: join(tmp.dir, 'never'),
      config: mergeConfig({ api: '0.0.0.0:0', metrics: null }),
      logger: silentLogger()
    })).to.eventually.be.rejectedWith(RemoteApiRefusedError)
  })

  it('murmur daemon --api 0.0.0.0:… exits 2 with a clear error and writes nothing', async () => {
    const fresh = join(tmp.dir, 'remote')
    const { io, err } = captureIo()
    expect(await main(['daemon', '--home', fresh, '--api', '0.0.0.0:0', '--metrics', 'off'], io)).to.equal(2)
    expect(err()).to.match(/refusing to serve the control API on 0\.0\.0\.0:0, beyond loopback.*--api-allow-remote/)
    await expect(readdir(fresh)).to.eventually.be.rejected.with.property('code', 'ENOENT')
  })

  it('a config file or --api-allow-remote is how an operator says so', async () => {
    const allowed = join(tmp.dir, 'allowed')
    const first = captureIo()
    expect(await main(['init', '--home', allowed, '--api', '0.0.0.0:7420', '--api-allow-remote', '--json'], first.io), first.err()).to.equal(0)
    expect(JSON.parse(await readFile(join(allowed, 'config.json'), 'utf8'))).to.include({ api: '0.0.0.0:7420', apiAllowRemote: true })

    const refused = join(tmp.dir, 'refused')
    const second = captureIo()
    expect(await main(['init', '--home', refused, '--api', '0.0.0.0:7420'], second.io)).to.equal(2)
    expect(second.err()).to.match(/RemoteApiRefused|refusing to serve/)
    await expect(readdir(refused)).to.eventually.be.rejected.with.property('code', 'ENOENT')

    const bad = captureIo()
    expect(await main(['init', '--home', join(tmp.dir, 'bad'), '--api-allow-remote=yes'], bad.io)).to.equal(2)
  })
})
