import { spawn } from 'node:child_process'
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { parse } from 'yaml'
import { composeYaml, loadTopology, nodesTopology, plan, prometheusYaml, validateTopology } from '../../scripts/topology.js'
import { BIN, runCli, spawnDaemon, tempDir } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const file = (path: string): string => join(ROOT, path)

interface Result { code: number | null, stdout: string, stderr: string }

async function run (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += String(d) })
  child.stderr.on('data', (d) => { stderr += String(d) })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

describe('deploy/topology.json: one topology for compose and the netns testnet', function () {
  this.timeout(60_000)
  const topology = loadTopology()
  const hosts = plan(topology)

  it('describes a bootstrap, 3 relays, 3 store nodes and 2 clients', () => {
    const byRole = (role: string): number => hosts.filter(h => h.roles.includes(role as any)).length
    expect(byRole('bootstrap')).to.equal(1)
    expect(byRole('relay')).to.equal(3)
    expect(byRole('store')).to.equal(3)
    expect(hosts.filter(h => h.roles.length === 0)).to.have.length(2)
  })

  it('the committed docker/compose.yaml and docker/prometheus.yml are what the generator writes', async () => {
    expect(await readFile(file('docker/compose.yaml'), 'utf8')).to.equal(composeYaml(topology), 'run `npm run topology`')
    expect(await readFile(file('docker/prometheus.yml'), 'utf8')).to.equal(prometheusYaml(topology), 'run `npm run topology`')
    const check = await run(process.execPath, [file('scripts/topology.js'), '--check'])
    expect(check.code, check.stderr).to.equal(0)
  })

  it('every compose host is a testnet host with the same address and flags, and a Prometheus target', async () => {
    const compose = parse(await readFile(file('docker/compose.yaml'), 'utf8'))
    const prometheus = parse(await readFile(file('docker/prometheus.yml'), 'utf8'))
    const planned = await run(process.execPath, [file('scripts/testnet.js'), '--netns', '--topology', file('deploy/topology.json'), '--plan', '--json'])
    expect(planned.code, planned.stderr).to.equal(0)
    const testnet: Array<{ name: string, address: string, args: string[], roles: string[] }> = JSON.parse(planned.stdout)
    const targets: string[] = prometheus.scrape_configs.flatMap((c: any) => c.static_configs.flatMap((s: any) => s.targets))

    const murmurServices = Object.entries<any>(compose.services).filter(([, s]) => s.image === 'murmur:local')
    expect(murmurServices.map(([name]) => name)).to.deep.equal(testnet.map(h => h.name))
    for (const [name, service] of murmurServices) {
      const host = testnet.find(h => h.name === name)
      expect(host, name).to.not.equal(undefined)
      expect(service.networks.murmur.ipv4_address, name).to.equal(host?.address)
      expect(service.command, name).to.deep.equal(host?.args)
      expect(service.healthcheck, name).to.equal(undefined) // the image's HEALTHCHECK applies
      expect(targets, name).to.include(`${name}:${topology.ports.metrics}`)
      // the daemon's flags parse: the same CLI refuses a bad one with exit 2
      expect(service.command.join(' '), name).to.match(/--api 127\.0\.0\.1:\d+/)
    }
    expect(targets).to.have.length(murmurServices.length)
    expect(compose.networks.murmur.ipam.config[0].subnet).to.equal(topology.subnet)
    expect(Object.keys(compose.services)).to.include.members(['prometheus', 'grafana'])
  })

  it('the Grafana dashboard is valid JSON with the panels an operator reads, on the provisioned datasource', async () => {
    const dashboard = JSON.parse(await readFile(file('docker/grafana/dashboards/murmur.json'), 'utf8'))
    const datasource = parse(await readFile(file('docker/grafana/provisioning/datasources/prometheus.yml'), 'utf8'))
    const provider = parse(await readFile(file('docker/grafana/provisioning/dashboards/murmur.yml'), 'utf8'))
    const titles = dashboard.panels.map((p: any) => p.title).join(' | ')
    for (const what of ['peers', 'Gossip', 'Onion', 'Store', 'Errors']) {
      expect(titles).to.include(what)
    }
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).to.equal(datasource.datasources[0].uid)
      expect(panel.targets.length, panel.title).to.be.greaterThan(0)
      for (const t of panel.targets) {
        expect(t.expr, panel.title).to.match(/[a-z_]+/)
      }
    }
    expect(datasource.datasources[0].url).to.equal('http://prometheus:9090')
    const compose = parse(await readFile(file('docker/compose.yaml'), 'utf8'))
    expect(compose.services.grafana.volumes.join(' ')).to.include(`:${provider.providers[0].options.path}:ro`)
  })

  it('every metric a dashboard panel queries is one the code registers, with labels it sets', async () => {
    const dashboard = JSON.parse(await readFile(file('docker/grafana/dashboards/murmur.json'), 'utf8'))
    const prometheus = parse(await readFile(file('docker/prometheus.yml'), 'utf8'))
    // labels Prometheus adds to every series of a host
    const hostLabels = new Set<string>(prometheus.scrape_configs.flatMap((c: any) => c.static_configs.flatMap((s: any) => Object.keys(s.labels ?? {}))))
    // where each family is registered: Murmur's in src/, libp2p's in its modules, process_* by prom-client's default metrics
    const sources: Record<string, string[]> = {
      murmur: await sourceFiles(file('src'), '.ts'),
      libp2p: [
        ...await sourceFiles(file('node_modules/libp2p/dist/src'), '.js'),
        ...(await Promise.all((await readdir(file('node_modules/@libp2p'))).map(async m => sourceFiles(file(`node_modules/@libp2p/${m}/dist/src`), '.js')))).flat(),
        ...await sourceFiles(file('node_modules/@chainsafe/libp2p-noise/dist/src'), '.js')
      ],
      process: await sourceFiles(file('node_modules/prom-client/lib/metrics'), '.js')
    }
    const texts = new Map<string, string>()
    const text = async (path: string): Promise<string> => {
      if (!texts.has(path)) {
        texts.set(path, await readFile(path, 'utf8'))
      }
      return texts.get(path) as string
    }
    const check = async (where: string, metric: string, labels: string[]): Promise<void> => {
      const family = metric.split('_')[0]
      expect(Object.keys(sources), `${where}: ${metric} is of no known family`).to.include(family)
      const registeredIn = []
      for (const path of sources[family]) {
        if ((await text(path)).includes(`'${metric}'`)) {
          registeredIn.push(path)
        }
      }
      expect(registeredIn, `${where}: ${metric} is registered nowhere`).to.not.be.empty()
      for (const label of labels.filter(l => !hostLabels.has(l))) {
        const sets = await Promise.all(registeredIn.map(async p => (await text(p)).includes(`'${label}'`)))
        expect(sets, `${where}: ${metric} has no label ${label}`).to.include(true)
      }
    }
    const queried = new Set<string>()
    for (const panel of dashboard.panels) {
      for (const { metric, labels } of panel.targets.flatMap((t: any) => promqlMetrics(t.expr))) {
        queried.add(metric)
        await check(panel.title, metric, labels)
      }
    }
    // each layer that has metrics is on the dashboard
    for (const prefix of ['murmur_peers', 'murmur_onion', 'murmur_store', 'murmur_groups', 'murmur_contacts', 'libp2p_noise', 'process_']) {
      expect([...queried].some(m => m.startsWith(prefix)), prefix).to.equal(true)
    }
  })

  it('the metric check reads PromQL as meant', () => {
    expect(promqlMetrics('sum by (host, reason) (rate(murmur_groups_envelopes_total{result="reject"}[1m]))')).to.deep.equal([{ metric: 'murmur_groups_envelopes_total', labels: ['result', 'host', 'reason'] }])
    expect(promqlMetrics('murmur_store_messages')).to.deep.equal([{ metric: 'murmur_store_messages', labels: [] }])
    expect(promqlMetrics('rate(process_cpu_seconds_total[1m]) / on (host) gossipsub_peers')).to.deep.equal([
      { metric: 'process_cpu_seconds_total', labels: ['host'] }, { metric: 'gossipsub_peers', labels: ['host'] }
    ])
  })

  it('the Dockerfile is multi-stage on Node 24 slim, runs as a non-root user, checks health through /v1/health', async () => {
    const text = await readFile(file('docker/Dockerfile'), 'utf8')
    const from = text.split('\n').filter(l => l.startsWith('FROM '))
    expect(from).to.have.length.at.least(2)
    for (const line of from) {
      expect(line).to.match(/^FROM node:24-[a-z]+-slim/)
    }
    const user = /^USER (\S+)/m.exec(text)?.[1]
    expect(user).to.be.a('string')
    expect(user).to.not.match(/^(root|0)$/)
    expect(text).to.match(/^HEALTHCHECK .*healthcheck\.js/m)
    expect(await readFile(file('docker/healthcheck.js'), 'utf8')).to.include('/v1/health')
  })

  it('validates a topology: clear errors for bad ones', () => {
    expect(() => validateTopology({ subnet: '10.0.0.0/16', hosts: [] })).to.throw(/subnet/)
    expect(() => validateTopology({ subnet: '10.0.0.0/24', hosts: [{ name: 'a', roles: [] }] })).to.throw(/bootstrap/)
    expect(() => validateTopology({ subnet: '10.0.0.0/24', hosts: [{ name: 'a', roles: ['bootstrap'] }, { name: 'a', roles: [] }] })).to.throw(/taken/)
    expect(() => validateTopology({ subnet: '10.0.0.0/24', hosts: [{ name: 'A!', roles: ['bootstrap'] }] })).to.throw(/name/)
    expect(() => validateTopology({ subnet: '10.0.0.0/24', hosts: [{ name: 'a', roles: ['wizard'] }] })).to.throw(/roles/)
    expect(plan(nodesTopology(3)).map(h => h.name)).to.deep.equal(['n0', 'n1', 'n2'])
  })

  describe('the image\'s scripts, run here', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>

    before(async () => { tmp = await tempDir() })
    after(async () => { await tmp?.cleanup() })

    it('healthcheck.js: healthy while the daemon answers /v1/health with the token, unhealthy otherwise', async () => {
      const home = join(tmp.dir, 'health')
      const daemon = spawnDaemon(['--home', home, '--api', '127.0.0.1:0', '--metrics', 'off', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'])
      try {
        await waitFor(async () => (await readFile(join(home, 'api'), 'utf8').catch(() => '')) !== '', `the daemon to start (${daemon.output()})`)
        expect((await run(process.execPath, [file('docker/healthcheck.js')], { MURMUR_HOME: home })).code).to.equal(0)
        const token = await readFile(join(home, 'api-token'), 'utf8')
        await writeFile(join(home, 'api-token'), 'f'.repeat(64))
        expect((await run(process.execPath, [file('docker/healthcheck.js')], { MURMUR_HOME: home })).code).to.equal(1)
        await writeFile(join(home, 'api-token'), token)
      } finally {
        daemon.child.kill('SIGTERM')
        await daemon.exited
      }
      const stopped = await run(process.execPath, [file('docker/healthcheck.js')], { MURMUR_HOME: home })
      expect(stopped.code).to.equal(1)
    })

    it('entrypoint.sh: the bootstrap publishes its peer id, another host waits for it and adds --bootstrap', async () => {
      // a `murmur` on the PATH that runs the real `init` and only prints what it would run otherwise
      const bin = join(tmp.dir, 'bin')
      await mkdir(bin)
      await writeFile(join(bin, 'murmur'), `#!/bin/sh\nif [ "$1" = init ]; then exec "${process.execPath}" "${BIN}" "$@"; fi\necho "murmur $*"\n`)
      await chmod(join(bin, 'murmur'), 0o755)
      await writeFile(join(bin, 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`)
      await chmod(join(bin, 'node'), 0o755)
      const env = { PATH: `${bin}:${process.env.PATH ?? ''}` }
      const shared = join(tmp.dir, 'shared')
      await mkdir(shared)

      const boot = await run('sh', [file('docker/entrypoint.sh'), 'daemon', '--roles', 'bootstrap'], { ...env, MURMUR_HOME: join(tmp.dir, 'boot'), MURMUR_PUBLISH_PEER_ID: join(shared, 'id') })
      expect(boot.code, boot.stderr).to.equal(0)
      expect(boot.stdout.trim()).to.equal('murmur daemon --roles bootstrap')
      const peerId = (await readFile(join(shared, 'id'), 'utf8')).trim()
      const { stdout } = await runCli(['init', '--home', join(tmp.dir, 'boot'), '--json'])
      expect(JSON.parse(stdout).peerId).to.equal(peerId)

      const other = await run('sh', [file('docker/entrypoint.sh'), 'daemon', '--roles', 'relay'], { ...env, MURMUR_HOME: join(tmp.dir, 'relay'), MURMUR_BOOTSTRAP_PEER_ID: join(shared, 'id'), MURMUR_BOOTSTRAP_ADDR: '/ip4/10.77.0.10/tcp/7400' })
      expect(other.code, other.stderr).to.equal(0)
      expect(other.stdout.trim()).to.equal(`murmur daemon --roles relay --bootstrap /ip4/10.77.0.10/tcp/7400/p2p/${peerId}`)
    })
  })
})

/** Files under `dir` ending in `ext`; none when `dir` does not exist */
async function sourceFiles (dir: string, ext: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).filter(f => f.endsWith(ext)).map(f => join(dir, f))
  } catch {
    return []
  }
}

const PROMQL_WORDS = new Set(['sum', 'avg', 'min', 'max', 'count', 'rate', 'irate', 'increase', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'histogram_quantile', 'topk', 'bottomk', 'abs', 'and', 'or', 'unless', 'offset'])

/**
 * The metric names of a PromQL expression, each with the labels the expression
 * names anywhere (matchers, by/on clauses): a cheap reading, enough for the
 * dashboard's queries
 */
function promqlMetrics (expr: string): Array<{ metric: string, labels: string[] }> {
  const labels: string[] = []
  const bare = expr
    .replace(/\{([^}]*)\}/g, (_, inner: string) => { labels.push(...[...inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map(m => m[1])); return ' ' })
    .replace(/\b(by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, _w: string, inner: string) => { labels.push(...inner.split(',').map(l => l.trim()).filter(l => l !== '')); return ' ' })
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/"[^"]*"/g, ' ')
  const metrics = [...new Set(bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [])].filter(w => !PROMQL_WORDS.has(w))
  return metrics.map(metric => ({ metric, labels: [...new Set(labels)] }))
}
