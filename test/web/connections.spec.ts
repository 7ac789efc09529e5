import { expect } from 'aegir/chai'
import { classifyConnection } from '../../src/web/connections.ts'

const RELAY = '/ip4/10.254.0.1/tcp/7401/ws/p2p/12D3KooWHNsqgHBeAQSkRf73b1TEcMcDakyTrtTiSC96qk7yButA'
const PEER = '12D3KooWPKeW2XP773Lx2Evusv3BLvPK6ox7GWANCzHEutaSpfpQ'

describe('web page: connection kinds', () => {
  it('a WebRTC connection signalled through a relay is direct', () => {
    expect(classifyConnection(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`, false)).to.deep.equal({ kind: 'direct', transport: 'WebRTC' })
    expect(classifyConnection(`/webrtc/p2p/${PEER}`, false)).to.deep.equal({ kind: 'direct', transport: 'WebRTC' })
  })

  it('a circuit, or any limited connection, is relayed', () => {
    expect(classifyConnection(`${RELAY}/p2p-circuit/p2p/${PEER}`, false).kind).to.equal('relayed')
    expect(classifyConnection(`${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`, true).kind).to.equal('relayed')
  })

  it('WebSockets and WebRTC-direct reach a daemon', () => {
    expect(classifyConnection(RELAY, false)).to.deep.equal({ kind: 'daemon', transport: 'WebSocket' })
    expect(classifyConnection('/ip4/10.254.0.1/udp/7402/webrtc-direct/certhash/uEiBVXvGQd1uhJi-dXIak88VVL85sUJSVCqwxnN9m_nZzWg/p2p/' + PEER, false))
      .to.deep.equal({ kind: 'daemon', transport: 'WebRTC-direct' })
    expect(classifyConnection('/dns4/example.org/tcp/443/wss/p2p/' + PEER, false)).to.deep.equal({ kind: 'daemon', transport: 'WebSocket' })
  })
})
