import { expect } from 'aegir/chai'
import { MAX_ENVELOPE_BYTES } from '../../src/contacts/messages.ts'
import { DirectLiveTransport, DM_PROTOCOL, encodeRequest } from '../../src/contacts/transport.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import { varint } from '../fixtures/wire.ts'
import type { MurmurNode } from '../../src/node/index.ts'

const KB = 1024

describe('contacts: the direct protocol against a sender that runs ahead', function () {
  this.timeout(60_000)
  let server: MurmurNode
  let hostile: MurmurNode
  let release: () => void = () => {}

  before(async () => {
    server = await loopbackNode()
    hostile = await loopbackNode()
  })

  after(async () => {
    release()
    await stopAll([server, hostile])
  })

  it('holds at most one request frame per stream while a request is handled', async () => {
    const blocked = new Promise<void>(resolve => { release = resolve })
    const live = new DirectLiveTransport(server, { timeoutMs: 30_000 })
    // a receiver busy with the first request: the stream is not read again until it answers
    await live.start({ onSealed: async () => blocked, bundleFor: () => undefined })
    const conn = await hostile.libp2p.dial(server.getMultiaddrs()[0])
    const stream = await conn.newStream(DM_PROTOCOL)
    const request = encodeRequest({ sealed: new Uint8Array(100).fill(1) })
    stream.send(Uint8Array.from([...varint(request.length), ...request]))
    let serverSide: any
    await waitFor(() => {
      serverSide = server.libp2p.getConnections().flatMap(c => c.streams).find(s => s.protocol === DM_PROTOCOL)
      return serverSide != null
    }, 'the server side of the stream')
    let received = 0
    serverSide.addEventListener('message', (evt: any) => { received += evt.data.byteLength })
    // then 8 MiB more, without waiting for an answer
    const chunk = new Uint8Array(64 * KB)
    for (let sent = 0; sent < 8 * 1024 * KB && stream.status === 'open'; sent += chunk.length) {
      stream.send(chunk)
      while (stream.writeBufferLength > 256 * KB && stream.status === 'open') {
        await new Promise(resolve => setTimeout(resolve, 2))
      }
    }
    await waitFor(() => serverSide.status !== 'open', 'the server to reset the stream', 10_000)
    // eslint-disable-next-line no-console
    console.log('      figures:', JSON.stringify({ receivedKB: Math.round(received / KB), frameLimitKB: Math.round((MAX_ENVELOPE_BYTES + 64) / KB) }))
    // one frame's worth, and what arrived in the same read: not the 4 MiB libp2p's reader allows by default
    expect(received).to.be.at.most(MAX_ENVELOPE_BYTES + 64 + 16 + 128 * KB)
    await live.stop()
  })
})
