/* eslint max-nested-callbacks: ["error", 6] -- fast-check properties inside describe/it nest one level deeper */
import { readFileSync, readdirSync } from 'node:fs'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { buildHeader, buildPacket } from '../../src/onion/builder.ts'
import { MAX_HOPS, PACKET_SIZE, PAYLOAD_BODY_SIZE, HEADER_SIZE, PAYLOAD_SIZE } from '../../src/onion/constants.ts'
import { nativeCrypto, nobleCrypto } from '../../src/onion/crypto/index.ts'
import { lionessDecrypt, lionessEncrypt } from '../../src/onion/payload.ts'
import { PacketRejectedError, processPacket } from '../../src/onion/processor.ts'
import { ReplayCache } from '../../src/onion/replay.ts'
import { createSurb, decodeSurb, encodeSurb, openSurbReply, surbReplyPacket } from '../../src/onion/surb.ts'
import { refPacket, refProcess } from './reference.ts'
import type { RouteHop } from '../../src/onion/builder.ts'
import type { HopResult } from '../../src/onion/processor.ts'

const VECTORS = new URL('../vectors/onion/', import.meta.url)
const vectors = readdirSync(VECTORS).filter(f => f.endsWith('.json')).map(f => ({ name: f, ...JSON.parse(readFileSync(new URL(f, VECTORS), 'utf8')) }))

function hopsOf (v: any): Array<RouteHop & { onionPrivate: Uint8Array, ephemeral: Uint8Array }> {
  return v.hops.map((h: any) => ({
    address: hexToBytes(h.address),
    onionKey: hexToBytes(h.onionPublic),
    onionPrivate: hexToBytes(h.onionPrivate),
    ephemeral: hexToBytes(h.ephemeralPrivate),
    delayMs: h.delayMs
  }))
}

function randomRoute (n: number): Array<RouteHop & { onionPrivate: Uint8Array }> {
  return Array.from({ length: n }, () => {
    const onionPrivate = nativeCrypto.randomBytes(32)
    return { address: nativeCrypto.randomBytes(32), onionKey: nativeCrypto.x25519PublicKey(onionPrivate), onionPrivate }
  })
}

/** Runs a packet through its route; returns every hop's result */
function walk (route: Array<{ onionPrivate: Uint8Array }>, packet: Uint8Array): HopResult[] {
  const results: HopResult[] = []
  let current = packet
  for (const hop of route) {
    const result = processPacket(nativeCrypto, [hop.onionPrivate], current)
    results.push(result)
    if (result.type === 'forward') {
      current = result.packet
    }
  }
  return results
}

describe('onion/sphinx', function () {
  this.timeout(60_000)

  describe('fixed vectors', () => {
    it('has vectors for 1, 3 and 5 hops and a SURB', () => {
      expect(vectors.map(v => v.name).sort()).to.deep.equal(['forward-1-hop.json', 'forward-3-hops.json', 'forward-5-hops.json', 'surb-3-hops.json'])
    })

    for (const crypto of [nativeCrypto, nobleCrypto]) {
      for (const v of vectors) {
        it(`${crypto.name}: ${v.name as string} builds the given bytes and every hop gets the given result`, () => {
          const hops = hopsOf(v)
          let packet: Uint8Array
          if (v.surbId != null) {
            const { surb } = createSurb(crypto, hops, { ephemeralKeys: hops.map(h => h.ephemeral), id: hexToBytes(v.surbId), payloadSeed: hexToBytes(v.payloadSeed) })
            expect(bytesToHex(surb.header)).to.equal(v.header)
            packet = surbReplyPacket(crypto, surb, hexToBytes(v.body)).packet
          } else {
            packet = buildPacket(crypto, hops, hexToBytes(v.body), { ephemeralKeys: hops.map(h => h.ephemeral) }).packet
          }
          expect(bytesToHex(packet)).to.equal(v.packet)
          let current = packet
          v.steps.forEach((step: any, i: number) => {
            const result = processPacket(crypto, [hops[i].onionPrivate], current)
            if (step.type === 'forward') {
              expect(result.type).to.equal('forward')
              if (result.type !== 'forward') { return }
              expect(bytesToHex(result.nextHop)).to.equal(step.nextHop)
              expect(result.delayMs).to.equal(step.delayMs)
              expect(bytesToHex(result.packet)).to.equal(step.packet)
              current = result.packet
            } else if (step.type === 'deliver') {
              expect(result).to.have.property('command', 'deliver')
              if (result.type === 'final' && result.command === 'deliver') { expect(bytesToHex(result.body)).to.equal(step.body) }
            } else {
              expect(result).to.have.property('command', 'surb-reply')
              if (result.type === 'final' && result.command === 'surb-reply') {
                expect(bytesToHex(result.surbId)).to.equal(step.surbId)
                expect(bytesToHex(result.payload)).to.equal(step.payload)
              }
            }
          })
        })
      }
    }

    it('the fast implementation agrees with the reference on random routes and bodies', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: MAX_HOPS }), fc.uint8Array({ minLength: 0, maxLength: PAYLOAD_BODY_SIZE }), fc.boolean(), (n, body, delays) => {
        const route = randomRoute(n).map((h, i) => ({ ...h, delayMs: delays ? i * 37 : 0 }))
        const eph = route.map(() => nativeCrypto.randomBytes(32))
        const fast = buildPacket(nativeCrypto, route, body, { ephemeralKeys: eph }).packet
        expect(bytesToHex(fast)).to.equal(bytesToHex(refPacket(route, eph, body)))
        let current = fast
        for (const hop of route) {
          const a = processPacket(nativeCrypto, [hop.onionPrivate], current)
          const b = refProcess(hop.onionPrivate, current)
          if (a.type === 'forward') {
            expect(b.type).to.equal('forward')
            if (b.type === 'forward') { expect(bytesToHex(a.packet)).to.equal(bytesToHex(b.packet)) }
            current = a.packet
          } else {
            expect(b.type).to.equal('deliver')
            if (b.type === 'deliver' && a.command === 'deliver') { expect(bytesToHex(a.body)).to.equal(bytesToHex(b.body)) }
          }
        }
      }), { seed: 5, numRuns: 12 })
    })

    it('native keys made as key objects (x25519GenerateKey) agree with noble: public key and shared secrets', () => {
      const peer = nativeCrypto.randomBytes(32)
      const peerPublic = nobleCrypto.x25519PublicKey(peer)
      for (let i = 0; i < 20; i++) {
        const key = nativeCrypto.x25519GenerateKey?.()
        if (key == null) { throw new Error('the native backend makes its ephemeral keys') }
        expect(key).to.have.length(32)
        expect(bytesToHex(nativeCrypto.x25519PublicKey(key))).to.equal(bytesToHex(nobleCrypto.x25519PublicKey(key)))
        // twice with the same public key array: the cached key object gives the same secret
        expect(bytesToHex(nativeCrypto.x25519(key, peerPublic))).to.equal(bytesToHex(nobleCrypto.x25519(key, peerPublic)))
        expect(bytesToHex(nativeCrypto.x25519(key, peerPublic))).to.equal(bytesToHex(nobleCrypto.x25519(peer, nobleCrypto.x25519PublicKey(key))))
      }
    })

    it('Lioness decrypts what it encrypts and native agrees with noble', () => {
      const key = nativeCrypto.randomBytes(128)
      const block = nativeCrypto.randomBytes(PAYLOAD_SIZE)
      const a = lionessEncrypt(nativeCrypto, key, block)
      expect(bytesToHex(a)).to.equal(bytesToHex(lionessEncrypt(nobleCrypto, key, block)))
      expect(bytesToHex(lionessDecrypt(nativeCrypto, key, a))).to.equal(bytesToHex(block))
    })
  })

  describe('shape', () => {
    it('the header fits 512 bytes for 5 hops and the payload is at least 2 KiB', () => {
      expect(HEADER_SIZE).to.be.at.most(512)
      expect(PAYLOAD_SIZE).to.be.at.least(2048)
    })

    it('every packet has the same length for 1..5 hops and bodies of 1 byte and the maximum, at every hop', () => {
      for (let n = 1; n <= MAX_HOPS; n++) {
        for (const size of [1, PAYLOAD_BODY_SIZE]) {
          const route = randomRoute(n)
          const { packet } = buildPacket(nativeCrypto, route, new Uint8Array(size).fill(7))
          expect(packet.length).to.equal(PACKET_SIZE)
          for (const result of walk(route, packet)) {
            if (result.type === 'forward') { expect(result.packet.length).to.equal(PACKET_SIZE) }
          }
          const last = walk(route, packet).at(-1)
          expect(last?.type === 'final' && last.command === 'deliver' ? last.body.subarray(0, size) : undefined).to.deep.equal(new Uint8Array(size).fill(7))
        }
      }
      const surb = createSurb(nativeCrypto, randomRoute(2)).surb
      expect(surbReplyPacket(nativeCrypto, surb, new Uint8Array(1)).packet.length).to.equal(PACKET_SIZE)
    })

    it('refuses bodies larger than a packet holds and routes of 0 or 6 hops', () => {
      expect(() => buildPacket(nativeCrypto, randomRoute(2), new Uint8Array(PAYLOAD_BODY_SIZE + 1))).to.throw().with.property('name', 'PayloadSizeError')
      expect(() => buildPacket(nativeCrypto, [], new Uint8Array(1))).to.throw().with.property('name', 'InvalidRouteError')
      expect(() => buildPacket(nativeCrypto, randomRoute(6), new Uint8Array(1))).to.throw().with.property('name', 'InvalidRouteError')
    })
  })

  describe('what a relay learns', () => {
    it('in a 5-hop route each relay sees its predecessor and successor only', () => {
      // sender, 5 hops; each hop's view: who handed it the packet and where the processor says it goes
      const sender = nativeCrypto.randomBytes(32)
      const route = randomRoute(5)
      const { packet, firstHop } = buildPacket(nativeCrypto, route, new TextEncoder().encode('secret'))
      expect(bytesToHex(firstHop)).to.equal(bytesToHex(route[0].address))
      const everyone = [sender, ...route.map(h => h.address)].map(bytesToHex)
      let from = sender
      let current = packet
      for (let i = 0; i < route.length; i++) {
        const result = processPacket(nativeCrypto, [route[i].onionPrivate], current)
        // everything the relay holds after processing, as hex
        const state = [bytesToHex(current), bytesToHex(from), JSON.stringify(result, (_k, v) => v instanceof Uint8Array ? bytesToHex(v) : v)].join('|')
        const self = bytesToHex(route[i].address)
        const known = everyone.filter(id => id !== self && state.includes(id))
        const expected = [bytesToHex(from)]
        if (result.type === 'forward') { expected.push(bytesToHex(route[i + 1].address)) }
        expect(known.sort()).to.deep.equal(expected.sort())
        if (result.type === 'forward') {
          from = route[i].address
          current = result.packet
        }
      }
    })

    it('two relays of one route see unrelated group elements unless adjacent', () => {
      const route = randomRoute(5)
      const { packet } = buildPacket(nativeCrypto, route, new Uint8Array(1))
      const alphas = [packet.subarray(0, 32)]
      for (const r of walk(route, packet)) {
        if (r.type === 'forward') { alphas.push(r.packet.subarray(0, 32)) }
      }
      expect(new Set(alphas.map(bytesToHex)).size).to.equal(5)
    })
  })

  describe('tampering', () => {
    it('flipping any byte of the packet at the first hop of a 3-hop route is rejected there or at the destination', () => {
      const route = randomRoute(3)
      const body = new TextEncoder().encode('do not touch')
      const { packet } = buildPacket(nativeCrypto, route, body)
      for (let i = 0; i < PACKET_SIZE; i++) {
        const bad = packet.slice()
        bad[i] ^= 0x01
        expect(() => walk(route, bad), `byte ${i}`).to.throw(PacketRejectedError)
      }
    })

    it('flipping a byte at any later hop is rejected there or at the destination', () => {
      const route = randomRoute(5)
      const { packet } = buildPacket(nativeCrypto, route, new TextEncoder().encode('x'))
      const packets = [packet]
      for (const r of walk(route, packet)) { if (r.type === 'forward') { packets.push(r.packet) } }
      fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: PACKET_SIZE - 1 }), fc.integer({ min: 1, max: 255 }), (hop, index, mask) => {
        const bad = packets[hop].slice()
        bad[index] ^= mask
        expect(() => walk(route.slice(hop), bad)).to.throw(PacketRejectedError)
      }), { seed: 11, numRuns: 300 })
    })

    it('a tampered SURB reply fails to open at its creator', () => {
      const route = randomRoute(3)
      const { surb, secret } = createSurb(nativeCrypto, route)
      const { packet } = surbReplyPacket(nativeCrypto, surb, new TextEncoder().encode('reply'))
      const bad = packet.slice()
      bad[HEADER_SIZE + 100] ^= 4
      const last = walk(route, bad).at(-1)
      expect(last?.type === 'final' && last.command === 'surb-reply' ? openSurbReply(nativeCrypto, secret, last.payload) : 'wrong').to.equal(undefined)
    })
  })

  describe('replay', () => {
    it('the same packet sent twice to a relay is processed once', () => {
      const route = randomRoute(2)
      const cache = new ReplayCache()
      cache.setEpochs([1])
      const { packet } = buildPacket(nativeCrypto, route, new Uint8Array(1))
      expect(processPacket(nativeCrypto, [route[0].onionPrivate], packet, cache).type).to.equal('forward')
      expect(() => processPacket(nativeCrypto, [route[0].onionPrivate], packet, cache)).to.throw(PacketRejectedError).with.property('reason', 'replay')
      expect(cache.size).to.equal(1)
    })

    it('a twin packet whose α differs by a low-order point is still a replay', () => {
      // the X25519 twin: same shared secret, different bytes. The tag is keyed on s, so the twin is caught.
      const route = randomRoute(1)
      const cache = new ReplayCache()
      cache.setEpochs([1])
      const { packet } = buildPacket(nativeCrypto, route, new Uint8Array(1))
      processPacket(nativeCrypto, [route[0].onionPrivate], packet, cache)
      const twin = packet.slice()
      twin[31] ^= 0x80 // the top bit of u is ignored by X25519 (RFC 7748): same point, same secret
      expect(() => processPacket(nativeCrypto, [route[0].onionPrivate], twin, cache)).to.throw(PacketRejectedError).with.property('reason', 'replay')
    })
  })

  describe('key epochs', () => {
    it('a relay holding the current and the previous key accepts packets built for either, replay tags kept per key', () => {
      const previous = nativeCrypto.randomBytes(32)
      const current = nativeCrypto.randomBytes(32)
      const address = nativeCrypto.randomBytes(32)
      const cache = new ReplayCache()
      cache.setEpochs([2, 1])
      for (const key of [previous, current]) {
        const { packet } = buildPacket(nativeCrypto, [{ address, onionKey: nativeCrypto.x25519PublicKey(key) }], new Uint8Array(1))
        expect(processPacket(nativeCrypto, [current, previous], packet, cache).type).to.equal('final')
      }
      const stranger = buildPacket(nativeCrypto, [{ address, onionKey: nativeCrypto.x25519PublicKey(nativeCrypto.randomBytes(32)) }], new Uint8Array(1)).packet
      expect(() => processPacket(nativeCrypto, [current, previous], stranger, cache)).to.throw(PacketRejectedError).with.property('reason', 'mac')
      expect(cache.size).to.equal(2)
    })
  })

  describe('SURB', () => {
    it('round trips through encode/decode and opens at its creator', () => {
      const route = randomRoute(4)
      const { surb, secret } = createSurb(nativeCrypto, route)
      const wire = encodeSurb(surb)
      const { packet, firstHop } = surbReplyPacket(nativeCrypto, decodeSurb(wire), new TextEncoder().encode('answer'))
      expect(bytesToHex(firstHop)).to.equal(bytesToHex(route[0].address))
      const last = walk(route, packet).at(-1)
      expect(last?.type === 'final' && last.command === 'surb-reply' ? new TextDecoder().decode(openSurbReply(nativeCrypto, secret, last.payload)?.subarray(0, 6)) : '').to.equal('answer')
    })

    it('the creator checks a reply with the keys it kept for its own hop: the same result as the X25519 way, the same replay tag, the MAC still checked', () => {
      const route = randomRoute(3)
      const own = route[2].onionPrivate
      const { surb, secret } = createSurb(nativeCrypto, route)
      const { packet } = surbReplyPacket(nativeCrypto, surb, new TextEncoder().encode('answer'))
      const atCreator = walk(route.slice(0, 2), packet).at(-1)
      const arriving = atCreator?.type === 'forward' ? atCreator.packet : new Uint8Array(0)
      expect(bytesToHex(arriving.subarray(0, 32))).to.equal(bytesToHex(secret.own.alpha))
      let asked = 0
      const known = (alpha: Uint8Array): { keys: typeof secret.own.keys, keyIndex: number } | undefined => {
        asked++
        return bytesToHex(alpha) === bytesToHex(secret.own.alpha) ? { keys: secret.own.keys, keyIndex: 0 } : undefined
      }
      const viaKnown = processPacket(nativeCrypto, [own], arriving, undefined, known)
      const viaDh = processPacket(nativeCrypto, [own], arriving)
      expect(asked).to.equal(1)
      expect(viaKnown.type === 'final' && viaKnown.command === 'surb-reply' ? bytesToHex(viaKnown.payload) : 'wrong').to.equal(viaDh.type === 'final' && viaDh.command === 'surb-reply' ? bytesToHex(viaDh.payload) : 'other')
      expect(bytesToHex(viaKnown.replayTag)).to.equal(bytesToHex(viaDh.replayTag))
      expect(new TextDecoder().decode(viaKnown.type === 'final' && viaKnown.command === 'surb-reply' ? openSurbReply(nativeCrypto, secret, viaKnown.payload)?.subarray(0, 6) : undefined)).to.equal('answer')

      // a replay is caught whichever way the keys were found
      const cache = new ReplayCache()
      cache.setEpochs([1])
      processPacket(nativeCrypto, [own], arriving, cache, known)
      expect(() => processPacket(nativeCrypto, [own], arriving, cache, known)).to.throw(PacketRejectedError).with.property('reason', 'replay')
      expect(() => processPacket(nativeCrypto, [own], arriving, cache)).to.throw(PacketRejectedError).with.property('reason', 'replay')

      // a header tampered with fails the MAC under the kept keys too
      const bad = arriving.slice()
      bad[40] ^= 1
      expect(() => processPacket(nativeCrypto, [own], bad, undefined, known)).to.throw(PacketRejectedError).with.property('reason', 'mac')

      // kept keys that do not fit (wrong ones) fall back to the X25519 way
      const wrong = createSurb(nativeCrypto, route).secret.own.keys
      const fallback = processPacket(nativeCrypto, [own], arriving, undefined, () => ({ keys: wrong, keyIndex: 0 }))
      expect(bytesToHex(fallback.replayTag)).to.equal(bytesToHex(viaDh.replayTag))
    })

    it('the header alone is what buildHeader makes', () => {
      const route = randomRoute(2)
      expect(buildHeader(nativeCrypto, route, { command: 'deliver' }).header.length).to.equal(HEADER_SIZE)
    })
  })

  describe('fuzz', () => {
    it('random and mutated packets never escape the processor as anything but PacketRejectedError', () => {
      const route = randomRoute(3)
      const { packet } = buildPacket(nativeCrypto, route, new Uint8Array(5))
      const mutated = fc.tuple(fc.integer({ min: 0, max: PACKET_SIZE - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, m]) => {
        const p = packet.slice(); p[i] ^= m; return p
      })
      fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: PACKET_SIZE + 10 }), fc.uint8Array({ minLength: PACKET_SIZE, maxLength: PACKET_SIZE }), mutated), bytes => {
        try {
          processPacket(nativeCrypto, [route[0].onionPrivate], bytes)
        } catch (err) {
          expect(err).to.be.instanceOf(PacketRejectedError)
        }
      }), { seed: 42, numRuns: 400 })
    })

    it('random SURB bytes decode or throw InvalidSurbError', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
        try { decodeSurb(bytes) } catch (err: any) { expect(err.name).to.equal('InvalidSurbError') }
      }), { seed: 3, numRuns: 200 })
    })
  })
})
