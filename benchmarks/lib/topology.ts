/**
 * Who is connected to whom. A benchmark network is wired in one of two ways.
 * With `bootstrap`, every node knows only node 0 and finds the rest through
 * the system's own discovery (Murmur's DHT). With `degree`, a seeded random
 * graph in which every node has `degree` neighbours (`regularGraph`) is
 * dialled directly. Either way the graph is read back (`liveGraph`), so that
 * a system without discovery (the baseline) can be wired the same way.
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
 * A connected random `degree`-regular graph (one node has one neighbour fewer
 * when n × degree is odd; the degree is capped at n − 1). Drawn by the pairing
 * algorithm of Steger and Wormald (1999): join random free half-edges of
 * distinct, not yet adjacent nodes, and start over when stuck or when the
 * result is not connected. Degree 2 is a ring through a random permutation.
 */
export function regularGraph (n: number, degree: number, prng: Prng): Edge[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`a graph needs at least one node, got ${n}`)
  }
  if (!Number.isInteger(degree) || degree < 1) {
    throw new RangeError(`degree must be a positive integer, got ${degree}`)
  }
  const d = Math.min(degree, n - 1)
  const sorted = (edges: Edge[]): Edge[] => edges.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  if (d === n - 1) {
    const all: Edge[] = []
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        all.push([a, b])
      }
    }
    return all
  }
  const order = prng.shuffle(Array.from({ length: n }, (_, i) => i))
  if (d <= 2) {
    // n ≥ 4 here (d < n - 1): a ring through a random order
    return sorted(order.map((a, i) => {
      const b = order[(i + 1) % n]
      return a < b ? [a, b] : [b, a]
    }))
  }
  for (let attempt = 0; attempt < 1000; attempt++) {
    const edges = pairing(n, d, prng)
    if (edges != null && graphStats(n, edges).components === 1) {
      return sorted(edges)
    }
  }
  throw new Error(`could not draw a connected ${d}-regular graph on ${n} nodes`)
}

function pairing (n: number, d: number, prng: Prng): Edge[] | null {
  const stubs: number[] = []
  for (let v = 0; v < n; v++) {
    for (let k = 0; k < d; k++) {
      stubs.push(v)
    }
  }
  if (stubs.length % 2 === 1) {
    stubs.pop()
  }
  const seen = new Set<string>()
  const edges: Edge[] = []
  let misses = 0
  while (stubs.length > 0) {
    const i = prng.int(stubs.length)
    const j = prng.int(stubs.length)
    const u = stubs[i]
    const v = stubs[j]
    if (i === j || u === v || seen.has(key(u, v))) {
      misses++
      if (misses > 20 * stubs.length) {
        // stuck? only if no two free half-edges can still be joined
        const free = [...new Set(stubs)]
        const possible = free.some((a, x) => free.slice(x + 1).some(b => !seen.has(key(a, b))))
        if (!possible) {
          return null
        }
        misses = 0
      }
      continue
    }
    seen.add(key(u, v))
    edges.push(u < v ? [u, v] : [v, u])
    // remove both half-edges, the later index first
    for (const k of i > j ? [i, j] : [j, i]) {
      stubs[k] = stubs[stubs.length - 1]
      stubs.pop()
    }
    misses = 0
  }
  return edges
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
