/**
 * Who is connected to whom. A benchmark network is wired in one of two ways:
 *
 * - `bootstrap`: every node knows only node 0 and finds the rest through the
 *   system's own discovery (Murmur's DHT). The graph that results is then
 *   read back (`liveGraph`) so that a system without discovery (the baseline)
 *   is wired the same way by direct dials.
 * - `degree`: a seeded random graph in which every node has `degree`
 *   neighbours (`regularGraph`), dialled directly.
 *
 * Edges are pairs of node indexes `[a, b]` with a < b.
 */

import type { BenchNode } from './node.ts'
import type { Prng } from './prng.ts'

export type Edge = [number, number]

export const TOPOLOGIES = ['bootstrap', 'degree'] as const
export type Topology = typeof TOPOLOGIES[number]

export interface GraphStats {
  nodes: number
  edges: number
  meanDegree: number
  minDegree: number
  maxDegree: number
  /** connected components; 1 means every node can reach every other */
  components: number
}

function key (a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

/**
 * A connected random graph in which every node has `degree` neighbours (a few
 * may end with one fewer when no partner is left): a ring through a random
 * permutation, for connectivity, then random edges between nodes still short
 * of `degree`.
 */
export function regularGraph (n: number, degree: number, prng: Prng): Edge[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`a graph needs at least one node, got ${n}`)
  }
  const d = Math.min(degree, n - 1)
  const edges: Edge[] = []
  const seen = new Set<string>()
  const deg = new Array<number>(n).fill(0)
  const add = (a: number, b: number): void => {
    if (a === b || seen.has(key(a, b))) {
      return
    }
    seen.add(key(a, b))
    edges.push(a < b ? [a, b] : [b, a])
    deg[a]++
    deg[b]++
  }
  const order = prng.shuffle(Array.from({ length: n }, (_, i) => i))
  if (n === 2) {
    add(order[0], order[1])
  } else if (n > 2) {
    for (let i = 0; i < n; i++) {
      add(order[i], order[(i + 1) % n])
    }
  }
  for (const u of prng.shuffle(order)) {
    while (deg[u] < d) {
      const candidates = order.filter(v => v !== u && deg[v] < d && !seen.has(key(u, v)))
      if (candidates.length === 0) {
        break
      }
      add(u, prng.pick(candidates))
    }
  }
  return edges.sort((x, y) => x[0] - y[0] || x[1] - y[1])
}

/**
 * Edges that attach nodes `from..to-1` to a growing network: each new node
 * dials ⌈degree/2⌉ distinct random nodes that joined before it, so the mean
 * degree approaches `degree` and the graph stays connected at every size.
 * Used where a network grows in steps (the `scale` scenario).
 */
export function growthEdges (from: number, to: number, degree: number, prng: Prng): Edge[] {
  const perNode = Math.max(1, Math.ceil(degree / 2))
  const edges: Edge[] = []
  for (let v = Math.max(from, 1); v < to; v++) {
    const earlier = prng.shuffle(Array.from({ length: v }, (_, i) => i)).slice(0, Math.min(perNode, v))
    for (const u of earlier) {
      edges.push([u, v])
    }
  }
  return edges
}

export function graphStats (n: number, edges: readonly Edge[]): GraphStats {
  const deg = new Array<number>(n).fill(0)
  const adj: number[][] = Array.from({ length: n }, () => [])
  for (const [a, b] of edges) {
    deg[a]++
    deg[b]++
    adj[a].push(b)
    adj[b].push(a)
  }
  let components = 0
  const visited = new Uint8Array(n)
  for (let s = 0; s < n; s++) {
    if (visited[s] === 1) {
      continue
    }
    components++
    const stack = [s]
    visited[s] = 1
    while (stack.length > 0) {
      const u = stack.pop() as number
      for (const v of adj[u]) {
        if (visited[v] === 0) {
          visited[v] = 1
          stack.push(v)
        }
      }
    }
  }
  return {
    nodes: n,
    edges: edges.length,
    meanDegree: n > 0 ? (2 * edges.length) / n : 0,
    minDegree: n > 0 ? Math.min(...deg) : 0,
    maxDegree: n > 0 ? Math.max(...deg) : 0,
    components
  }
}

/**
 * Dials every edge (the node with the higher index dials the other), `concurrency`
 * dials at a time, retrying a failed dial once.
 */
export async function dialEdges (nodes: readonly BenchNode[], edges: readonly Edge[], options: { concurrency?: number, onEdge?(): void } = {}): Promise<void> {
  const concurrency = options.concurrency ?? 32
  const dial = async ([a, b]: Edge): Promise<void> => {
    const from = nodes[b]
    const to = nodes[a]
    if (from == null || to == null) {
      throw new RangeError(`edge ${a}-${b} names a node the network does not have (${nodes.length} nodes)`)
    }
    try {
      await from.connect(to.addr)
    } catch {
      try {
        await from.connect(to.addr)
      } catch (err: any) {
        throw new Error(`node ${b} could not dial node ${a}: ${err.message}`)
      }
    }
    options.onEdge?.()
  }
  for (let i = 0; i < edges.length; i += concurrency) {
    await Promise.all(edges.slice(i, i + concurrency).map(dial))
  }
}

/** The graph of open connections among `nodes`, as it is now */
export async function liveGraph (nodes: readonly BenchNode[]): Promise<Edge[]> {
  const index = new Map(nodes.map(n => [n.peerId, n.index]))
  const seen = new Set<string>()
  const edges: Edge[] = []
  const peers = await Promise.all(nodes.map(async n => n.peers()))
  for (const [i, list] of peers.entries()) {
    const a = nodes[i].index
    for (const p of list) {
      const b = index.get(p)
      if (b == null || b === a || seen.has(key(a, b))) {
        continue
      }
      seen.add(key(a, b))
      edges.push(a < b ? [a, b] : [b, a])
    }
  }
  return edges.sort((x, y) => x[0] - y[0] || x[1] - y[1])
}
