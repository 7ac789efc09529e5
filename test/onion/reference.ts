/**
 * A plain reference implementation of Murmur's KEM Sphinx, written straight
 * from the layout in src/onion/constants.ts with noble only and no shared
 * code, no views and no shortcuts. The fast implementation must agree with it
 * byte for byte (test/onion/vectors.spec.ts).
 */
import { chacha20 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'

const R = 5 // max hops
const B = 1 + 2 + 32 + 32 + 16 // routing block
const BETA = R * B
const HEADER = 32 + BETA + 16
const PAYLOAD = 2048
const TAG = 16

function zeros (n: number): Uint8Array { return new Uint8Array(n) }
function xor (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) { out[i] = a[i] ^ b[i] }
  return out
}
function prg (key: Uint8Array, n: number): Uint8Array { return chacha20(key, zeros(12), zeros(n)) }
function mac (key: Uint8Array, data: Uint8Array): Uint8Array { return hmac(sha256, key, data).slice(0, 16) }

interface Keys { mu: Uint8Array, pi: Uint8Array, tag: Uint8Array, rho: Uint8Array }
function keysOf (s: Uint8Array): Keys {
  const m = prg(sha256(concatBytes(utf8ToBytes('murmur/sphinx/1 hop keys'), s)), 32 + 128 + 16 + BETA + B)
  return { mu: m.slice(0, 32), pi: m.slice(32, 160), tag: m.slice(160, 176), rho: m.slice(176) }
}

function lioness (key: Uint8Array, block: Uint8Array, decrypt: boolean): Uint8Array {
  const k = [key.slice(0, 32), key.slice(32, 64), key.slice(64, 96), key.slice(96, 128)]
  let l: Uint8Array = block.slice(0, 32)
  let r: Uint8Array = block.slice(32)
  const S = (kk: Uint8Array): void => { r = chacha20(xor(l, kk), zeros(12), r) }
  const H = (kk: Uint8Array): void => { l = xor(l, hmac(sha256, kk, r)) }
  if (!decrypt) { S(k[0]); H(k[1]); S(k[2]); H(k[3]) } else { H(k[3]); S(k[2]); H(k[1]); S(k[0]) }
  return concatBytes(l, r)
}

export interface RefHop { address: Uint8Array, onionKey: Uint8Array, delayMs?: number }

function block (cmd: number, delay: number, addr: Uint8Array, alpha: Uint8Array, gamma: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([cmd, delay >> 8, delay & 0xff]), addr, alpha, gamma)
}

export function refHeader (hops: RefHop[], eph: Uint8Array[], surbId?: Uint8Array): { header: Uint8Array, keys: Keys[] } {
  const n = hops.length
  const alphas = eph.map(x => x25519.getPublicKey(x))
  const keys = hops.map((h, i) => keysOf(x25519.getSharedSecret(eph[i], h.onionKey)))
  let phi: Uint8Array = zeros(0)
  for (let i = 1; i < n; i++) {
    phi = xor(concatBytes(phi, zeros(B)), keys[i - 1].rho.slice((R + 1 - i) * B, (R + 1) * B))
  }
  const final = surbId == null ? block(2, 0, zeros(32), zeros(32), zeros(16)) : block(3, 0, concatBytes(surbId, zeros(16)), zeros(32), zeros(16))
  let beta: Uint8Array = concatBytes(xor(concatBytes(final, zeros((R - n) * B)), keys[n - 1].rho.slice(0, (R - n + 1) * B)), phi)
  let gamma = mac(keys[n - 1].mu, beta)
  for (let i = n - 2; i >= 0; i--) {
    const blk = block(1, hops[i].delayMs ?? 0, hops[i + 1].address, alphas[i + 1], gamma)
    beta = xor(concatBytes(blk, beta.slice(0, (R - 1) * B)), keys[i].rho.slice(0, BETA))
    gamma = mac(keys[i].mu, beta)
  }
  return { header: concatBytes(alphas[0], beta, gamma), keys }
}

export function refPacket (hops: RefHop[], eph: Uint8Array[], body: Uint8Array): Uint8Array {
  const { header, keys } = refHeader(hops, eph)
  let payload: Uint8Array = concatBytes(zeros(TAG), body, zeros(PAYLOAD - TAG - body.length))
  for (let i = hops.length - 1; i >= 0; i--) { payload = lioness(keys[i].pi, payload, false) }
  return concatBytes(header, payload)
}

export type RefResult =
  | { type: 'forward', nextHop: Uint8Array, delayMs: number, packet: Uint8Array }
  | { type: 'deliver', body: Uint8Array }
  | { type: 'surb-reply', surbId: Uint8Array, payload: Uint8Array }
  | { type: 'reject', reason: string }

export function refProcess (priv: Uint8Array, packet: Uint8Array): RefResult {
  if (packet.length !== HEADER + PAYLOAD) { return { type: 'reject', reason: 'length' } }
  const alpha = packet.slice(0, 32)
  const beta = packet.slice(32, 32 + BETA)
  const gamma = packet.slice(32 + BETA, HEADER)
  let k: Keys
  try { k = keysOf(x25519.getSharedSecret(priv, alpha)) } catch { return { type: 'reject', reason: 'key' } }
  if (mac(k.mu, beta).some((b, i) => b !== gamma[i])) { return { type: 'reject', reason: 'mac' } }
  const peeled = xor(concatBytes(beta, zeros(B)), k.rho)
  const cmd = peeled[0]
  if (cmd === 3) { return { type: 'surb-reply', surbId: peeled.slice(3, 19), payload: packet.slice(HEADER) } }
  const payload = lioness(k.pi, packet.slice(HEADER), true)
  if (cmd === 2) {
    if (payload.slice(0, TAG).some(b => b !== 0)) { return { type: 'reject', reason: 'payload' } }
    return { type: 'deliver', body: payload.slice(TAG) }
  }
  if (cmd !== 1) { return { type: 'reject', reason: 'routing' } }
  return {
    type: 'forward',
    nextHop: peeled.slice(3, 35),
    delayMs: (peeled[1] << 8) | peeled[2],
    packet: concatBytes(peeled.slice(35, 67), peeled.slice(B), peeled.slice(67, 83), payload)
  }
}

/** The SURB's payload seed → the replier's Lioness key */
export function refSurbReply (header: Uint8Array, seed: Uint8Array, body: Uint8Array): Uint8Array {
  const key = hkdf(sha256, seed, undefined, utf8ToBytes('murmur/sphinx/1 surb payload key'), 128)
  return concatBytes(header, lioness(key, concatBytes(zeros(TAG), body, zeros(PAYLOAD - TAG - body.length)), false))
}
