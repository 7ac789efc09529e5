/**
 * Writes test/vectors/onion/*.json from the plain reference implementation
 * and fixed keys: `node test/onion/generate-vectors.ts`. The vectors are
 * committed; the spec checks both backends of the fast implementation
 * against them, so regenerating is only for a deliberate format change.
 */
import { writeFileSync } from 'node:fs'
import { x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { refHeader, refPacket, refProcess, refSurbReply } from './reference.ts'
import type { RefHop } from './reference.ts'

const seed = (label: string): Uint8Array => sha256(utf8ToBytes(label))

function route (name: string, n: number, delays: boolean): Array<RefHop & { onionPrivate: Uint8Array, ephemeral: Uint8Array }> {
  return Array.from({ length: n }, (_, i) => {
    const onionPrivate = seed(`${name} onion ${i}`)
    return {
      address: seed(`${name} address ${i}`),
      onionPrivate,
      onionKey: x25519.getPublicKey(onionPrivate),
      ephemeral: seed(`${name} ephemeral ${i}`),
      delayMs: delays ? 100 * (i + 1) : 0
    }
  })
}

function walk (hops: Array<{ onionPrivate: Uint8Array }>, packet: Uint8Array): unknown[] {
  const steps: unknown[] = []
  let current = packet
  for (const hop of hops) {
    const r = refProcess(hop.onionPrivate, current)
    if (r.type === 'forward') {
      steps.push({ type: 'forward', nextHop: bytesToHex(r.nextHop), delayMs: r.delayMs, packet: bytesToHex(r.packet) })
      current = r.packet
    } else if (r.type === 'deliver') {
      steps.push({ type: 'deliver', body: bytesToHex(r.body) })
    } else if (r.type === 'surb-reply') {
      steps.push({ type: 'surb-reply', surbId: bytesToHex(r.surbId), payload: bytesToHex(r.payload) })
    } else {
      throw new Error(`reference rejected its own packet: ${r.reason}`)
    }
  }
  return steps
}

const hopJson = (hops: ReturnType<typeof route>): unknown => hops.map(h => ({
  address: bytesToHex(h.address),
  onionPrivate: bytesToHex(h.onionPrivate),
  onionPublic: bytesToHex(h.onionKey),
  ephemeralPrivate: bytesToHex(h.ephemeral),
  delayMs: h.delayMs
}))

for (const [name, n, delays] of [['forward-1-hop', 1, false], ['forward-3-hops', 3, true], ['forward-5-hops', 5, false]] as const) {
  const hops = route(name, n, delays)
  const body = utf8ToBytes(`murmur vector ${name}`)
  const packet = refPacket(hops, hops.map(h => h.ephemeral), body)
  writeFileSync(new URL(`../vectors/onion/${name}.json`, import.meta.url), JSON.stringify({
    description: `A forward packet over ${n} hop(s) from fixed keys, and what each hop gets from it (reference implementation)`,
    hops: hopJson(hops),
    body: bytesToHex(body),
    packet: bytesToHex(packet),
    steps: walk(hops, packet)
  }, null, 2) + '\n')
}

{
  const name = 'surb-3-hops'
  const hops = route(name, 3, false)
  const surbId = seed('surb id').slice(0, 16)
  const payloadSeed = seed('surb payload seed')
  const { header } = refHeader(hops, hops.map(h => h.ephemeral), surbId)
  const body = utf8ToBytes('murmur vector reply')
  const packet = refSurbReply(header, payloadSeed, body)
  writeFileSync(new URL(`../vectors/onion/${name}.json`, import.meta.url), JSON.stringify({
    description: 'A SURB over 3 hops (the last is its creator) from fixed keys, a reply through it, and what each hop gets',
    hops: hopJson(hops),
    surbId: bytesToHex(surbId),
    payloadSeed: bytesToHex(payloadSeed),
    header: bytesToHex(header),
    body: bytesToHex(body),
    packet: bytesToHex(packet),
    steps: walk(hops, packet)
  }, null, 2) + '\n')
}
