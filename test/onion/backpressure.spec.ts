import { expect } from 'aegir/chai'
import { PACKET_SIZE } from '../../src/onion/constants.ts'
import { FRAME_SIZE, NextHopCongestedError, ONION_PROTOCOL } from '../../src/onion/index.ts'
import { MAX_UNSENT_BYTES } from '../../src/onion/onion.ts'
import { loopbackNode, loopbackPeer, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { Murmur } from '../../src/app/index.ts'
import type { MurmurNode } from '../../src/node/index.ts'
import type { Stream } from '@libp2p/interface'

describe('onion: a next hop that never reads', function () {
  this.timeout(60_000)
  let relay: Murmur
  let sink: MurmurNode
  const held: Stream[] = []

  before(async () => {
    relay = await loopbackPeer()
    sink = await loopbackNode()
    // takes the onion stream and never reads it: yamux stops granting window, the sender's queue is all that moves
    await sink.libp2p.handle(ONION_PROTOCOL, (stream) => {
      stream.pause()
      held.push(stream)
    })
    await relay.node.connect(sink.getMultiaddrs()[0])
  })

  after(async () => {
    await stopAll([relay, sink])
  })

  it('drops packets once MAX_UNSENT_BYTES wait for it, instead of queueing without end', async () => {
    const packets = 4000 // ~10 MB offered: ten times the bound
    let congested = 0
    const sends = Array.from({ length: packets }, async () => relay.onion.sendPacket(sink.peerId, new Uint8Array(PACKET_SIZE)).catch(err => {
      if (err instanceof NextHopCongestedError) {
        congested++
        return
      }
      // queued packets wait for a drain that never comes: they fail when the stream is given up
      return err
    }))
    await waitFor(() => held.length > 0 && congested > 0, 'the sink to take the stream and the relay to refuse packets', 10_000)
    const out = relay.node.libp2p.getConnections(sink.peerId).flatMap(c => c.streams).filter(s => s.protocol === ONION_PROTOCOL)
    const unsent = out.reduce((n, s) => n + s.writeBufferLength, 0)
    // eslint-disable-next-line no-console
    console.log('      figures:', JSON.stringify({ offeredBytes: packets * FRAME_SIZE, congested, unsentBytes: unsent, bound: MAX_UNSENT_BYTES }))
    expect(unsent).to.be.at.most(MAX_UNSENT_BYTES)
    // what fits in the bound and the yamux window went; the rest was refused
    expect(congested).to.be.greaterThan(packets - Math.ceil(2 * MAX_UNSENT_BYTES / FRAME_SIZE))
    await sink.stop()
    await Promise.all(sends)
  })
})
