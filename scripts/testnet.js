#!/usr/bin/env node
// A local testnet: N `murmur daemon`s with fresh homes, the first one the
// bootstrap of the others. On loopback by default; with --netns each daemon
// gets a network namespace of its own, joined by veth pairs to a bridge that
// lives in one more namespace, so nothing touches the host's own interfaces
// and one host can be cut off (`ip netns exec murmur-sw ip link set <if> down`).
//
//   npm run testnet -- --nodes 5 [--dir DIR] [--netns] [--roles relay,store]
//
// Ctrl-C (or SIGTERM) stops every daemon and removes what the script made.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const BIN = fileURLToPath(new URL('../bin/murmur.js', import.meta.url))
const SUBNET = '10.77.0'
const SWITCH = 'murmur-sw'

const usage = 'usage: npm run testnet -- [--nodes N] [--dir DIR] [--netns] [--roles LIST] [--keep]'
let args
try {
  args = parseArgs({
    options: {
      nodes: { type: 'string', default: '5' },
      dir: { type: 'string' },
      netns: { type: 'boolean', default: false },
      roles: { type: 'string', default: '' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' }
    }
  }).values
} catch (err) {
  process.stderr.write(`testnet: ${err.message}\n${usage}\n`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(usage + '\n')
  process.exit(0)
}
const count = Number(args.nodes)
if (!Number.isInteger(count) || count < 1 || count > 200) {
  process.stderr.write(`testnet: --nodes must be an integer from 1 to 200\n${usage}\n`)
  process.exit(2)
}
if (args.netns && process.getuid?.() !== 0) {
  process.stderr.write('testnet: --netns needs root (it creates network namespaces)\n')
  process.exit(2)
}

const root = args.dir ?? await mkdtemp(join(tmpdir(), 'murmur-testnet-'))
const daemons = []
const namespaces = []

function ip (...argv) {
  execFileSync('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function setUpNetns () {
  ip('netns', 'add', SWITCH)
  namespaces.push(SWITCH)
  ip('-n', SWITCH, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', SWITCH, 'link', 'set', 'br0', 'up')
  ip('-n', SWITCH, 'link', 'set', 'lo', 'up')
  for (let i = 0; i < count; i++) {
    const ns = `murmur-n${i}`
    ip('netns', 'add', ns)
    namespaces.push(ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('link', 'add', `mmv${i}`, 'netns', ns, 'type', 'veth', 'peer', 'name', `sw${i}`, 'netns', SWITCH)
    ip('-n', ns, 'addr', 'add', `${SUBNET}.${i + 1}/24`, 'dev', `mmv${i}`)
    ip('-n', ns, 'link', 'set', `mmv${i}`, 'up')
    ip('-n', SWITCH, 'link', 'set', `sw${i}`, 'master', 'br0')
    ip('-n', SWITCH, 'link', 'set', `sw${i}`, 'up')
  }
}

function tearDownNetns () {
  for (const ns of namespaces.reverse()) {
    try { ip('netns', 'del', ns) } catch {}
  }
}

async function waitForApi (home, child) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode != null) {
      throw new Error(`daemon in ${home} exited with code ${child.exitCode}`)
    }
    const url = await readFile(join(home, 'api'), 'utf8').catch(() => '')
    if (url.trim() !== '') {
      return url.trim()
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`daemon in ${home} did not start within 30 s`)
}

function startDaemon (i, bootstrap) {
  const home = join(root, `node${i}`)
  const listen = args.netns ? `/ip4/${SUBNET}.${i + 1}/tcp/7400` : '/ip4/127.0.0.1/tcp/0'
  const daemonArgs = [BIN, 'daemon', '--home', home, '--listen', listen, '--api', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--log-level', 'warn']
  const roles = i === 0 ? ['bootstrap', ...args.roles.split(',')] : args.roles.split(',')
  if (roles.filter(Boolean).length > 0) {
    daemonArgs.push('--roles', [...new Set(roles.filter(Boolean))].join(','))
  }
  if (bootstrap != null) {
    daemonArgs.push('--bootstrap', bootstrap)
  }
  const [cmd, argv] = args.netns
    ? ['ip', ['netns', 'exec', `murmur-n${i}`, process.execPath, ...daemonArgs]]
    : [process.execPath, daemonArgs]
  // a process group of its own: a terminal's Ctrl-C reaches this script, which stops each daemon once
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
  const d = { i, home, child, exited: new Promise(resolve => child.once('exit', resolve)) }
  daemons.push(d)
  return d
}

function cliPrefix (i) {
  return args.netns ? `ip netns exec murmur-n${i} ${BIN}` : BIN
}

let stopping = false
async function stopAll (code) {
  if (stopping) return
  stopping = true
  process.stderr.write('\ntestnet: stopping…\n')
  for (const d of daemons) d.child.kill('SIGTERM')
  await Promise.race([Promise.all(daemons.map(d => d.exited)), new Promise(resolve => setTimeout(resolve, 15_000))])
  for (const d of daemons) if (d.child.exitCode == null) d.child.kill('SIGKILL')
  if (args.netns) tearDownNetns()
  if (!args.keep && args.dir == null) await rm(root, { recursive: true, force: true })
  process.exit(code)
}
process.on('SIGINT', () => { void stopAll(0) })
process.on('SIGTERM', () => { void stopAll(0) })

try {
  if (args.netns) setUpNetns()
  const first = startDaemon(0)
  await waitForApi(first.home, first.child)
  const token = (await readFile(join(first.home, 'api-token'), 'utf8')).trim()
  let bootstrapAddr
  if (args.netns) {
    const out = execFileSync('ip', ['netns', 'exec', 'murmur-n0', process.execPath, BIN, 'id', '--home', first.home, '--json'], { encoding: 'utf8' })
    bootstrapAddr = JSON.parse(out).addresses[0]
  } else {
    const url = await waitForApi(first.home, first.child)
    const res = await fetch(`${url}/v1/id`, { headers: { Authorization: `Bearer ${token}` } })
    bootstrapAddr = (await res.json()).addresses[0]
  }
  const rest = []
  for (let i = 1; i < count; i++) rest.push(startDaemon(i, bootstrapAddr))
  const urls = await Promise.all(rest.map(async d => waitForApi(d.home, d.child)))

  process.stdout.write(`\ntestnet: ${count} daemon(s) running${args.netns ? ` in network namespaces murmur-n0..${count - 1} (${SUBNET}.0/24, bridge in ${SWITCH})` : ' on 127.0.0.1'}\n`)
  process.stdout.write(`bootstrap: ${bootstrapAddr}\n\n`)
  const rows = [[first.home, await waitForApi(first.home, first.child)], ...rest.map((d, k) => [d.home, urls[k]])]
  rows.forEach(([home, url], i) => {
    process.stdout.write(`node${i}  api ${url}  home ${home}\n        ${cliPrefix(i)} status --home ${home}\n`)
  })
  process.stdout.write('\nCtrl-C stops them all.\n')
  for (const d of daemons) {
    d.exited.then((code) => {
      if (!stopping) process.stderr.write(`testnet: node${d.i} exited with code ${code}\n`)
    })
  }
} catch (err) {
  process.stderr.write(`testnet: ${err.message}\n`)
  await stopAll(1)
}
