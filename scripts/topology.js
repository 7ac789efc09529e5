#!/usr/bin/env node
// The testnet's topology, from one description (deploy/topology.json), for
// both places it runs: docker/compose.yaml + docker/prometheus.yml (written
// here) and the netns testnet (scripts/testnet.js --netns --topology, which
// calls plan()). So the topology tested on this machine is the one that ships.
//
//   npm run topology            # rewrite docker/compose.yaml and docker/prometheus.yml
//   npm run topology -- --check # exit 1 if the committed files are not what this writes
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export const DEFAULT_TOPOLOGY = fileURLToPath(new URL('../deploy/topology.json', import.meta.url))
export const COMPOSE_FILE = fileURLToPath(new URL('../docker/compose.yaml', import.meta.url))
export const PROMETHEUS_FILE = fileURLToPath(new URL('../docker/prometheus.yml', import.meta.url))

const ROLES = ['bootstrap', 'relay', 'store']
/** Hosts get addresses from .10 up; .1 is Docker's gateway, .2 Prometheus, .3 Grafana */
const FIRST_HOST = 10
const NAME = /^[a-z][a-z0-9-]{0,30}$/

export class TopologyError extends Error {
  constructor (message) {
    super(message)
    this.name = 'TopologyError'
  }
}

export function loadTopology (file = DEFAULT_TOPOLOGY) {
  let raw
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new TopologyError(`${file}: ${err.message}`)
  }
  return validateTopology(raw, file)
}

/** Checks a topology object; throws a TopologyError naming what is wrong */
export function validateTopology (raw, source = 'topology') {
  const fail = (msg) => { throw new TopologyError(`${source}: ${msg}`) }
  if (typeof raw !== 'object' || raw == null || Array.isArray(raw)) fail('must be a JSON object')
  const m = /^(\d+)\.(\d+)\.(\d+)\.0\/24$/.exec(raw.subnet ?? '')
  if (m == null || m.slice(1).some(n => Number(n) > 255)) fail('subnet must be an IPv4 a.b.c.0/24')
  const ports = { tcp: 7400, ws: 7401, api: 7420, metrics: 7421, ...raw.ports }
  for (const [k, v] of Object.entries(ports)) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) fail(`ports.${k} must be a port number`)
  }
  if (!Array.isArray(raw.hosts) || raw.hosts.length === 0) fail('hosts must be a non-empty list')
  if (raw.hosts.length > 200) fail('at most 200 hosts')
  const names = new Set()
  for (const [i, h] of raw.hosts.entries()) {
    if (typeof h?.name !== 'string' || !NAME.test(h.name)) fail(`hosts[${i}].name must match ${NAME}`)
    if (names.has(h.name) || ['prometheus', 'grafana', 'sw'].includes(h.name)) fail(`hosts[${i}].name "${h.name}" is taken`)
    names.add(h.name)
    if (!Array.isArray(h.roles) || h.roles.some(r => !ROLES.includes(r))) fail(`hosts[${i}].roles must be a list of ${ROLES.join(', ')}`)
  }
  if (!raw.hosts.some(h => h.roles.includes('bootstrap'))) fail('one host needs the bootstrap role')
  return {
    subnet: raw.subnet,
    prefix: m.slice(1, 4).join('.'),
    ports,
    logLevel: raw.logLevel ?? 'info',
    hosts: raw.hosts.map(h => ({ name: h.name, roles: [...new Set(h.roles)] }))
  }
}

/** A topology of N generic hosts (`--nodes N`): n0 the bootstrap, every host with `roles` */
export function nodesTopology (count, roles = []) {
  return validateTopology({
    subnet: '10.77.0.0/24',
    hosts: Array.from({ length: count }, (_, i) => ({ name: `n${i}`, roles: i === 0 ? ['bootstrap', ...roles] : roles }))
  })
}

/**
 * Each host as it runs, in Docker and in a namespace alike: its address and
 * the `murmur daemon` flags (without --home and --bootstrap, which the runner
 * adds: `/data` and the bootstrap's peer id once it is known).
 */
export function plan (topology) {
  const { prefix, ports } = topology
  const bootstrapHost = topology.hosts.find(h => h.roles.includes('bootstrap'))
  const bootstrapAddress = `${prefix}.${FIRST_HOST + topology.hosts.indexOf(bootstrapHost)}`
  return topology.hosts.map((h, index) => {
    const address = `${prefix}.${FIRST_HOST + index}`
    const args = [
      'daemon',
      '--listen', `/ip4/0.0.0.0/tcp/${ports.tcp}`,
      '--listen', `/ip4/0.0.0.0/tcp/${ports.ws}/ws`,
      // only the host's own address: a peer told 127.0.0.1 would dial itself
      '--announce', `/ip4/${address}/tcp/${ports.tcp}`,
      '--announce', `/ip4/${address}/tcp/${ports.ws}/ws`,
      '--api', `127.0.0.1:${ports.api}`,
      // Prometheus scrapes from the next host: metrics leave loopback, the control API never does
      '--metrics', `0.0.0.0:${ports.metrics}`,
      '--log-level', topology.logLevel,
      // every host of the testnet is in one /24: under the default rule (no two relays of a route in one /16)
      // no onion route of 2 or more relays could be built; distinct hosts is the rule that still means something
      '--onion-diversity', 'host'
    ]
    if (h.roles.length > 0) args.push('--roles', h.roles.join(','))
    return {
      name: h.name,
      index,
      address,
      roles: h.roles,
      bootstrap: h === bootstrapHost,
      /** Where the others find the bootstrap, before `/p2p/<its peer id>` */
      bootstrapAddr: h === bootstrapHost ? undefined : `/ip4/${bootstrapAddress}/tcp/${ports.tcp}`,
      metrics: `${h.name}:${ports.metrics}`,
      args
    }
  })
}

// --- YAML out: plain maps, lists and scalars, enough for compose and Prometheus

function scalar (v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (v == null) return 'null'
  const s = String(v)
  const plain = /^[A-Za-z0-9_./][A-Za-z0-9_./:@,=+-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+(e[-+]?\d+)?)$/i.test(s) && !s.includes(': ')
  return plain ? s : JSON.stringify(s)
}

export function toYaml (value, indent = '') {
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []\n'
    return '\n' + value.map(v => {
      if (typeof v === 'object' && v != null && !Array.isArray(v)) {
        const body = toYaml(v, indent + '  ').replace(/^\n/, '')
        return `${indent}- ${body.slice(indent.length + 2)}`
      }
      return `${indent}- ${scalar(v)}\n`
    }).join('')
  }
  if (typeof value === 'object' && value != null) {
    const entries = Object.entries(value)
    if (entries.length === 0) return ' {}\n'
    return '\n' + entries.map(([k, v]) => {
      const key = scalar(k)
      if (typeof v === 'object' && v != null) return `${indent}${key}:${toYaml(v, indent + '  ')}`
      return `${indent}${key}: ${scalar(v)}\n`
    }).join('')
  }
  return ` ${scalar(value)}\n`
}

const HEADER = (what) => `# GENERATED from deploy/topology.json by scripts/topology.js: do not edit, run \`npm run topology\`.\n# ${what}\n`

export function composeObject (topology) {
  const hosts = plan(topology)
  const boot = hosts.find(h => h.bootstrap)
  const services = {}
  for (const h of hosts) {
    services[h.name] = {
      image: 'murmur:local',
      // the same build on every host: cached after the first, and no host pulls an image that is not built yet
      build: { context: '..', dockerfile: 'docker/Dockerfile' },
      hostname: h.name,
      restart: 'unless-stopped',
      command: h.args,
      environment: h.bootstrap
        ? { MURMUR_PUBLISH_PEER_ID: '/shared/bootstrap.peer-id' }
        : { MURMUR_BOOTSTRAP_PEER_ID: '/shared/bootstrap.peer-id', MURMUR_BOOTSTRAP_ADDR: h.bootstrapAddr },
      volumes: [`${h.name}-data:/data`, h.bootstrap ? 'shared:/shared' : 'shared:/shared:ro'],
      ...(h.bootstrap ? {} : { depends_on: { [boot.name]: { condition: 'service_started' } } }),
      networks: { murmur: { ipv4_address: h.address } }
    }
  }
  services.prometheus = {
    image: 'prom/prometheus:v2.53.0',
    restart: 'unless-stopped',
    volumes: ['./prometheus.yml:/etc/prometheus/prometheus.yml:ro', 'prometheus-data:/prometheus'],
    ports: ['127.0.0.1:9090:9090'],
    networks: { murmur: { ipv4_address: `${topology.prefix}.2` } }
  }
  services.grafana = {
    image: 'grafana/grafana:11.1.0',
    restart: 'unless-stopped',
    environment: {
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/murmur.json'
    },
    volumes: ['./grafana/provisioning:/etc/grafana/provisioning:ro', './grafana/dashboards:/var/lib/grafana/dashboards:ro', 'grafana-data:/var/lib/grafana'],
    ports: ['127.0.0.1:3000:3000'],
    depends_on: ['prometheus'],
    networks: { murmur: { ipv4_address: `${topology.prefix}.3` } }
  }
  const volumes = Object.fromEntries([...hosts.map(h => `${h.name}-data`), 'shared', 'prometheus-data', 'grafana-data'].map(v => [v, {}]))
  return {
    name: 'murmur',
    services,
    networks: { murmur: { ipam: { config: [{ subnet: topology.subnet }] } } },
    volumes
  }
}

export function composeYaml (topology) {
  return HEADER(`A Murmur testnet: ${topology.hosts.map(h => h.name).join(', ')}, with Prometheus and Grafana.\n#   docker compose -f docker/compose.yaml up --build -d     (Grafana on http://127.0.0.1:3000)`) +
    toYaml(composeObject(topology)).replace(/^\n/, '')
}

export function prometheusObject (topology) {
  return {
    global: { scrape_interval: '15s' },
    scrape_configs: [{
      job_name: 'murmur',
      static_configs: plan(topology).map(h => ({
        targets: [h.metrics],
        labels: { host: h.name, roles: h.roles.length > 0 ? h.roles.join(',') : 'client' }
      }))
    }]
  }
}

export function prometheusYaml (topology) {
  return HEADER('Prometheus scrapes every Murmur host of the compose testnet.') + toYaml(prometheusObject(topology)).replace(/^\n/, '')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, topology: { type: 'string' } } })
  try {
    const topology = loadTopology(values.topology ?? DEFAULT_TOPOLOGY)
    const files = [[COMPOSE_FILE, composeYaml(topology)], [PROMETHEUS_FILE, prometheusYaml(topology)]]
    let stale = 0
    for (const [file, text] of files) {
      let current = ''
      try { current = readFileSync(file, 'utf8') } catch {}
      if (current === text) continue
      if (values.check) {
        process.stderr.write(`topology: ${file} is not what deploy/topology.json gives: run \`npm run topology\`\n`)
        stale++
      } else {
        writeFileSync(file, text)
        process.stdout.write(`topology: wrote ${file}\n`)
      }
    }
    process.exit(stale > 0 ? 1 : 0)
  } catch (err) {
    process.stderr.write(`topology: ${err.message}\n`)
    process.exit(2)
  }
}
