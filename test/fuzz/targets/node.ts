import fc from 'fast-check'
import { parseHostPort } from '../../../src/daemon/config.ts'
import { ConfigError } from '../../../src/daemon/errors.ts'
import { InvalidMultiaddrError } from '../../../src/node/index.ts'
import { parseDialable } from '../../../src/node/murmur.ts'
import { expectOnly, FuzzFinding } from '../registry.ts'
import type { FuzzTarget } from '../registry.ts'

const PEER_ID = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

/**
 * Multiaddr-shaped strings: real protocol names with good and bad values, and
 * only loopback hosts (the control-API target may dial what parses)
 */
export const multiaddrString: fc.Arbitrary<string> = fc.array(fc.oneof(
  fc.constantFrom('/ip4/127.0.0.1', '/ip4/127.0.0.2', '/ip6/::1', '/dns4/localhost', '/tcp/4001', '/udp/4001', '/quic-v1', '/ws', '/wss',
    '/webrtc-direct', '/certhash/uEiB', '/p2p-circuit', '/webrtc', `/p2p/${PEER_ID}`, '/ip4', '/tcp', '/p2p', '//', '/'),
  fc.tuple(fc.constantFrom('ip4', 'ip6', 'tcp', 'udp', 'dns4', 'p2p', 'certhash', 'unix', 'x'), fc.string({ maxLength: 20 })).map(([p, v]) => `/${p}/${v}`)
), { maxLength: 6 }).map(parts => parts.join(''))

/** True when `text` has a host part that is not loopback: such an input is never sent to a live node */
export function namesRemoteHost (text: string): boolean {
  return /\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\/(?!127\.|::1(\/|$)|localhost(\/|$))/.test(text)
}

export function nodeTargets (): FuzzTarget[] {
  return [{
    name: 'multiaddr: bootstrap and dial addresses (parseDialable)',
    arbitrary: fc.oneof(multiaddrString, fc.string({ maxLength: 80 })),
    check: async (addr) => {
      const ma = await expectOnly(() => parseDialable(addr), [InvalidMultiaddrError], 'parseDialable')
      if (ma != null && ma.getComponents().find(c => c.name === 'p2p') == null) {
        throw new FuzzFinding(`parseDialable accepted "${addr}" without /p2p/`)
      }
    }
  }, {
    name: 'HOST:PORT (parseHostPort)',
    arbitrary: fc.oneof(
      fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6().map(h => `[${h}]`), fc.ipV6(), fc.domain(), fc.string({ maxLength: 12 })), fc.oneof(fc.nat({ max: 99999 }).map(String), fc.string({ maxLength: 6 }))).map(([h, p]) => `${h}:${p}`),
      fc.string({ maxLength: 40 })
    ),
    check: async (value) => {
      const hp = await expectOnly(() => parseHostPort(value, 'api'), [ConfigError], 'parseHostPort')
      if (hp != null && !(Number.isInteger(hp.port) && hp.port >= 0 && hp.port <= 65535)) {
        throw new FuzzFinding(`parseHostPort("${value}") gave port ${hp.port}`)
      }
    }
  }]
}
