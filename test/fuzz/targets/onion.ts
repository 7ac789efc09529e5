import fc from 'fast-check'
import { CodecError } from '../../../src/directory/wire.ts'
import { buildPacket } from '../../../src/onion/builder.ts'
import { HEADER_SIZE, PACKET_SIZE, PAYLOAD_BODY_SIZE, PAYLOAD_SIZE, SURB_SIZE } from '../../../src/onion/constants.ts'
import { nativeCrypto } from '../../../src/onion/crypto/index.ts'
import { InvalidPacketError, InvalidSurbError } from '../../../src/onion/errors.ts'
import { MAX_FRAGMENTS, Reassembler } from '../../../src/onion/fragment.ts'
import { encodeFrame, FRAME_SIZE, FrameDecoder } from '../../../src/onion/frame.ts'
import { decodeHeader, decodePacket } from '../../../src/onion/header.ts'
import { decodeMessage, encodeMessage } from '../../../src/onion/message.ts'
import { PacketRejectedError, processPacket } from '../../../src/onion/processor.ts'
import { decodeRoutingBlock, encodeRoutingBlock } from '../../../src/onion/routing.ts'
import { createSurb, decodeSurb, encodeSurb, openSurbReply, surbReplyPacket } from '../../../src/onion/surb.ts'
import { bytesAround, decoderTarget, expectOnly, FuzzFinding } from '../registry.ts'
import type { RouteHop } from '../../../src/onion/builder.ts'
import type { FuzzTarget } from '../registry.ts'

type Hop = RouteHop & { onionPrivate: Uint8Array }

function route (n: number): Hop[] {
  return Array.from({ length: n }, () => {
    const onionPrivate = nativeCrypto.randomBytes(32)
    return { address: nativeCrypto.randomBytes(32), onionKey: nativeCrypto.x25519PublicKey(onionPrivate), onionPrivate }
  })
}

/** A message as it sits in a packet body: encoded, then padded to the body size */
function messageBody (): Uint8Array {
  const body = new Uint8Array(PAYLOAD_BODY_SIZE)
  body.set(encodeMessage({ type: 'data', id: new Uint8Array(16).fill(3), fragment: 0, fragments: 2, kind: 'chat', data: Uint8Array.of(1, 2, 3), ackSurb: new Uint8Array(SURB_SIZE).fill(5), surbs: [new Uint8Array(SURB_SIZE)], topic: 'news' }))
  return body
}

export function onionTargets (): FuzzTarget[] {
  const three = route(3)
  const one = route(1)
  const forward = buildPacket(nativeCrypto, three, new Uint8Array(5)).packet
  // a one-hop packet reaches the final-hop code (payload unwrap, message decode) of the same key
  const final = buildPacket(nativeCrypto, one, messageBody()).packet
  const { surb, secret } = createSurb(nativeCrypto, three)
  const reply = surbReplyPacket(nativeCrypto, surb, Uint8Array.of(7)).packet
  return [
    decoderTarget('onion: packet (decodePacket)', decodePacket, {
      expected: [InvalidPacketError],
      samples: () => [forward],
      maxLength: PACKET_SIZE + 16,
      ciRuns: 100
    }),
    decoderTarget('onion: Sphinx header (decodeHeader)', decodeHeader, {
      expected: [InvalidPacketError],
      samples: () => [forward.slice(0, HEADER_SIZE)],
      maxLength: 1024,
      ciRuns: 100
    }),
    decoderTarget('onion: routing block (decodeRoutingBlock)', decodeRoutingBlock, {
      expected: [InvalidPacketError],
      samples: () => [
        encodeRoutingBlock({ command: 'relay', delayMs: 300, address: new Uint8Array(32).fill(1), nextAlpha: new Uint8Array(32).fill(2), nextGamma: new Uint8Array(16).fill(3) }),
        encodeRoutingBlock({ command: 'deliver' }),
        encodeRoutingBlock({ command: 'surb-reply', surbId: new Uint8Array(16).fill(4) })
      ],
      maxLength: 256
    }),
    decoderTarget('onion: packet at a relay and at its destination (processPacket, decodeMessage)', bytes => {
      const hop = processPacket(nativeCrypto, [three[0].onionPrivate, one[0].onionPrivate], bytes)
      if (hop.type === 'final' && hop.command === 'deliver') {
        decodeMessage(hop.body)
      }
    }, {
      expected: [PacketRejectedError, CodecError],
      samples: () => [forward, final, reply],
      maxLength: PACKET_SIZE + 16,
      ciRuns: 150
    }),
    decoderTarget('onion: message in a packet body (decodeMessage)', decodeMessage, {
      expected: [CodecError],
      samples: () => [messageBody()],
      maxLength: PAYLOAD_BODY_SIZE
    }),
    // what a destination does with a SURB it received: decode it, build the reply on it
    decoderTarget('onion: reply block (decodeSurb, surbReplyPacket)', b => surbReplyPacket(nativeCrypto, decodeSurb(b), Uint8Array.of(1)), {
      expected: [InvalidSurbError],
      samples: () => [encodeSurb(surb)],
      maxLength: SURB_SIZE + 16,
      ciRuns: 100
    }),
    framesTarget(forward),
    reassemblyTarget(),
    surbReplyTarget(three, reply, secret)
  ]
}

/**
 * The reply a SURB's creator opens: always a whole packet payload (the
 * processor cuts it), any content. A payload that is not the reply answers
 * undefined; nothing throws.
 */
function surbReplyTarget (route: Hop[], reply: Uint8Array, secret: Parameters<typeof openSurbReply>[1]): FuzzTarget {
  let hop = processPacket(nativeCrypto, [route[0].onionPrivate], reply)
  for (const next of route.slice(1)) {
    hop = hop.type === 'forward' ? processPacket(nativeCrypto, [next.onionPrivate], hop.packet) : hop
  }
  if (hop.type !== 'final' || hop.command !== 'surb-reply') {
    throw new Error('the reply packet did not reach its creator')
  }
  const payload = hop.payload
  const fit = (b: Uint8Array): Uint8Array => { const out = new Uint8Array(PAYLOAD_SIZE); out.set(b.subarray(0, PAYLOAD_SIZE)); return out }
  return {
    name: 'onion: SURB reply payload at its creator (openSurbReply)',
    ciRuns: 100,
    arbitrary: bytesAround(() => [payload], PAYLOAD_SIZE).map(fit),
    check: async (bytes) => {
      await expectOnly(() => openSurbReply(nativeCrypto, secret, bytes), [], 'openSurbReply')
    },
    checkSamples: async () => {
      if (openSurbReply(nativeCrypto, secret, payload)?.[0] !== 7) {
        throw new FuzzFinding('openSurbReply does not open the reply it was made for')
      }
    }
  }
}

/** The stream side: chunks split and joined anywhere, frames of any version */
function framesTarget (packet: Uint8Array): FuzzTarget {
  const frame = encodeFrame(packet)
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: FRAME_SIZE + 8 }),
    fc.tuple(fc.nat({ max: FRAME_SIZE }), fc.nat({ max: FRAME_SIZE })).map(([a, b]) => frame.subarray(Math.min(a, b), Math.max(a, b))),
    fc.constant(frame),
    fc.integer({ min: 0, max: 255 }).map(v => { const f = frame.slice(); f[0] = v; return f })
  )
  return {
    name: 'onion: frames on a stream (FrameDecoder)',
    ciRuns: 100,
    arbitrary: fc.array(chunk, { maxLength: 6 }),
    check: async (chunks) => {
      const decoder = new FrameDecoder()
      await expectOnly(() => {
        for (const c of chunks) {
          decoder.push(c)
        }
      }, [InvalidPacketError], 'FrameDecoder.push')
    }
  }
}

/**
 * Fragments as a destination takes them from decoded messages (fragment <
 * fragments, any count, ids repeated, duplicates, any order): nothing throws,
 * no message of more than MAX_FRAGMENTS comes out, and the completed ids
 * remembered stay under the reassembler's bound.
 */
function reassemblyTarget (): FuzzTarget {
  const fragment = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd'),
    fragments: fc.integer({ min: 1, max: MAX_FRAGMENTS + 2 }),
    at: fc.nat(),
    data: fc.uint8Array({ maxLength: 8 }),
    dt: fc.nat({ max: 500 })
  }).map(f => ({ ...f, fragment: f.at % f.fragments }))
  return {
    name: 'onion: fragment reassembly (decodeMessage fields into Reassembler.add)',
    arbitrary: fc.array(fragment, { maxLength: 80 }),
    check: async (fragments) => {
      const r = new Reassembler(1_000, 2, 3)
      let now = 0
      for (const f of fragments) {
        now += f.dt
        const at = now
        const out = await expectOnly(() => r.add(f.id, f.fragment, f.fragments, 'k', f.data, [], at), [], 'Reassembler.add')
        if (out != null) {
          if (f.fragments > MAX_FRAGMENTS) {
            throw new FuzzFinding(`a message of ${f.fragments} fragments (over ${MAX_FRAGMENTS}) came out`)
          }
        }
        if (r.remembered > 3) {
          throw new FuzzFinding(`${r.remembered} completed ids remembered, over the bound of 3`)
        }
      }
    }
  }
}
