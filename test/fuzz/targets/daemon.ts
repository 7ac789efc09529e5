import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import fc from 'fast-check'
import { nodeRoutes } from '../../../src/daemon/api/routes/node.ts'
import { ControlApi, stringField } from '../../../src/daemon/api/server.ts'
import { COMMANDS, main } from '../../../src/daemon/cli.ts'
import { GLOBAL_OPTIONS } from '../../../src/daemon/commands/command.ts'
import { CONFIG_OPTIONS, configFromFlags } from '../../../src/daemon/commands/config-flags.ts'
import { mergeConfig, readConfigFile, validateConfig } from '../../../src/daemon/config.ts'
import { ConfigError, RemoteApiRefusedError } from '../../../src/daemon/errors.ts'
import { createNode, loopbackProfile, silentLogger } from '../../../src/node/index.ts'
import { expectOnly, FuzzFinding } from '../registry.ts'
import { multiaddrString, namesRemoteHost } from './node.ts'
import type { MurmurNode } from '../../../src/node/index.ts'
import type { FuzzTarget } from '../registry.ts'

const TOKEN = 'fuzz-token'

/** A control API over a real node on loopback, with the node's routes and one that reads a body field */
function liveApi (): { start(): Promise<void>, stop(): Promise<void>, api(): ControlApi, url(): string } {
  let node: MurmurNode | undefined
  let api: ControlApi | undefined
  let url = ''
  return {
    start: async () => {
      node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile(), logger: silentLogger() })
      await node.start()
      api = new ControlApi({ token: TOKEN, logger: silentLogger().forComponent('fuzz') })
      api.addRoutes(nodeRoutes(node))
      api.addRoutes([{ method: 'PUT', path: '/v1/echo/:name', handler: async ({ body, params }) => ({ name: params.name, value: stringField(await body(), 'value') }) }])
      url = (await api.listen('127.0.0.1', 0)).url
    },
    stop: async () => {
      await api?.close()
      await node?.stop()
    },
    api: () => api as ControlApi,
    url: () => url
  }
}

/** Statuses the control API may answer an authenticated request with; a 500 is a finding */
const API_STATUSES = new Set([200, 400, 404, 405, 413, 503, 504])

const jsonBody = fc.oneof(
  fc.json(),
  fc.record({ addr: fc.oneof(multiaddrString, fc.string()) }).map(v => JSON.stringify(v)),
  fc.record({ value: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }).map(v => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constant('x'.repeat(1024 * 1024 + 1))
)

function controlApiRequests (): FuzzTarget {
  const live = liveApi()
  return {
    name: 'control API: methods, routes and bodies',
    ciRuns: 120,
    setup: live.start,
    teardown: live.stop,
    // built after setup: the registered routes are the API's own table, not a list kept here (less the event
    // stream, which answers for as long as the client listens)
    get arbitrary () {
      return fc.record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        // a registered route with its parameters filled in, or any path
        path: fc.oneof(
          fc.tuple(fc.constantFrom(...live.api().routeTable().map(r => r.path).filter(p => p !== '/v1/events')), fc.string({ maxLength: 80 }))
            .map(([p, v]) => p.replace(/:[^/]+/, encodeURIComponent(v) === '' ? 'x' : encodeURIComponent(v))),
          fc.webPath(),
          fc.string({ maxLength: 100 }).map(s => '/' + encodeURIComponent(s)),
          fc.constantFrom('/v1/peers/%', '/v1/peers/%E0%A4%A', '/v1//peers', '/v1/peers/..%2F..%2Fid')
        ),
        query: fc.option(fc.webQueryParameters(), { nil: undefined }),
        body: fc.option(jsonBody, { nil: undefined })
      })
    },
    check: async ({ method, path, query, body }) => {
      if (body != null && namesRemoteHost(body)) {
        // traffic stays on loopback: a body that could make the node dial elsewhere is not sent
        return
      }
      const withBody = body != null && method !== 'GET'
      const res = await fetch(`${live.url()}${path}${query != null ? `?${query}` : ''}`, {
        method,
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: withBody ? body : undefined,
        signal: AbortSignal.timeout(35_000)
      })
      const text = await res.text()
      if (!API_STATUSES.has(res.status)) {
        throw new FuzzFinding(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`)
      }
      const json = JSON.parse(text)
      if (res.status !== 200 && (typeof json?.error?.code !== 'string' || typeof json?.error?.message !== 'string')) {
        throw new FuzzFinding(`${method} ${path} answered ${res.status} without a JSON error: ${text.slice(0, 300)}`)
      }
    }
  }
}

/** Raw bytes on the control API's socket: a malformed request is answered or dropped, and the API keeps serving */
function controlApiRaw (): FuzzTarget {
  const live = liveApi()
  const line = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.constantFrom('GET /v1/health HTTP/1.1', 'POST /v1/connect HTTP/1.1', 'GET / HTTP/9.9', 'GET /v1/health HTTP/1.1\r\nTransfer-Encoding: chunked'),
    fc.tuple(fc.constantFrom('Content-Length', 'Transfer-Encoding', 'Authorization', 'Host', 'Expect'), fc.string({ maxLength: 60 })).map(([k, v]) => `${k}: ${v}`)
  )
  return {
    name: 'control API: raw HTTP',
    ciRuns: 80,
    setup: live.start,
    teardown: live.stop,
    arbitrary: fc.tuple(fc.array(line, { maxLength: 8 }), fc.boolean(), fc.uint8Array({ maxLength: 256 })),
    check: async ([lines, finish, tail]) => {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(new URL(live.url()).port), '127.0.0.1')
        socket.setTimeout(2_000, () => socket.destroy())
        socket.on('error', () => {})
        socket.on('close', () => { resolve() })
        socket.on('connect', () => {
          socket.write(lines.join('\r\n') + (finish ? '\r\n\r\n' : '\r\n'))
          socket.end(tail)
        })
        socket.resume()
      })
      const health = await fetch(`${live.url()}/v1/health`, { headers: { Authorization: `Bearer ${TOKEN}` } })
      if (health.status !== 200) {
        throw new FuzzFinding(`after raw input ${JSON.stringify(lines)}, /v1/health answered ${health.status}`)
      }
    }
  }
}

/** Every field of the daemon's config (the defaults name them all), so a new field is fuzzed the day it is added */
const CONFIG_FIELDS = Object.keys(mergeConfig({}))
const configValue = fc.oneof(
  fc.jsonValue(),
  fc.array(fc.oneof(multiaddrString, fc.string()), { maxLength: 3 }),
  fc.array(fc.constantFrom('relay', 'store', 'bootstrap', 'wizard', ''), { maxLength: 4 }),
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), fc.string({ maxLength: 10 })), fc.integer({ min: -1, max: 70000 })).map(([h, p]) => `${h}:${p}`),
  fc.constantFrom('debug', 'loud', null, true, 'private', 'default'),
  // sizes, durations and rates (storeTtl, storeMaxBytes, …): good, bad and out of range
  fc.oneof(fc.integer(), fc.double(), fc.constantFrom('7d', '1h', '30m', '0s', '-1d', '8d', '1e3s', '10x', '', '1.5h', 'P1D'))
)
const configObject = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...CONFIG_FIELDS), fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty')), configValue, { maxKeys: 6 }),
  fc.jsonValue()
)

function configTargets (): FuzzTarget[] {
  let dir = ''
  return [{
    name: 'config: validateConfig',
    arbitrary: configObject,
    check: async (raw) => {
      const out = await expectOnly(() => validateConfig(raw, 'config.json'), [ConfigError], 'validateConfig')
      if (out != null && Object.keys(out).some(k => !CONFIG_FIELDS.includes(k))) {
        throw new FuzzFinding(`validateConfig let through an unknown field: ${JSON.stringify(Object.keys(out))}`)
      }
    }
  }, {
    name: 'config: the config.json file',
    setup: async () => { dir = await mkdtemp(join(tmpdir(), 'murmur-fuzz-')) },
    teardown: async () => { await rm(dir, { recursive: true, force: true }) },
    arbitrary: fc.oneof(
      configObject.map(v => JSON.stringify(v) ?? ''),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map(b => Buffer.from(b).toString('latin1'))
    ),
    check: async (text) => {
      await writeFile(join(dir, 'config.json'), text)
      await expectOnly(async () => readConfigFile(dir), [ConfigError], 'readConfigFile')
    }
  }]
}

/** A flag value of the right type for `spec`, or of the wrong one */
const flagValues = fc.dictionary(
  fc.constantFrom(...Object.keys(CONFIG_OPTIONS)),
  fc.oneof(fc.string({ maxLength: 60 }), multiaddrString, fc.boolean(), fc.array(fc.oneof(multiaddrString, fc.string()), { maxLength: 3 })),
  { maxKeys: 5 }
)

function cliTargets (): FuzzTarget[] {
  let home = ''
  const commandWords = [...new Set(COMMANDS.flatMap(c => c.name.split(' ')))]
  const optionNames = [...new Set(COMMANDS.flatMap(c => Object.keys(c.options)).concat(Object.keys(GLOBAL_OPTIONS)))]
    // never point the fuzzed CLI at another home or at another address than the one set below
    .filter(n => n !== 'home' && n !== 'api')
  const token = fc.oneof(
    fc.constantFrom(...optionNames).map(n => `--${n}`),
    fc.constantFrom(...optionNames).map(n => `--no-${n}`),
    fc.tuple(fc.constantFrom(...optionNames), fc.string({ maxLength: 30 })).map(([n, v]) => `--${n}=${v}`),
    fc.constantFrom('-h', '--', '-', '--json', '-x', '---'),
    multiaddrString,
    fc.string({ maxLength: 40 })
  ).filter(t => !/^-+(no-)?(home|api)\b/.test(t) && !/^-[a-z]*h/.test(t.replace(/^-h$/, '')))
  const sink = (): Writable => new Writable({ write (_c, _e, cb) { cb() } })
  return [{
    name: 'cli: daemon flags (configFromFlags)',
    arbitrary: flagValues,
    check: async (values) => {
      await expectOnly(() => configFromFlags(values), [ConfigError], 'configFromFlags')
    }
  }, {
    name: 'cli: argument parser (main)',
    ciRuns: 150,
    setup: async () => {
      home = await mkdtemp(join(tmpdir(), 'murmur-fuzz-cli-'))
      await mkdir(join(home, 'h'))
    },
    teardown: async () => { await rm(home, { recursive: true, force: true }) },
    arbitrary: fc.tuple(
      // `daemon` would start a node: its parser is the same one, and its flags are fuzzed above
      fc.array(fc.constantFrom(...commandWords.filter(w => w !== 'daemon'), 'help', 'version', 'nope'), { minLength: 0, maxLength: 2 }),
      fc.array(token, { maxLength: 6 })
    ),
    check: async ([words, rest]) => {
      const argv = [...words, ...rest]
      if (argv[0] === 'daemon') {
        return
      }
      const io = { stdout: sink(), stderr: sink(), env: { MURMUR_HOME: join(home, 'h') } }
      const code = await expectOnly(async () => main([...argv, '--home', join(home, 'h')], io), [RemoteApiRefusedError], `main(${JSON.stringify(argv)})`)
      if (code != null && ![0, 1, 2].includes(code)) {
        throw new FuzzFinding(`main(${JSON.stringify(argv)}) exited ${code}`)
      }
    }
  }]
}

export function daemonTargets (): FuzzTarget[] {
  return [controlApiRequests(), controlApiRaw(), ...configTargets(), ...cliTargets()]
}
