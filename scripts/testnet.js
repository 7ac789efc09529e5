#!/usr/bin/env node
// A local testnet of `murmur daemon`s with fresh homes, and the commands to
// break it while it runs.
//
// Start one (this process supervises the daemons until Ctrl-C / SIGTERM):
//   npm run testnet -- --nodes 5 [--roles relay,store]      # on 127.0.0.1
//   npm run testnet -- --netns --nodes 5                     # one network namespace per host (root)
//   npm run testnet -- --netns --topology deploy/topology.json   # the hosts docker/compose.yaml ships
//   options: --dir DIR (default a temp dir), --keep (leave it after the stop), --plan (print the hosts and exit),
//            --name NAME (namespaces NAME-sw and NAME-<host>, default murmur: two netns testnets need two names)
//
// With --netns each host is the namespace murmur-<host>, its veth mmv<i>
// plugged into a bridge in the namespace murmur-sw (murmur is --name); addresses, roles and
// flags come from scripts/topology.js, as for the compose file.
//
// While it runs, from another terminal (the testnet's state is kept in its
// directory: state.json, and control.sock where the supervisor listens):
//   npm run testnet -- status                     # hosts, pids, peer ids, partitions, netem
//   npm run testnet -- stop HOST                  # SIGTERM, a clean stop
//   npm run testnet -- kill HOST                  # kill -9
//   npm run testnet -- restart HOST               # (stops it if running) starts it again on its home: same peer id
//   npm run testnet -- partition H1,H2 [H3,H4 …]  # each group on a switch of its own, the rest on the first (--netns)
//   npm run testnet -- heal                       # one switch again (--netns)
//   npm run testnet -- netem HOST [--delay MS] [--jitter MS] [--loss PCT]   # on HOST's outgoing link (--netns)
//   npm run testnet -- netem HOST clear
//   npm run testnet -- ping FROM TO [--count N]   # libp2p ping between two hosts, RTTs in ms
//   npm run testnet -- murmur HOST -- ARGS…       # run a murmur CLI command against HOST's daemon
// Each takes --dir DIR (default: the testnet started last) and --json.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadTopology, nodesTopology, plan } from './topology.js'

const BIN = fileURLToPath(new URL('../bin/murmur.js', import.meta.url))
const LINKEM = fileURLToPath(new URL('./linkem.py', import.meta.url))
/** The default prefix of the namespaces: <name>-sw is the switch, <name>-<host> a host */
const DEFAULT_NAME = 'murmur'
/** The testnet started last, for commands given without --dir */
const CURRENT = join(tmpdir(), 'murmur-testnet.current')
const COMMANDS = ['status', 'stop', 'kill', 'restart', 'partition', 'heal', 'netem', 'ping', 'murmur']
const NETNS_ONLY = new Set(['partition', 'heal', 'netem'])
/** Commands that change no host or link: they need not wait for the faults queued before them */
const READ_ONLY = new Set(['status', 'ping', 'murmur'])

const usage = `usage: npm run testnet -- [--nodes N | --topology FILE] [--netns] [--name NAME] [--roles LIST] [--dir DIR] [--keep] [--plan]
       npm run testnet -- [--dir DIR] [--json] ${COMMANDS.join('|')} …   (see scripts/testnet.js)`

class UsageError extends Error {}

let args
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      nodes: { type: 'string' },
      topology: { type: 'string' },
      dir: { type: 'string' },
      netns: { type: 'boolean', default: false },
      name: { type: 'string', default: DEFAULT_NAME },
      roles: { type: 'string', default: '' },
      keep: { type: 'boolean', default: false },
      plan: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      delay: { type: 'string' },
      jitter: { type: 'string' },
      loss: { type: 'string' },
      count: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
} catch (err) {
  process.stderr.write(`testnet: ${err.message}\n${usage}\n`)
  process.exit(2)
}
if (args.values.help) {
  process.stdout.write(usage + '\n')
  process.exit(0)
}


// --- the client side: one request to the running supervisor

async function runClient (opts, [command, ...rest]) {
  if (!COMMANDS.includes(command)) {
    process.stderr.write(`testnet: unknown command "${command}"\n${usage}\n`)
    return 2
  }
  const dir = opts.dir ?? (await readFile(CURRENT, 'utf8').catch(() => '')).trim()
  if (dir === '' || !existsSync(join(dir, 'control.sock'))) {
    process.stderr.write(`testnet: no running testnet${opts.dir != null ? ` in ${opts.dir}` : ''} (start one with \`npm run testnet\`)\n`)
    return 1
  }
  const request = { command, args: rest, delay: opts.delay, jitter: opts.jitter, loss: opts.loss, count: opts.count }
  const reply = await new Promise((resolve) => {
    const socket = createConnection(join(dir, 'control.sock'))
    let text = ''
    socket.on('data', (d) => { text += String(d) })
    socket.on('end', () => {
      try { resolve(JSON.parse(text)) } catch { resolve({ ok: false, code: 1, error: `bad reply: ${text}` }) }
    })
    socket.on('error', (err) => { resolve({ ok: false, code: 1, error: err.message }) })
    socket.end(JSON.stringify(request) + '\n')
  })
  if (!reply.ok) {
    process.stderr.write(`testnet ${command}: ${reply.error}\n`)
    return reply.code ?? 1
  }
  process.stdout.write(opts.json ? JSON.stringify(reply.result, null, 2) + '\n' : reply.text + '\n')
  return 0
}

// --- the supervisor: starts the hosts, keeps their state, serves the commands

async function supervise (opts) {
  let topology
  try {
    if (opts.topology != null && opts.nodes != null) throw new UsageError('give --nodes or --topology, not both')
    if (opts.topology != null) {
      topology = loadTopology(resolve(opts.topology))
    } else {
      const count = Number(opts.nodes ?? '5')
      if (!Number.isInteger(count) || count < 1 || count > 200) throw new UsageError('--nodes must be an integer from 1 to 200')
      topology = nodesTopology(count, opts.roles.split(',').filter(Boolean))
    }
  } catch (err) {
    process.stderr.write(`testnet: ${err.message}\n${usage}\n`)
    process.exit(2)
  }
  const hosts = plan(topology).map(h => ({ ...h, args: opts.netns ? h.args : loopbackArgs(topology, h) }))
  if (opts.plan) {
    const out = hosts.map(h => ({ name: h.name, address: opts.netns ? h.address : '127.0.0.1', roles: h.roles, args: h.args, bootstrapAddr: h.bootstrapAddr }))
    process.stdout.write(opts.json ? JSON.stringify(out, null, 2) + '\n' : out.map(h => `${h.name}  ${h.address}  ${h.roles.join(',') || 'client'}  murmur ${h.args.join(' ')}`).join('\n') + '\n')
    process.exit(0)
  }
  if (opts.netns && process.getuid?.() !== 0) {
    process.stderr.write('testnet: --netns needs root (it creates network namespaces)\n')
    process.exit(2)
  }
  if (!/^[a-z][a-z0-9-]{0,23}$/.test(opts.name)) {
    process.stderr.write(`testnet: --name must be 1 to 24 lower-case letters, digits or dashes, starting with a letter\n${usage}\n`)
    process.exit(2)
  }
  const SWITCH = `${opts.name}-sw`
  if (opts.netns && ipOk('netns', 'list') && execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').some(l => l.startsWith(`${SWITCH} `) || l === SWITCH)) {
    process.stderr.write(`testnet: the namespace ${SWITCH} exists: another netns testnet runs under the name ${opts.name} (start this one with another --name), or a stale one: \`ip netns del ${SWITCH}\` and ${opts.name}-<host>\n`)
    process.exit(1)
  }

  const root = resolve(opts.dir ?? await mkdtemp(join(tmpdir(), 'murmur-testnet-')))
  const tn = new Testnet({ root, netns: opts.netns, name: opts.name, hosts, keep: opts.keep || opts.dir != null })
  process.on('SIGINT', () => { void tn.shutdown(0) })
  process.on('SIGTERM', () => { void tn.shutdown(0) })
  // never leave daemons and namespaces behind on a bug of this script
  process.on('uncaughtException', (err) => {
    process.stderr.write(`testnet: ${err.stack ?? err.message}\n`)
    void tn.shutdown(1)
  })
  try {
    await tn.start()
  } catch (err) {
    process.stderr.write(`testnet: ${err.message}\n`)
    await tn.shutdown(1)
  }
}

function loopbackArgs (topology, h) {
  const args = ['daemon', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--log-level', 'warn']
  if (h.roles.length > 0) args.push('--roles', h.roles.join(','))
  return args
}

function ip (...argv) {
  execFileSync('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function ipOk (...argv) {
  try { ip(...argv); return true } catch { return false }
}

class Testnet {
  constructor ({ root, netns, name, hosts, keep }) {
    this.root = root
    this.netns = netns
    this.name = name
    this.keep = keep
    this.hosts = hosts.map(h => ({ ...h, home: join(root, h.name), status: 'new', pid: null, child: null, api: null, peerId: null, addr: null, restarts: 0 }))
    this.namespaces = []
    this.partition = null
    this.netem = {}
    this.bootstrapArgs = []
    this.stopping = false
    this.queue = Promise.resolve()
  }

  /** The network namespace of a host (--netns) */
  nsOf (h) {
    return `${this.name}-${h.name}`
  }

  /** The namespace of the switch the hosts' links plug into (--netns) */
  get switchNs () {
    return `${this.name}-sw`
  }

  host (name) {
    const h = this.hosts.find(x => x.name === name)
    if (h == null) throw new UsageError(`no host "${name}" (hosts: ${this.hosts.map(x => x.name).join(', ')})`)
    return h
  }

  async start () {
    if (this.netns) this.setUpNetns()
    const boot = this.hosts.find(h => h.bootstrap)
    // the bootstrap's peer id before it starts, as docker/entrypoint.sh does: `init` makes the key
    const init = JSON.parse(execFileSync(process.execPath, [BIN, 'init', '--home', boot.home, '--json'], { encoding: 'utf8' }))
    if (this.netns) {
      this.bootstrapArgs = ['--bootstrap', `${this.hosts.find(h => !h.bootstrap)?.bootstrapAddr ?? `/ip4/${boot.address}/tcp/7400`}/p2p/${init.peerId}`]
      await Promise.all(this.hosts.map(async h => this.launch(h)))
    } else {
      // on loopback the bootstrap's port is known only once it listens
      await this.launch(boot)
      const id = JSON.parse(execFileSync(process.execPath, [BIN, 'id', '--home', boot.home, '--json'], { encoding: 'utf8' }))
      this.bootstrapArgs = ['--bootstrap', id.addresses[0]]
      await Promise.all(this.hosts.filter(h => h !== boot).map(async h => this.launch(h)))
    }
    await this.listenForCommands()
    await writeFile(CURRENT, this.root + '\n')
    await this.saveState()

    const where = this.netns ? `in network namespaces ${this.name}-<host> (${this.hosts[0].address.replace(/\.\d+$/, '.0/24')}, bridge in ${this.switchNs})` : 'on 127.0.0.1'
    process.stdout.write(`\ntestnet: ${this.hosts.length} daemon(s) running ${where}\n`)
    process.stdout.write(`bootstrap: ${this.bootstrapArgs[1]}\nstate: ${join(this.root, 'state.json')}\n\n`)
    for (const h of this.hosts) {
      process.stdout.write(`${h.name}  api ${h.api}  home ${h.home}\n        ${this.netns ? `ip netns exec ${this.nsOf(h)} ` : ''}${BIN} status --home ${h.home}\n`)
    }
    process.stdout.write(`\nFaults: npm run testnet -- stop|kill|restart|partition|heal|netem|ping … (see scripts/testnet.js)\nCtrl-C stops them all.\n`)
  }

  setUpNetns () {
    ip('netns', 'add', this.switchNs)
    this.namespaces.push(this.switchNs)
    ip('-n', this.switchNs, 'link', 'set', 'lo', 'up')
    ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', this.switchNs, 'link', 'set', 'br0', 'up')
    for (const h of this.hosts) {
      const ns = this.nsOf(h)
      ip('netns', 'add', ns)
      this.namespaces.push(ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('link', 'add', `mmv${h.index}`, 'netns', ns, 'type', 'veth', 'peer', 'name', `sw${h.index}`, 'netns', this.switchNs)
      ip('-n', ns, 'addr', 'add', `${h.address}/24`, 'dev', `mmv${h.index}`)
      ip('-n', ns, 'link', 'set', `mmv${h.index}`, 'up')
      ip('-n', this.switchNs, 'link', 'set', `sw${h.index}`, 'master', 'br0')
      ip('-n', this.switchNs, 'link', 'set', `sw${h.index}`, 'up')
    }
  }

  tearDownNetns () {
    for (const ns of this.namespaces.reverse()) {
      try { ip('netns', 'del', ns) } catch {}
    }
    this.namespaces = []
  }

  /** Starts a host's daemon on its home and waits for its control API */
  async launch (h) {
    // a daemon killed with -9 leaves its `api` file: the CLI would find a dead address
    await rm(join(h.home, 'api'), { force: true })
    const argv = [BIN, ...h.args, '--home', h.home, ...(h.bootstrap ? [] : this.bootstrapArgs)]
    const [cmd, cmdArgs] = this.netns ? ['ip', ['netns', 'exec', this.nsOf(h), process.execPath, ...argv]] : [process.execPath, argv]
    // a process group of its own: Ctrl-C reaches this script, which stops each daemon once
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
    h.child = child
    h.pid = child.pid
    h.status = 'starting'
    h.exited = new Promise(resolve => child.once('exit', (code, signal) => {
      if (h.child === child) {
        h.status = h.status === 'stopping' ? 'stopped' : `exited (${signal ?? code})`
        h.pid = null
        h.child = null
        if (!this.stopping) {
          process.stderr.write(`testnet: ${h.name} exited with ${signal ?? `code ${code}`}\n`)
          void this.saveState()
        }
      }
      resolve()
    }))
    h.api = await waitForApi(h.home, child)
    const id = JSON.parse(await this.cli(h, ['id', '--json']))
    h.peerId = id.peerId
    // the TCP address on the host's own IP, with /p2p/<peer id>
    h.addr = id.addresses.find(a => a.startsWith(`/ip4/${this.netns ? h.address : '127.0.0.1'}/tcp/`) && !a.includes('/ws')) ?? id.addresses[0]
    h.status = 'running'
  }

  /** Runs `murmur ARGS --home <host's home>` where the host's daemon is reachable (its namespace) */
  async cli (h, cliArgs, timeoutMs = 60_000) {
    const argv = [BIN, ...cliArgs, '--home', h.home]
    const [cmd, cmdArgs] = this.netns ? ['ip', ['netns', 'exec', this.nsOf(h), process.execPath, ...argv]] : [process.execPath, argv]
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
      child.stdout.on('data', d => { out += String(d) })
      child.stderr.on('data', d => { err += String(d) })
      child.on('close', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve(out)
        else reject(Object.assign(new Error((err.trim() || out.trim() || `murmur ${cliArgs[0]} exited ${code}`).split('\n').filter(l => !l.startsWith('Run `murmur')).join(' ')), { exitCode: code }))
      })
    })
  }

  async stopHost (h, signal) {
    if (h.child == null) throw new UsageError(`${h.name} is not running (${h.status})`)
    const { exited, child } = h
    if (signal === 'SIGTERM') h.status = 'stopping'
    // the daemon is the process `ip netns exec` became: signal it, not a shell
    process.kill(child.pid, signal)
    const done = await Promise.race([exited.then(() => true), new Promise(resolve => setTimeout(() => resolve(false), 15_000))])
    if (!done) {
      process.kill(child.pid, 'SIGKILL')
      await exited
    }
    h.status = signal === 'SIGKILL' ? 'killed' : 'stopped'
  }

  async listenForCommands () {
    const sock = join(this.root, 'control.sock')
    await rm(sock, { force: true })
    // half-open: the client ends its side after the request and still reads the reply
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      let text = ''
      socket.on('data', (d) => {
        text += String(d)
        if (!text.includes('\n')) return
        let request
        try { request = JSON.parse(text) } catch { socket.end(JSON.stringify({ ok: false, code: 2, error: 'malformed request' })); return }
        const run = async () => {
          const reply = await this.handle(request).then(
            ({ text, result }) => ({ ok: true, text, result }),
            (err) => ({ ok: false, code: err instanceof UsageError ? 2 : 1, error: err.message })
          )
          await this.saveState()
          socket.end(JSON.stringify(reply))
        }
        if (READ_ONLY.has(request.command)) {
          // CLI commands, pings and status run side by side (a test drives traffic while it
          // breaks things): a slow send must not hold up a kill, nor one send another
          void run()
        } else {
          // one fault at a time: a restart and a partition do not interleave
          this.queue = this.queue.catch(() => {}).then(run)
        }
      })
      socket.on('error', () => {})
    })
    await new Promise((resolve, reject) => { this.server.once('error', reject); this.server.listen(sock, resolve) })
  }

  async handle ({ command, args = [], delay, jitter, loss, count }) {
    if (NETNS_ONLY.has(command) && !this.netns) throw new UsageError(`${command} needs a testnet started with --netns`)
    switch (command) {
      case 'status': {
        const result = this.describe()
        const rows = result.hosts.map(h => `${h.name.padEnd(10)} ${h.status.padEnd(12)} pid ${String(h.pid ?? '-').padEnd(8)} ${h.address.padEnd(12)} ${h.peerId ?? ''}${h.netem != null ? `  netem ${h.netem}` : ''}`)
        if (result.partition != null) rows.push(`partition: ${result.partition.map(g => g.join(',')).join(' | ')}`)
        return { result, text: rows.join('\n') }
      }
      case 'stop':
      case 'kill': {
        const h = this.host(one(args, command))
        await this.stopHost(h, command === 'kill' ? 'SIGKILL' : 'SIGTERM')
        return { result: { host: h.name, status: h.status }, text: `${h.name} ${h.status}` }
      }
      case 'restart': {
        const h = this.host(one(args, command))
        if (h.child != null) await this.stopHost(h, 'SIGTERM')
        const before = h.peerId
        const started = Date.now()
        await this.launch(h)
        h.restarts++
        return { result: { host: h.name, peerId: h.peerId, samePeerId: before === h.peerId, pid: h.pid, ms: Date.now() - started }, text: `${h.name} running again, pid ${h.pid}, peer id ${h.peerId}${before === h.peerId ? ' (unchanged)' : ''}` }
      }
      case 'partition': {
        if (args.length === 0) throw new UsageError('partition H1,H2 [H3,H4 …]: each group is cut off from the other groups and the rest')
        const groups = args.map(g => g.split(',').filter(Boolean).map(n => this.host(n)))
        const seen = new Set()
        for (const h of groups.flat()) {
          if (seen.has(h)) throw new UsageError(`${h.name} is in two groups`)
          seen.add(h)
        }
        this.healSwitch()
        groups.forEach((group, k) => {
          const br = `br${k + 1}`
          ip('-n', this.switchNs, 'link', 'add', br, 'type', 'bridge')
          ip('-n', this.switchNs, 'link', 'set', br, 'up')
          for (const h of group) {
            ip('-n', this.switchNs, 'link', 'set', h.port ?? `sw${h.index}`, 'master', br)
            h.bridge = br
          }
        })
        const rest = this.hosts.filter(h => !seen.has(h))
        this.partition = [rest, ...groups].filter(g => g.length > 0).map(g => g.map(h => h.name))
        return { result: { partition: this.partition }, text: `partitioned: ${this.partition.map(g => g.join(',')).join(' | ')}` }
      }
      case 'heal': {
        this.healSwitch()
        this.partition = null
        return { result: { partition: null }, text: 'healed: one switch' }
      }
      case 'netem': {
        const h = this.host(args[0] ?? '')
        if (args[1] === 'clear') {
          this.clearNetem(h)
          return { result: { host: h.name, netem: null }, text: `${h.name}: netem cleared` }
        }
        if (args.length > 1) throw new UsageError('netem HOST [--delay MS] [--jitter MS] [--loss PCT], or netem HOST clear')
        const spec = {
          delay: delay != null ? number(delay, '--delay', 0, 60_000) : 0,
          jitter: jitter != null ? number(jitter, '--jitter', 0, 60_000) : 0,
          loss: loss != null ? number(loss, '--loss', 0, 100) : 0
        }
        if (jitter != null && delay == null) throw new UsageError('--jitter needs --delay')
        if (delay == null && loss == null) throw new UsageError('netem needs --delay, --loss or clear')
        this.clearNetem(h)
        const how = this.applyNetem(h, spec)
        this.netem[h.name] = `delay ${spec.delay}ms${spec.jitter > 0 ? ` ±${spec.jitter}ms` : ''} loss ${spec.loss}% (${how})`
        return { result: { host: h.name, netem: this.netem[h.name], ...spec, how }, text: `${h.name}: ${this.netem[h.name]} on its outgoing link` }
      }
      case 'ping': {
        if (args.length !== 2) throw new UsageError('ping FROM TO [--count N]')
        const [from, to] = args.map(n => this.host(n))
        if (to.addr == null) throw new UsageError(`${to.name} has not started`)
        const out = JSON.parse(await this.cli(from, ['ping', to.addr, '--count', String(count ?? 5), '--json']))
        return { result: { from: from.name, to: to.name, ...out }, text: `${from.name} → ${to.name}: ${out.rttsMs.join(' ')} ms (median ${out.medianMs})` }
      }
      case 'murmur': {
        const h = this.host(args[0] ?? '')
        const rest = args.slice(1)[0] === '--' ? args.slice(2) : args.slice(1)
        const out = await this.cli(h, rest)
        let result
        try { result = JSON.parse(out) } catch { result = { output: out } }
        return { result, text: out.trimEnd() }
      }
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  }

  /**
   * Delay, jitter and loss on the host's outgoing link: `tc netem` in its
   * namespace where the kernel has it, else scripts/linkem.py spliced into the
   * link in the switch namespace (kernels built without sch_netem, as here)
   */
  applyNetem (h, { delay, jitter, loss }) {
    const dev = `mmv${h.index}`
    const tcSpec = [...(delay > 0 || jitter > 0 ? ['delay', `${delay}ms`, ...(jitter > 0 ? [`${jitter}ms`] : [])] : []), ...(loss > 0 ? ['loss', `${loss}%`] : [])]
    try {
      execFileSync('ip', ['netns', 'exec', this.nsOf(h), 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'netem', ...tcSpec], { stdio: ['ignore', 'ignore', 'pipe'] })
      h.tcNetem = true
      return 'tc netem'
    } catch (err) {
      if (!/qdisc kind is unknown|No such file/i.test(String(err.stderr ?? err.message))) throw err
    }
    const missing = ['python3', 'ethtool'].filter(tool => !commandExists(tool))
    if (missing.length > 0) {
      throw new Error(`this kernel has no sch_netem, and the userspace fallback (scripts/linkem.py) needs ${missing.join(' and ')} (apt-get install -y ${missing.map(t => t === 'python3' ? 'python3' : t).join(' ')})`)
    }
    const [hostPort, relayPort, bridgePort] = [`sw${h.index}`, `sq${h.index}`, `sr${h.index}`]
    ip('-n', this.switchNs, 'link', 'add', relayPort, 'type', 'veth', 'peer', 'name', bridgePort)
    // frames cross a raw socket one by one, so they must be whole on both sides of it: no
    // segmentation offload (a 64 KiB frame cannot be sent) and no checksum offload (a
    // frame whose checksum the kernel meant to fill in later would arrive corrupt)
    const offloadsOff = ['tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']
    execFileSync('ip', ['netns', 'exec', this.nsOf(h), 'ethtool', '-K', dev, ...offloadsOff], { stdio: 'ignore' })
    for (const port of [hostPort, relayPort, bridgePort]) {
      execFileSync('ip', ['netns', 'exec', this.switchNs, 'ethtool', '-K', port, ...offloadsOff], { stdio: 'ignore' })
    }
    ip('-n', this.switchNs, 'link', 'set', hostPort, 'nomaster')
    ip('-n', this.switchNs, 'link', 'set', hostPort, 'promisc', 'on')
    ip('-n', this.switchNs, 'link', 'set', relayPort, 'promisc', 'on', 'up')
    ip('-n', this.switchNs, 'link', 'set', bridgePort, 'master', h.bridge ?? 'br0', 'up')
    h.port = bridgePort
    const relay = spawn('ip', ['netns', 'exec', this.switchNs, 'python3', LINKEM, hostPort, relayPort, '--delay', String(delay), '--jitter', String(jitter), '--loss', String(loss)], { stdio: ['ignore', 'ignore', 'inherit'], detached: true })
    h.linkem = relay
    relay.once('exit', () => { if (h.linkem === relay) h.linkem = null })
    return 'linkem'
  }

  clearNetem (h) {
    if (h.tcNetem) {
      try { execFileSync('ip', ['netns', 'exec', this.nsOf(h), 'tc', 'qdisc', 'del', 'dev', `mmv${h.index}`, 'root'], { stdio: 'ignore' }) } catch {}
      h.tcNetem = false
    }
    if (h.port != null && h.port !== `sw${h.index}`) {
      if (h.linkem != null) {
        try { process.kill(h.linkem.pid, 'SIGKILL') } catch {}
        h.linkem = null
      }
      ipOk('-n', this.switchNs, 'link', 'del', `sq${h.index}`)
      ip('-n', this.switchNs, 'link', 'set', `sw${h.index}`, 'promisc', 'off')
      ip('-n', this.switchNs, 'link', 'set', `sw${h.index}`, 'master', h.bridge ?? 'br0')
      h.port = `sw${h.index}`
    }
    delete this.netem[h.name]
  }

  healSwitch () {
    for (const h of this.hosts) {
      ip('-n', this.switchNs, 'link', 'set', h.port ?? `sw${h.index}`, 'master', 'br0')
      h.bridge = 'br0'
    }
    for (let k = 1; k <= this.hosts.length; k++) {
      if (!ipOk('-n', this.switchNs, 'link', 'del', `br${k}`)) break
    }
  }

  describe () {
    return {
      dir: this.root,
      netns: this.netns,
      hosts: this.hosts.map(h => ({
        name: h.name,
        namespace: this.netns ? this.nsOf(h) : null,
        address: this.netns ? h.address : '127.0.0.1',
        roles: h.roles,
        status: h.status,
        pid: h.pid,
        peerId: h.peerId,
        addr: h.addr,
        api: h.api,
        home: h.home,
        restarts: h.restarts,
        netem: this.netem[h.name] ?? null
      })),
      partition: this.partition
    }
  }

  /** Writes state.json (atomically, one write at a time) */
  async saveState () {
    this.saving = (this.saving ?? Promise.resolve()).then(async () => {
      const file = join(this.root, 'state.json')
      await writeFile(file + '.tmp', JSON.stringify(this.describe(), null, 2) + '\n')
      await rename(file + '.tmp', file)
    }).catch((err) => {
      if (!this.stopping) process.stderr.write(`testnet: cannot write state.json: ${err.message}\n`)
    })
    return this.saving
  }

  async shutdown (code) {
    if (this.stopping) return
    this.stopping = true
    process.stderr.write('\ntestnet: stopping…\n')
    this.server?.close()
    for (const h of this.hosts) {
      if (h.linkem != null) try { process.kill(h.linkem.pid, 'SIGKILL') } catch {}
    }
    const running = this.hosts.filter(h => h.child != null)
    for (const h of running) {
      try { process.kill(h.child.pid, 'SIGTERM') } catch {}
    }
    await Promise.race([Promise.all(running.map(h => h.exited)), new Promise(resolve => setTimeout(resolve, 15_000))])
    for (const h of running) {
      if (h.child != null) try { process.kill(h.child.pid, 'SIGKILL') } catch {}
    }
    if (this.netns) this.tearDownNetns()
    if ((await readFile(CURRENT, 'utf8').catch(() => '')).trim() === this.root) await rm(CURRENT, { force: true })
    await rm(join(this.root, 'control.sock'), { force: true })
    if (!this.keep) await rm(this.root, { recursive: true, force: true })
    process.exit(code)
  }
}

function commandExists (name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function one (args, command) {
  if (args.length !== 1) throw new UsageError(`${command} HOST`)
  return args[0]
}

function number (value, flag, min, max) {
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number from ${min} to ${max}`)
  return n
}

async function waitForApi (home, child) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode != null || child.signalCode != null) {
      throw new Error(`daemon in ${home} exited with ${child.signalCode ?? `code ${child.exitCode}`}`)
    }
    const url = await readFile(join(home, 'api'), 'utf8').catch(() => '')
    if (url.trim() !== '') {
      return url.trim()
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`daemon in ${home} did not start within 30 s`)
}

// last: the classes above must exist before the top-level await runs
if (args.positionals.length > 0) {
  process.exit(await runClient(args.values, args.positionals))
} else {
  await supervise(args.values)
}
