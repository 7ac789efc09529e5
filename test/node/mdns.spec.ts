import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'

const SCRIPT = fileURLToPath(new URL('../fixtures/mdns-pair.ts', import.meta.url))

// mDNS multicasts beyond loopback, so it is only ever tried inside a network
// namespace this test makes: a veth pair that leads nowhere gives it a
// multicast-capable interface, and nothing leaves the namespace.
const NAMESPACE_SETUP = [
  'ip link set lo up',
  'ip link add vt0 type veth peer name vt1',
  'ip addr add 10.254.0.1/24 dev vt0',
  'ip link set vt0 up',
  'ip link set vt1 up',
  'ip route add default dev vt0'
].join(' && ')

function canMakeNamespaces (): boolean {
  return process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0 && spawnSync('ip', ['-V']).status === 0
}

describe('mDNS discovery (in a network namespace of its own)', function () {
  this.timeout(60_000)

  it('two nodes with --mdns and no bootstrap find and connect to each other', async function () {
    if (!canMakeNamespaces()) {
      // needs root, unshare and iproute2, as CI has; never run mDNS outside a namespace
      this.skip()
    }
    const child = spawn('unshare', ['-n', 'sh', '-c', `${NAMESPACE_SETUP} && exec "$0" "$1" 10.254.0.1`, process.execPath, SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += String(d) })
    child.stderr.on('data', (d) => { err += String(d) })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    expect(code, `stdout: ${out}\nstderr: ${err}`).to.equal(0)
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}')
    expect(result.connected).to.equal(true)
    expect(result.peersOfA).to.include(result.b)
  })
})
