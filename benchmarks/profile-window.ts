/**
 * Where a process's CPU went during a window of a benchmark: reads a V8 CPU
 * profile (`node --cpu-prof`) and prints self time by package or source
 * folder, by function, and time by function with its callees, counting only
 * the samples between START and END (µs of the monotonic clock; the store
 * scenario prints its onion drain's with MURMUR_BENCH_MARKS=1). Usage:
 * `npx node benchmarks/profile-window.ts START END file.cpuprofile [rows]`.
 * See benchmarks/README.md ("Where the onion drain's CPU goes") for a whole run.
 */

import { readFileSync } from 'node:fs'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }

const [start, end, file, rowsArg] = process.argv.slice(2)
if (file == null) {
  process.stderr.write('usage: profile-window.ts START_US END_US file.cpuprofile [rows]\n')
  process.exit(2)
}
const rows = Number(rowsArg ?? 30)
const profile: Profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) {
  for (const c of n.children ?? []) { parent.set(c, n.id) }
}

function where (url: string): string {
  const pkg = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/)
  if (pkg != null) { return pkg[1] }
  const own = url.match(/\/((src|benchmarks|test)\/[^/]+)\//)
  return own != null ? own[1] : url
}

function name (n: ProfileNode): string {
  const f = n.callFrame
  return `${f.functionName === '' ? '(anonymous)' : f.functionName} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/((src|benchmarks|test)\/)/, '$1')}:${f.lineNumber + 1}`
}

const self = new Map<string, number>()
const total = new Map<string, number>()
const areas = new Map<string, number>()
const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v) }
let t = profile.startTime
let window = 0
let idle = 0
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]
  if (t < Number(start) || t > Number(end)) { continue }
  const dt = profile.timeDeltas[i + 1] ?? 0
  const node = byId.get(profile.samples[i])
  if (node == null) { continue }
  window += dt
  if (node.callFrame.functionName === '(idle)') {
    idle += dt
    continue
  }
  add(self, name(node), dt)
  add(areas, node.callFrame.url === '' ? node.callFrame.functionName : where(node.callFrame.url), dt)
  const seen = new Set<string>()
  for (let id: number | undefined = node.id; id != null; id = parent.get(id)) {
    const k = name(byId.get(id) as ProfileNode)
    if (!seen.has(k)) {
      seen.add(k)
      add(total, k, dt)
    }
  }
}

const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7)
const top = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)
process.stdout.write(`window ${(window / 1e6).toFixed(2)} s: busy ${((window - idle) / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s\n`)
for (const [title, m] of [['self ms by package or folder', areas], ['self ms by function', self], ['ms with callees', total]] as const) {
  process.stdout.write(`--- ${title}\n`)
  for (const [k, v] of top(m)) { process.stdout.write(`${ms(v)} ${k}\n`) }
}
