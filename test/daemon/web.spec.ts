import { expect } from 'aegir/chai'
import { configFromFlags } from '../../src/daemon/commands/config-flags.ts'
import { DEFAULT_WEB, defaultConfig } from '../../src/daemon/config.ts'
import { withBrowserListeners } from '../../src/daemon/daemon.ts'
import { browserFacingAddresses, needsPrivateAddresses, WebServer } from '../../src/daemon/web.ts'

const PEER = '12D3KooWHNsqgHBeAQSkRf73b1TEcMcDakyTrtTiSC96qk7yButA'

describe('daemon --web', () => {
  it('is off by default; "on" is 127.0.0.1:7422, "off" is none, anything else must be HOST:PORT', () => {
    expect(defaultConfig().web).to.be.null()
    expect(configFromFlags({ web: 'on' })).to.deep.equal({ web: DEFAULT_WEB })
    expect(DEFAULT_WEB).to.equal('127.0.0.1:7422')
    expect(configFromFlags({ web: 'off' })).to.deep.equal({ web: null })
    expect(configFromFlags({ web: '0.0.0.0:8080' })).to.deep.equal({ web: '0.0.0.0:8080' })
    expect(() => configFromFlags({ web: 'nowhere' })).to.throw(/--web/)
  })

  it('adds WebSocket and WebRTC-direct listeners only when the config has none', () => {
    expect(withBrowserListeners(['/ip4/0.0.0.0/tcp/7400'])).to.deep.equal(['/ip4/0.0.0.0/tcp/7400', '/ip4/0.0.0.0/tcp/0/ws', '/ip4/0.0.0.0/udp/0/webrtc-direct'])
    const both = ['/ip4/0.0.0.0/tcp/7401/ws', '/ip4/0.0.0.0/udp/7402/webrtc-direct']
    expect(withBrowserListeners(both)).to.deep.equal(both)
  })

  it('offers browsers only the addresses they can dial', () => {
    const addrs = [
      `/ip4/10.0.0.1/tcp/7400/p2p/${PEER}`,
      `/ip4/10.0.0.1/tcp/7401/ws/p2p/${PEER}`,
      `/ip4/10.0.0.1/udp/7402/webrtc-direct/certhash/uEiBVXvGQd1uhJi-dXIak88VVL85sUJSVCqwxnN9m_nZzWg/p2p/${PEER}`,
      `/ip4/10.0.0.1/tcp/7401/ws/p2p/${PEER}/p2p-circuit/p2p/${PEER}`
    ]
    expect(browserFacingAddresses(addrs)).to.deep.equal([addrs[1], addrs[2]])
    expect(needsPrivateAddresses([`/dns4/murmur.example.org/tcp/443/wss/p2p/${PEER}`])).to.be.false()
    expect(needsPrivateAddresses([`/dns4/murmur.example.org/tcp/80/ws/p2p/${PEER}`])).to.be.true()
    expect(needsPrivateAddresses([`/ip4/192.168.1.2/udp/7402/webrtc-direct/p2p/${PEER}`])).to.be.true()
    expect(needsPrivateAddresses([`/ip4/203.0.113.7/udp/7402/webrtc-direct/p2p/${PEER}`])).to.be.false()
  })

  it('serves the page and config.json, never the control API', async () => {
    const web = new WebServer(() => ({ bootstrap: [`/ip4/127.0.0.1/tcp/7401/ws/p2p/${PEER}`], allowPrivateAddresses: true }))
    const { url } = await web.listen('127.0.0.1', 0)
    try {
      const config = await fetch(`${url}/config.json`)
      expect(config.status).to.equal(200)
      expect(await config.json()).to.deep.equal({ bootstrap: [`/ip4/127.0.0.1/tcp/7401/ws/p2p/${PEER}`], allowPrivateAddresses: true })
      const page = await fetch(`${url}/`)
      // 503 says how to build the page when dist/web is missing
      expect(page.status).to.equal(web.pageDir != null ? 200 : 503)
      if (web.pageDir != null) {
        expect(page.headers.get('content-type')).to.match(/text\/html/)
        expect(await page.text()).to.include('app.js')
      }
      expect((await fetch(`${url}/v1/status`)).status).to.equal(404)
      expect((await fetch(`${url}/../package.json`)).status).to.equal(404)
      expect((await fetch(`${url}/config.json`, { method: 'POST' })).status).to.equal(405)
    } finally {
      await web.close()
    }
  })
})
