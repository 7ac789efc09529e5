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

/** One exchange's outcome: the relays (and pseudo-members) it needed, and whether it came back */
interface Observation {
  members: string[]
  ok: boolean
  at: number
}

export interface ReliabilityInit {
  /**
   * Weight of a relay's older observations, per newer observation of the same
   * relay: its memory is ~1/(1-memory) observations, so a relay that turns bad
   * sinks within a few losses however long it was good
   *
   * @default 0.8
   */
  memory?: number
  /**
   * Evidence halves in this time, so a relay long unobserved drifts back to
   * the prior (and is probed again) rather than staying judged forever
   *
   * @default 600_000
   */
  halfLifeMs?: number
  /**
   * Observations kept
   *
   * @default 1024
   */
  maxObservations?: number
  now?(): number
}

/**
 * Each member's blame over the lost exchanges, shared within each by the
 * odds (1-f)/f of being the one that dropped it (the posterior when one did)
 */
function blameOf (observations: Observation[], pairWeights: number[][], f: Map<string, number>): Map<string, number> {
  const blamed = new Map<string, number>()
  observations.forEach((obs, o) => {
    if (obs.ok) {
      return
    }
    const odds = obs.members.map(id => { const x = f.get(id) ?? ReliabilityTracker.PRIOR; return (1 - x) / Math.max(x, ReliabilityTracker.FLOOR) })
    const sum = odds.reduce((a, b) => a + b, 0)
    obs.members.forEach((id, i) => {
      const blame = sum > 0 ? odds[i] / sum : 1 / obs.members.length
      blamed.set(id, (blamed.get(id) ?? 0) + pairWeights[o][i] * blame)
    })
  })
  return blamed
}

/** Pseudo-member of an exchange that stands for its destination (a dead destination must not be blamed on the relays) */
export function destinationMember (peerId: string): string {
  return `dest:${peerId}`
}

/**
 * Measured reliability of relays: the probability that a relay forwards
 * what it gets, estimated from whole exchanges (a route and its ack or
 * reply route, a loop probe) that came back or did not.
 *
 * An exchange that came back proves every relay on it forwarded. One that
 * did not proves only that at least one member dropped (or held) it, so the
 * blame of a loss is shared by the odds that each member is the dropper,
 * (1-f)/f from its current estimate f (the exact posterior when one member
 * dropped: Bayesian boolean network tomography, the inference behind Tor's
 * path-bias accounting and Loopix's loops). A relay that also sits on
 * routes that came back has high f and low odds, so the blame goes to the
 * member found on the failed routes and on none that succeeded: the
 * intersection of the failures. The estimates and the blame are recomputed
 * together over the kept observations (expectation-maximisation), so an
 * early loss blamed on everyone at first is re-attributed once later
 * routes have cleared the honest relays. The destination of an exchange is
 * a member of its own (`destinationMember`), so a destination that is down
 * takes the blame for its silence instead of the relays towards it.
 *
 * f = (α + Σ_ok w) / (α + β + Σ_ok w + Σ_lost w·blame) with a Jeffreys
 * prior (α = β = ½, so a relay never seen scores PRIOR = ½); w is
 * `memory`ⁿ for the relay's n-th most recent observation, times the time
 * decay. A loss credits no one: the members after the dropper never saw
 * the packet, and which those were the sender cannot tell.
 */
export class ReliabilityTracker {
  /** Score of a relay never tried */
  static readonly PRIOR = 0.5
  static readonly FLOOR = 0.01
  private static readonly ALPHA = 0.5
  private static readonly BETA = 0.5
  /** Most EM rounds per recomputation (from the previous estimates they mostly settle in a few) */
  private static readonly ROUNDS = 40
  /** Successes alone do not recompute more often than this (a failure does at once: a retry needs it) */
  private static readonly RECOMPUTE_MS = 50
  private readonly memory: number
  private readonly halfLifeMs: number
  private readonly maxObservations: number
  private readonly now: () => number
  private readonly observations: Observation[] = []
  private scores = new Map<string, number>()
  private weights = new Map<string, number>()
  private dirty = false
  private failedSince = false
  private computedAt = 0

  constructor (init: ReliabilityInit = {}) {
    this.memory = init.memory ?? 0.8
    this.halfLifeMs = init.halfLifeMs ?? 600_000
    this.maxObservations = init.maxObservations ?? 1024
    this.now = init.now ?? Date.now
  }

  /** An exchange over these members came back: each forwarded */
  success (members: Iterable<string>): void {
    this.observe(members, true)
  }

  /** An exchange over these members did not come back: at least one of them dropped or held it */
  failure (members: Iterable<string>): void {
    this.observe(members, false)
  }

  observe (members: Iterable<string>, ok: boolean): void {
    const unique = [...new Set(members)]
    if (unique.length === 0) {
      return
    }
    this.observations.push({ members: unique, ok, at: this.now() })
    if (this.observations.length > this.maxObservations) {
      this.observations.splice(0, this.observations.length - this.maxObservations)
    }
    this.dirty = true
    if (!ok) {
      this.failedSince = true
    }
  }

  /** In (0, 1]; PRIOR for a relay never tried */
  score (peerId: string): number {
    this.refresh()
    return this.scores.get(peerId) ?? ReliabilityTracker.PRIOR
  }

  /** How much a relay's score rests on: the decayed weight of its observations (0 for one never seen) */
  evidence (peerId: string): number {
    this.refresh()
    return this.weights.get(peerId) ?? 0
  }

  snapshot (): Record<string, number> {
    this.refresh()
    return Object.fromEntries([...this.scores].filter(([id]) => !id.startsWith('dest:')).map(([id, s]) => [id, Math.round(s * 1000) / 1000]))
  }

  private refresh (): void {
    const now = this.now()
    if (!this.dirty && now - this.computedAt < this.halfLifeMs / 20) {
      return
    }
    if (this.dirty && !this.failedSince && now - this.computedAt < ReliabilityTracker.RECOMPUTE_MS) {
      return
    }
    this.recompute(now)
  }

  private recompute (now: number): void {
    this.dirty = false
    this.failedSince = false
    this.computedAt = now
    // each (observation, member) pair's weight: the member's own recency rank, and age
    const seen = new Map<string, number>()
    const pairWeights: number[][] = new Array(this.observations.length)
    for (let o = this.observations.length - 1; o >= 0; o--) {
      const obs = this.observations[o]
      const decay = 0.5 ** ((now - obs.at) / this.halfLifeMs)
      pairWeights[o] = obs.members.map(id => {
        const rank = seen.get(id) ?? 0
        seen.set(id, rank + 1)
        return decay * this.memory ** rank
      })
    }
    const { ALPHA, BETA, FLOOR } = ReliabilityTracker
    const successes = new Map<string, number>()
    this.observations.forEach((obs, o) => {
      if (obs.ok) {
        obs.members.forEach((id, i) => { successes.set(id, (successes.get(id) ?? 0) + pairWeights[o][i]) })
      }
    })
    let f = new Map<string, number>()
    for (const id of seen.keys()) {
      f.set(id, this.scores.get(id) ?? ReliabilityTracker.PRIOR)
    }
    let blamed = new Map<string, number>()
    for (let round = 0; round < ReliabilityTracker.ROUNDS; round++) {
      blamed = blameOf(this.observations, pairWeights, f)
      const next = new Map<string, number>()
      let moved = 0
      for (const id of seen.keys()) {
        const ok = successes.get(id) ?? 0
        const x = Math.max(FLOOR, (ALPHA + ok) / (ALPHA + BETA + ok + (blamed.get(id) ?? 0)))
        moved = Math.max(moved, Math.abs(x - (f.get(id) ?? x)))
        next.set(id, x)
      }
      f = next
      if (moved < 0.001) {
        break
      }
    }
    this.weights = new Map([...seen.keys()].map(id => [id, (successes.get(id) ?? 0) + (blamed.get(id) ?? 0)]))
    this.scores = f
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
  /** A relay the route must hold (a probe's relay under test), at a random place; the others are chosen as ever */
  include?: string
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

/** The index of one entry of `pool`, drawn with odds by its weight `w` (`random()` in [0, 1)) */
export function weightedIndex (pool: Array<{ w: number }>, random: () => number): number {
  let pick = random() * pool.reduce((sum, { w }) => sum + w, 0)
  let index = 0
  for (; index < pool.length - 1; index++) {
    pick -= pool[index].w
    if (pick <= 0) { break }
  }
  return index
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
  const forced = options.include == null ? undefined : remaining.findIndex(({ c }) => c.peerId === options.include)
  if (forced != null) {
    if (forced < 0) {
      throw new NoRouteError(`The relay ${options.include ?? ''} cannot be on this route`)
    }
    const { c } = remaining[forced]
    chosen.push(c.peerId)
    family(c, options.diversity).forEach(f => usedFamilies.add(f))
    remaining.splice(forced, 1)
  }
  while (chosen.length < hops) {
    remaining = remaining.filter(({ c }) => !family(c, options.diversity).some(f => usedFamilies.has(f)))
    const total = remaining.reduce((sum, { w }) => sum + w, 0)
    if (remaining.length === 0 || total <= 0) {
      const why = avoided.size > 0 ? ` with ${candidates.filter(c => avoided.has(c.peerId)).length} avoided` : ''
      throw new NoRouteError(`Only ${chosen.length} of ${hops} relays could be chosen from ${candidates.length} known${why}`)
    }
    const index = weightedIndex(remaining, random)
    const { c } = remaining[index]
    chosen.push(c.peerId)
    family(c, options.diversity).forEach(f => usedFamilies.add(f))
    remaining.splice(index, 1)
  }
  if (forced != null) {
    // the relay under test at a random place: its position says nothing
    const at = Math.floor(random() * chosen.length)
    ;[chosen[0], chosen[at]] = [chosen[at], chosen[0]]
  }
  return chosen
}
