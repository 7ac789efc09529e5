/* eslint max-nested-callbacks: ["error", 6] -- fast-check properties inside describe/it nest one level deeper */
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import fc from 'fast-check'
import { PACKET_SIZE, PAYLOAD_BODY_SIZE, SURB_SIZE } from '../../src/onion/constants.ts'
import { nativeCrypto } from '../../src/onion/crypto/index.ts'
import { MAX_FRAGMENTS, Reassembler, splitByCapacity, splitMessage } from '../../src/onion/fragment.ts'
import { FRAME_SIZE, FrameDecoder, encodeFrame, encodeFrames } from '../../src/onion/frame.ts'
import { OnionKeyring } from '../../src/onion/keyring.ts'
import { decodeMessage, encodeMessage } from '../../src/onion/message.ts'
import { destinationMember, ReliabilityTracker, isLocalAddress, selectPath } from '../../src/onion/path.ts'
import { ReplayCache } from '../../src/onion/replay.ts'
import type { OnionMessage } from '../../src/onion/message.ts'

const message = (over: Partial<OnionMessage> = {}): OnionMessage => ({ type: 'data', id: new Uint8Array(16).fill(3), fragment: 0, fragments: 2, kind: 'chat', data: new Uint8Array([1, 2, 3]), ackSurb: new Uint8Array(SURB_SIZE).fill(5), surbs: [new Uint8Array(SURB_SIZE)], topic: '', ...over })

describe('onion/wire', function () {
  this.timeout(60_000)

  describe('frames', () => {
    it('cuts packets out of chunks split and joined anywhere', () => {
      const packets = [1, 2, 3].map(n => new Uint8Array(PACKET_SIZE).fill(n))
      const stream = new Uint8Array(3 * FRAME_SIZE)
      packets.forEach((p, i) => stream.set(encodeFrame(p), i * FRAME_SIZE))
      fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }), cuts => {
        const points = [0, ...new Set(cuts)].sort((a, b) => a - b).concat(stream.length)
        const decoder = new FrameDecoder()
        const out: Uint8Array[] = []
        for (let i = 0; i + 1 < points.length; i++) { out.push(...decoder.push(stream.subarray(points[i], points[i + 1]))) }
        expect(out.map(p => p[0])).to.deep.equal([1, 2, 3])
        expect(decoder.buffered).to.equal(0)
      }), { seed: 1, numRuns: 100 })
    })

    it('fuzz: random bytes yield packets of the right size or InvalidPacketError, nothing else', () => {
      fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: FRAME_SIZE * 2 }), { maxLength: 4 }), chunks => {
        const decoder = new FrameDecoder()
        try {
          for (const c of chunks) { for (const p of decoder.push(c)) { expect(p.length).to.equal(PACKET_SIZE) } }
        } catch (err: any) {
          expect(err.name).to.equal('InvalidPacketError')
        }
      }), { seed: 2, numRuns: 200 })
    })

    it('refuses to frame anything but one packet', () => {
      expect(() => encodeFrame(new Uint8Array(10))).to.throw().with.property('name', 'InvalidPacketError')
      expect(() => encodeFrames([new Uint8Array(PACKET_SIZE), new Uint8Array(10)])).to.throw().with.property('name', 'InvalidPacketError')
    })

    it('packets sent in one write are the frames of each back to back, cut apart as ever', () => {
      const packets = [4, 5, 6].map(n => new Uint8Array(PACKET_SIZE).fill(n))
      const joined = encodeFrames(packets)
      expect(joined.length).to.equal(3 * FRAME_SIZE)
      packets.forEach((p, i) => { expect(joined.subarray(i * FRAME_SIZE, (i + 1) * FRAME_SIZE)).to.deep.equal(encodeFrame(p)) })
      expect(new FrameDecoder().push(joined).map(p => p[0])).to.deep.equal([4, 5, 6])
    })
  })

  describe('messages', () => {
    it('round trips and fits a packet body', () => {
      const bytes = encodeMessage(message())
      expect(bytes.length).to.be.at.most(PAYLOAD_BODY_SIZE)
      const padded = new Uint8Array(PAYLOAD_BODY_SIZE)
      padded.set(bytes)
      const back = decodeMessage(padded)
      expect(back.kind).to.equal('chat')
      expect(back.data).to.deep.equal(new Uint8Array([1, 2, 3]))
      expect(back.surbs.length).to.equal(1)
      expect(back.ackSurb?.length).to.equal(SURB_SIZE)
    })

    it('fuzz: random and mutated bodies decode or throw CodecError', () => {
      const good = new Uint8Array(PAYLOAD_BODY_SIZE)
      good.set(encodeMessage(message()))
      fc.assert(fc.property(fc.oneof(
        fc.uint8Array({ maxLength: PAYLOAD_BODY_SIZE }),
        fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 1, max: 255 })).map(([i, m]) => { const b = good.slice(); b[i] ^= m; return b })
      ), bytes => {
        try { decodeMessage(bytes) } catch (err: any) { expect(err.name).to.equal('CodecError') }
      }), { seed: 4, numRuns: 500 })
    })
  })

  describe('fragments', () => {
    it('reassembles in any order, once', () => {
      const data = nativeCrypto.randomBytes(5000)
      const parts = splitMessage(data, 1000, 1500)
      const r = new Reassembler()
      const order = parts.map((_, i) => i).reverse()
      let done
      for (const i of order) { done = r.add('m', i, parts.length, 'k', parts[i], []) ?? done }
      expect(done?.data).to.deep.equal(data)
      expect(r.add('m', 0, parts.length, 'k', parts[0], [])).to.equal(undefined)
    })

    it('splits by each fragment\'s room, keeps fragments that only carry reply blocks, and gathers every fragment\'s reply blocks', () => {
      const data = nativeCrypto.randomBytes(700)
      // fragments 0-2 carry reply blocks (room 300, 0, 0), the rest hold 1000
      const room = [300, 0, 0]
      const parts = splitByCapacity(data, i => room[i] ?? 1000, 3)
      expect(parts.map(p => p.length)).to.deep.equal([300, 0, 0, 400])
      const r = new Reassembler()
      const surbs = [[new Uint8Array(SURB_SIZE).fill(1)], [new Uint8Array(SURB_SIZE).fill(2)], [new Uint8Array(SURB_SIZE).fill(3)], []]
      let done
      for (const i of [3, 1, 0, 2]) { done = r.add('m', i, parts.length, 'k', parts[i], surbs[i]) ?? done }
      expect(done?.data).to.deep.equal(data)
      expect(done?.surbs.map(s => s[0]).sort()).to.deep.equal([1, 2, 3])
      expect(splitByCapacity(new Uint8Array(0), () => 100).map(p => p.length)).to.deep.equal([0])
      expect(() => splitByCapacity(data, i => i === 0 ? 10 : 0)).to.throw().with.property('name', 'MessageTooLargeError')
      expect(() => splitByCapacity(new Uint8Array(0), () => 0, MAX_FRAGMENTS + 1)).to.throw().with.property('name', 'MessageTooLargeError')
    })

    it('remembers a bounded number of completed ids, and still expires them by age', () => {
      // a sender of one-packet messages: each completes at once and its id is remembered for the TTL
      const r = new Reassembler(1_000, 1_000, 5_000)
      const part = new Uint8Array(10)
      for (let i = 0; i < 20_000; i++) {
        expect(r.add(`m${i}`, 0, 1, 'k', part, [], 0)).to.not.equal(undefined)
      }
      expect(r.remembered).to.equal(5_000)
      // the newest are the ones kept: a duplicate of one is still refused
      expect(r.add('m19999', 0, 1, 'k', part, [], 1)).to.equal(undefined)
      r.add('late', 0, 1, 'k', part, [], 500)
      // past the TTL of the first 5000 (expired at 1000), only the one completed at 500 is left
      r.add('later', 0, 1, 'k', part, [], 1_200)
      expect(r.remembered).to.equal(2)
    })

    it('refuses a message beyond the fragment limit', () => {
      expect(() => splitMessage(new Uint8Array(200_000), 1000, 1000)).to.throw().with.property('name', 'MessageTooLargeError')
    })
  })

  describe('replay cache and keys', () => {
    it('survives a restart for the epoch and forgets dead epochs', async () => {
      const datastore = new MemoryDatastore()
      const a = new ReplayCache({ datastore })
      a.setEpochs([5, 4])
      const tag = new Uint8Array(16).fill(8)
      expect(a.checkAndAdd(tag, 0)).to.equal(true)
      await a.flush()
      const b = new ReplayCache({ datastore })
      b.setEpochs([5, 4])
      await b.load()
      expect(b.checkAndAdd(tag, 0)).to.equal(false)
      const c = new ReplayCache({ datastore })
      c.setEpochs([6, 5])
      await c.load()
      expect(c.checkAndAdd(tag, 1)).to.equal(false)
      const d = new ReplayCache({ datastore })
      d.setEpochs([7, 6])
      await d.load()
      expect(d.size).to.equal(0)
    })

    it('is bounded: full means refuse, not forget', () => {
      const cache = new ReplayCache({ maxEntries: 2 })
      cache.setEpochs([1])
      cache.checkAndAdd(new Uint8Array(16).fill(1), 0)
      cache.checkAndAdd(new Uint8Array(16).fill(2), 0)
      expect(() => cache.checkAndAdd(new Uint8Array(16).fill(3), 0)).to.throw().with.property('reason', 'replay-cache-full')
    })

    it('rotates onion keys by epoch, keeps the previous one during the overlap, persists them', async () => {
      const datastore = new MemoryDatastore()
      const ring = new OnionKeyring(nativeCrypto, 1_000, 300, datastore)
      const k1 = await ring.rotate(10_500)
      expect(k1.epoch).to.equal(10)
      const k2 = await ring.rotate(11_100)
      expect(ring.live(11_100).map(k => k.epoch)).to.deep.equal([11, 10])
      await ring.rotate(11_400)
      expect(ring.live(11_400).map(k => k.epoch)).to.deep.equal([11])
      const again = await new OnionKeyring(nativeCrypto, 1_000, 300, datastore).rotate(11_500)
      expect(again.publicKey).to.deep.equal(k2.publicKey)
    })
  })

  describe('path selection', () => {
    // public addresses: four /16s, two relays in each
    const relays = Array.from({ length: 8 }, (_, i) => ({ peerId: `r${i}`, load: 0, hosts: [`20.${i % 4}.0.${i}`] }))

    it('picks distinct relays, never excluded ones, one per /16', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer(), (hops, seed) => {
        let s = seed
        const random = (): number => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff }
        const path = selectPath(relays, hops, { exclude: new Set(['r0']), diversity: 'subnet16', reliability: new ReliabilityTracker(), random })
        expect(new Set(path).size).to.equal(hops)
        expect(path).to.not.include('r0')
        expect(new Set(path.map(p => relays.find(r => r.peerId === p)?.hosts[0].split('.')[1])).size).to.equal(hops)
      }), { seed: 9, numRuns: 100 })
      expect(() => selectPath(relays, 5, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.throw().with.property('name', 'NoRouteError')
    })

    it('leaves loopback addresses out of the rule, so relays on one test host still make routes', () => {
      const local = Array.from({ length: 4 }, (_, i) => ({ peerId: `l${i}`, load: 0, hosts: ['127.0.0.1', '::1'] }))
      expect(selectPath(local, 3, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.have.length(3)
      const sameNet = [...local.slice(0, 2), { peerId: 'x', load: 0, hosts: ['20.1.0.1'] }, { peerId: 'y', load: 0, hosts: ['20.1.9.9', '127.0.0.1'] }]
      expect(() => selectPath(sameNet, 4, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.throw().with.property('name', 'NoRouteError')
    })

    it('leaves private addresses out of the rule: a testnet on one private /24 makes routes, a shared public /16 still counts', () => {
      // the netns testnet and docker/compose.yaml: every relay on 10.77.0.0/24
      const testnet = Array.from({ length: 3 }, (_, i) => ({ peerId: `t${i}`, load: 0, hosts: [`10.77.0.${11 + i}`] }))
      expect(selectPath(testnet, 3, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.have.length(3)
      // two home relays behind NATs with the same private range but distinct public addresses
      const homes = [{ peerId: 'h0', load: 0, hosts: ['192.168.1.5', '20.5.0.1'] }, { peerId: 'h1', load: 0, hosts: ['192.168.1.5', '30.5.0.1'] }]
      expect(selectPath(homes, 2, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.have.length(2)
      const onePublicNet = [{ peerId: 'p0', load: 0, hosts: ['172.16.0.1', '20.5.0.1'] }, { peerId: 'p1', load: 0, hosts: ['fd00::1', '20.5.7.7'] }]
      expect(() => selectPath(onePublicNet, 2, { exclude: new Set(), diversity: 'subnet16', reliability: new ReliabilityTracker() })).to.throw().with.property('name', 'NoRouteError')
      for (const local of ['10.0.0.1', '172.31.255.1', '192.168.0.1', '100.64.0.1', '169.254.1.1', '127.0.0.1', '::1', 'fc00::1', 'fd12::1', 'fe80::1']) {
        expect(isLocalAddress(local), local).to.equal(true)
      }
      for (const global of ['20.1.0.1', '172.32.0.1', '172.15.0.1', '192.169.0.1', '100.128.0.1', '2001:db8::1', 'fe00::1']) {
        expect(isLocalAddress(global), global).to.equal(false)
      }
    })

    it('never puts avoidRelays on a route, and says so when too few relays remain', () => {
      const avoidRelays = new Set(['r1', 'r3'])
      fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer(), (hops, seed) => {
        let s = seed
        const random = (): number => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff }
        const path = selectPath(relays, hops, { exclude: new Set(['r0']), avoidRelays, diversity: 'none', reliability: new ReliabilityTracker(), random })
        expect(path).to.have.length(hops)
        expect(path.filter(p => avoidRelays.has(p) || p === 'r0')).to.deep.equal([])
      }), { seed: 11, numRuns: 100 })
      expect(() => selectPath(relays, relays.length - 1, { exclude: new Set(), avoidRelays, diversity: 'none', reliability: new ReliabilityTracker() }))
        .to.throw(/with 2 avoided/).with.property('name', 'NoRouteError')
    })

    it('blames the relay on every lost route and on none that came back, not the honest relays beside it', () => {
      let seed = 5
      const random = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
      const ids = Array.from({ length: 10 }, (_, i) => `r${i}`)
      const dropper = 'r9'
      const reliability = new ReliabilityTracker()
      for (let i = 0; i < 40; i++) {
        // a route and its ack route: six relays, as an onion send uses
        const route = [...ids].sort(() => random() - 0.5).slice(0, 6)
        reliability.observe(route, !route.includes(dropper))
      }
      expect(reliability.score(dropper)).to.be.lessThan(0.15)
      for (const id of ids.filter(id => id !== dropper)) {
        expect(reliability.score(id), id).to.be.greaterThan(0.6)
      }
    })

    it('re-attributes an early loss once later routes clear the honest relays on it', () => {
      // a clock that moves on: scores recompute at most every 50 ms while only successes come
      let t = 0
      const reliability = new ReliabilityTracker({ now: () => (t += 100) })
      reliability.failure(['a', 'b', 'bad'])
      const early = reliability.score('a')
      for (let i = 0; i < 3; i++) { reliability.success(['a', 'x']); reliability.success(['b', 'y']) }
      expect(reliability.score('a')).to.be.greaterThan(0.8)
      // the one loss is now mostly its: lower than the three stood after it, with nothing else known of it
      expect(reliability.score('bad')).to.be.lessThan(early - 0.1)
    })

    it('a destination that is down takes the blame for its silence, not the relays towards it', () => {
      const reliability = new ReliabilityTracker()
      for (let i = 0; i < 4; i++) { reliability.success(['r1', 'r2', destinationMember('up')]) }
      for (let i = 0; i < 4; i++) { reliability.failure(['r1', 'r2', destinationMember('down')]) }
      expect(reliability.score(destinationMember('down'))).to.be.lessThan(0.2)
      expect(reliability.score('r1')).to.be.greaterThan(0.6)
      expect(reliability.score('r2')).to.be.greaterThan(0.6)
    })

    it('a relay that turns bad sinks within a few losses, however long it was good', () => {
      const reliability = new ReliabilityTracker()
      for (let i = 0; i < 50; i++) { reliability.success(['turncoat', `h${i % 5}`]) }
      for (let i = 0; i < 5; i++) { reliability.success([`h${i % 5}`]) }
      for (let i = 0; i < 8; i++) { reliability.failure(['turncoat', `h${i % 5}`]) }
      expect(reliability.score('turncoat')).to.be.lessThan(0.3)
      expect(reliability.score('h0')).to.be.greaterThan(0.6)
    })

    it('puts the relay under test on a probe route, anywhere on it', () => {
      const places = new Set<number>()
      for (let i = 0; i < 60; i++) {
        const path = selectPath(relays, 3, { exclude: new Set(), include: 'r5', diversity: 'none', reliability: new ReliabilityTracker() })
        expect(new Set(path).size).to.equal(3)
        places.add(path.indexOf('r5'))
      }
      expect([...places].sort()).to.deep.equal([0, 1, 2])
    })

    it('avoids relays scored down', () => {
      const reliability = new ReliabilityTracker()
      for (let i = 0; i < 4; i++) { reliability.failure(['r1']) }
      for (let i = 0; i < 4; i++) { reliability.success(['r2', 'r3']) }
      let picked = 0
      for (let i = 0; i < 500; i++) { if (selectPath(relays, 1, { exclude: new Set(), diversity: 'none', reliability }).includes('r1')) { picked++ } }
      expect(picked).to.be.lessThan(10)
    })
  })
})
