/**
 * Whole Murmur peers in the harness's own process, for the scenarios that
 * measure what peers do to each other (churn, adversarial relays) rather
 * than what one system costs: connecting them, waiting on them, and killing
 * one without a goodbye.
 */

import type { Murmur } from '../../src/app/index.ts'

const DIAL_CONCURRENCY = 4
const DIAL_ATTEMPTS = 3

export const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))

/** Polls `check` every `intervalMs` until it holds; throws naming `what` after `timeoutMs` */
export async function waitUntil (check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`benchmark: timed out after ${timeoutMs} ms waiting for ${what}`)
    }
    await sleep(intervalMs)
  }
}

/**
 * Dials every pair of `peers` (and `more` from each of `peers`), a few at a
 * time; a dial whose handshake times out on a loaded machine is tried again
 */
export async function connectAll (peers: Murmur[], more: Murmur[] = []): Promise<void> {
  const pairs: Array<[Murmur, Murmur]> = []
  for (let i = 0; i < peers.length; i++) {
    for (let j = i + 1; j < peers.length; j++) { pairs.push([peers[i], peers[j]]) }
    for (const m of more) { pairs.push([peers[i], m]) }
  }
  const dial = async ([a, b]: [Murmur, Murmur]): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await a.node.connect(b.node.getMultiaddrs()[0])
        return
      } catch (err) {
        if (attempt >= DIAL_ATTEMPTS) { throw err }
      }
    }
  }
  for (let i = 0; i < pairs.length; i += DIAL_CONCURRENCY) {
    await Promise.all(pairs.slice(i, i + DIAL_CONCURRENCY).map(dial))
  }
}

/**
 * A crash as close to `kill -9` as one process allows: every connection is
 * aborted first (the socket torn down: no yamux GoAway, no gossipsub PRUNE or
 * unsubscribe, no stream closed cleanly reaches a peer), then the layers and
 * the node are stopped so that their timers and files are released. Unlike a
 * real SIGKILL, what a layer writes on a clean stop still gets written.
 */
export async function crash (peer: Murmur): Promise<void> {
  const libp2p = peer.node.libp2p
  for (const conn of libp2p.getConnections()) {
    conn.abort(new Error('benchmark: peer killed'))
  }
  await Promise.resolve(peer.stop()).catch(() => {})
}
