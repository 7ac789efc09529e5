import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { main } from '../../src/daemon/cli.ts'
import { configFromFlags } from '../../src/daemon/commands/config-flags.ts'
import { defaultConfig } from '../../src/daemon/config.ts'
import { captureIo, runCli, tempDir } from '../fixtures/cli.ts'

describe('bad config and bad flags', function () {
  this.timeout(60_000)
  const tmp = { dir: '', cleanup: async () => {} }

  before(async () => {
    Object.assign(tmp, await tempDir())
  })

  after(async () => {
    await tmp.cleanup()
  })

  const badFlags: Array<[string[], RegExp]> = [
    [['--roles', 'relay,wizard'], /--roles: unknown role "wizard"/],
    [['--api', 'localhost'], /--api: "localhost" is not HOST:PORT/],
    [['--api', '127.0.0.1:70000'], /--api: port 70000 is out of range/],
    [['--metrics', 'nowhere'], /--metrics: "nowhere" is not HOST:PORT/],
    [['--listen', 'not-a-multiaddr'], /--listen\[0\]: invalid multiaddr "not-a-multiaddr"/],
    [['--bootstrap', '/ip4/127.0.0.1/tcp/4001'], /--bootstrap\[0\]: .*no \/p2p\/<peer id>/],
    [['--log-level', 'loud'], /--log-level: must be one of/],
    [['--onion-diversity', 'street'], /--onion-diversity: must be "subnet16", "host" or "none"/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra-argument'], /unexpected argument/]
  ]

  for (const [flags, message] of badFlags) {
    it(`daemon ${flags.join(' ')}: exit 2, a clear message, nothing written`, async () => {
      const home = join(tmp.dir, `flags-${flags.join('_').replace(/[^a-z0-9]/gi, '')}`)
      const { io, err } = captureIo()
      const code = await main(['daemon', '--home', home, ...flags], io)
      expect(code).to.equal(2)
      expect(err()).to.match(message)
      expect(err().split('\n')[0]).to.match(/^murmur daemon: /)
      await expect(readdir(home)).to.eventually.be.rejected.with.property('code', 'ENOENT')
    })
  }

  const badFiles: Array<[string, RegExp]> = [
    ['{ "roles": ["relay"', /config\.json: is not valid JSON/],
    ['[]', /config\.json: must be a JSON object/],
    ['{ "colour": "blue" }', /config\.json: colour: unknown field/],
    ['{ "roles": "relay" }', /config\.json: roles: must be a list of strings/],
    ['{ "mdns": "yes" }', /config\.json: mdns: must be true or false/],
    ['{ "api": 7420 }', /config\.json: api: must be a string HOST:PORT/],
    ['{ "onionDiversity": "/16" }', /config\.json: onionDiversity: must be "subnet16", "host" or "none"/],
    ['{ "listen": ["/ip4/1.2.3.4/tcp/x"] }', /config\.json: listen\[0\]: invalid multiaddr/]
  ]

  for (const [text, message] of badFiles) {
    it(`config ${text}: exit 2, names the field, leaves the home as it was`, async () => {
      const home = join(tmp.dir, `file-${badFiles.findIndex(f => f[0] === text)}`)
      await mkdir(home)
      await writeFile(join(home, 'config.json'), text)
      const { io, err } = captureIo()
      const code = await main(['daemon', '--home', home], io)
      expect(code).to.equal(2)
      expect(err()).to.match(message)
      expect(err().split('\n')[0]).to.include(join(home, 'config.json'))
      expect(await readdir(home)).to.deep.equal(['config.json'])
      expect(await readFile(join(home, 'config.json'), 'utf8')).to.equal(text)
    })
  }

  it('--onion-diversity sets the onion layer\'s rule (a testnet in one subnet needs "host"); subnet16 is the default', () => {
    expect(configFromFlags({ 'onion-diversity': 'host' })).to.deep.equal({ onionDiversity: 'host' })
    expect(configFromFlags({ 'onion-diversity': 'none' })).to.deep.equal({ onionDiversity: 'none' })
    expect(defaultConfig().onionDiversity).to.equal('subnet16')
  })

  it('the real binary exits 2 on a bad flag, with --json giving a JSON error', async () => {
    const res = await runCli(['daemon', '--home', join(tmp.dir, 'bin-json'), '--roles', 'x', '--json'])
    expect(res.code).to.equal(2)
    expect(JSON.parse(res.stderr).error).to.deep.include({ code: 'ConfigError' })
  })

  it('an unknown command exits 2 and shows the commands', async () => {
    const res = await runCli(['frobnicate'])
    expect(res.code).to.equal(2)
    expect(res.stderr).to.include('unknown command "frobnicate"')
    expect(res.stderr).to.include('daemon')
  })

  it('every command has --help', async () => {
    for (const cmd of ['init', 'daemon', 'id', 'status', 'peers', 'connect', 'stop']) {
      const { io, out } = captureIo()
      expect(await main([cmd, '--help'], io)).to.equal(0)
      expect(out()).to.include(`Usage: murmur ${cmd}`)
      expect(out()).to.include('--json')
    }
  })

  it('init refuses config flags over an existing config (exit 2) and leaves it untouched', async () => {
    const home = join(tmp.dir, 'init-twice')
    const first = captureIo()
    expect(await main(['init', '--home', home, '--roles', 'relay'], first.io)).to.equal(0)
    const before = await readFile(join(home, 'config.json'), 'utf8')
    expect(JSON.parse(before).roles).to.deep.equal(['relay'])
    const second = captureIo()
    expect(await main(['init', '--home', home, '--roles', 'store'], second.io)).to.equal(2)
    expect(await readFile(join(home, 'config.json'), 'utf8')).to.equal(before)
    const third = captureIo()
    expect(await main(['init', '--home', home, '--json'], third.io)).to.equal(0)
    expect(JSON.parse(third.out()).created).to.equal(false)
  })
})
