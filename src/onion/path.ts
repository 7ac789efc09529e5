import { NoRouteError } from './errors.ts'

/** What path selection needs to know of a relay */
export interface RelayCandidate {
  peerId: string
  /** Advertised packets/s */
  load: number
  /** IP addresses the relay advertises, for the diversity rule */
  hosts: string[]
}

/**
 * Which relays may not share one route: those in the same IPv4 /16 (one
 * operator's network), on the same host, or no rule. Loopback and private
 * addresses are left out of the rule (a relay that only has them is its own
 * family), so a local testnet of daemons, or one in network namespaces or
 * containers on one private subnet, can build routes under the default.
 */
export type Diversity = 'subnet16' | 'host' | 'none'

/**
 * Addresses that say nothing about who runs a relay: loopback (every local
 * test shares it) and private, shared or link-local ranges (10/8, 172.16/12,
 * 192.168/16, 100.64/10, 169.254/16, fc00::/7, fe80::/10), which any number of
 * unrelated operators reuse behind their NATs: counted, every home relay on
 * 192.168.x.x would be one family, and a testnet on one /24 could build no
 * route at all.
 */
export function isLocalAddress (host: string): boolean {
  if (host.includes(':')) {
    const h = host.toLowerCase()
    return h === '::1' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h)
  }
  const [a, b] = host.split('.').map(Number)
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254)
}

function family (c: RelayCandidate, diversity: Diversity): string[] {
  const hosts = c.hosts.filter(h => !isLocalAddress(h))
  if (diversity === 'none' || hosts.length === 0) {
    return [`peer:${c.peerId}`]
  }
  if (diversity === 'host') {
    return hosts
  }
  return hosts.map(h => h.includes('.') ? h.split('.').slice(0, 2).join('.') : h.split(':').slice(0, 2).join(':'))
}

/**
 * Measured reliability of relays, from acks: a route whose ack came back
 * counts a success for every relay on it, a route whose ack never came a
 * failure for every relay on it. One dropper spoils a whole route, so a
 * failure weighs more than a success (the score halves, a success closes a
 * fifth of the gap to 1): innocent relays on a failed route recover through
 * their other routes, a dropper only ever fails and sinks within two or three
 * losses, and being chosen in proportion to score² it is soon avoided. A
 * relay that comes back recovers as routes through it succeed again.
 */
export class ReliabilityTracker {
  private readonly scores = new Map<string, number>()
  /** Score of a relay never tried */
  static readonly PRIOR = 0.5
  static readonly FLOOR = 0.01

  success (peerIds: Iterable<string>): void {
    for (const id of peerIds) {
      const s = this.score(id)
      this.scores.set(id, s + 0.2 * (1 - s))
    }
  }

  failure (peerIds: Iterable<string>): void {
    for (const id of peerIds) {
      // a floor keeps every relay selectable once the others are exhausted
      this.scores.set(id, Math.max(ReliabilityTracker.FLOOR, this.score(id) / 2))
    }
  }

  /** In (0, 1]; PRIOR for a relay never tried */
  score (peerId: string): number {
    return this.scores.get(peerId) ?? ReliabilityTracker.PRIOR
  }

  snapshot (): Record<string, number> {
    return Object.fromEntries([...this.scores].map(([id, s]) => [id, Math.round(s * 1000) / 1000]))
  }
}

export interface SelectPathOptions {
  /** Never on the route: the sender, the destination, relays a retry avoids */
  exclude: Set<string>
  /**
   * Relays the caller keeps off this route for its own reasons (a store
   * fetch keeps clear of the relays of recent deposits); counted apart from
   * `exclude` only so NoRouteError can say why so few relays were left
   */
  avoidRelays?: Set<string>
  diversity: Diversity
  reliability: ReliabilityTracker
  random?(): number
}

/**
 * Weight of a relay: reliability squared (a relay at 0.1 is chosen ~25 times
 * less than a fresh one at 0.5) over its load relative to the median, so busy
 * relays get fewer new routes.
 */
export function relayWeight (c: RelayCandidate, reliability: ReliabilityTracker, medianLoad: number): number {
  const r = reliability.score(c.peerId)
  return (r * r) / (1 + c.load / Math.max(1, medianLoad))
}

/** Picks `hops` distinct relays by weighted sampling without replacement, under the diversity rule */
export function selectPath (candidates: RelayCandidate[], hops: number, options: SelectPathOptions): string[] {
  const random = options.random ?? Math.random
  const avoided = options.avoidRelays ?? new Set<string>()
  const pool = candidates.filter(c => !options.exclude.has(c.peerId) && !avoided.has(c.peerId))
  const loads = pool.map(c => c.load).sort((a, b) => a - b)
  const median = loads.length > 0 ? loads[Math.floor(loads.length / 2)] : 1
  const chosen: string[] = []
  const usedFamilies = new Set<string>()
  let remaining = pool.map(c => ({ c, w: relayWeight(c, options.reliability, median) }))
  while (chosen.length < hops) {
    remaining = remaining.filter(({ c }) => !family(c, options.diversity).some(f => usedFamilies.has(f)))
    const total = remaining.reduce((sum, { w }) => sum + w, 0)
    if (remaining.length === 0 || total <= 0) {
      const why = avoided.size > 0 ? ` with ${candidates.filter(c => avoided.has(c.peerId)).length} avoided` : ''
      throw new NoRouteError(`Only ${chosen.length} of ${hops} relays could be chosen from ${candidates.length} known${why}`)
    }
    let pick = random() * total
    let index = 0
    for (; index < remaining.length - 1; index++) {
      pick -= remaining[index].w
      if (pick <= 0) { break }
    }
    const { c } = remaining[index]
    chosen.push(c.peerId)
    family(c, options.diversity).forEach(f => usedFamilies.add(f))
    remaining.splice(index, 1)
  }
  return chosen
}
