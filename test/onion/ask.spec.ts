import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import pino from 'pino'
import { Onion } from '../../src/onion/onion.ts'
import type { OnionComponents, SendResult } from '../../src/onion/onion.ts'

/** An onion layer that is never started: `ask` is driven with a stand-in `send` */
function idleOnion (): Onion {
  const logger = Object.assign(pino({ level: 'silent' }), { forComponent: () => pino({ level: 'silent' }) })
  const node = { logger, roles: new Set<string>(), datastore: new MemoryDatastore(), metricsRegistry: undefined }
  return new Onion({ node, directory: {} } as unknown as OnionComponents)
}

describe('onion ask', () => {
  it('a signal that aborts while the send is still going rejects the ask, and leaves no unhandled rejection behind', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    try {
      const onion = idleOnion()
      // a send that outlives the ask's signal (acks awaited over routes that lead nowhere)
      onion.send = async () => new Promise<SendResult>(resolve => setTimeout(() => { resolve({ messageId: '00', fragments: 1, attempts: 1, relays: [] }) }, 300))
      const asked = onion.ask('12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', new Uint8Array([1]), { surbs: 1, signal: AbortSignal.timeout(20) })
      await expect(asked).to.eventually.be.rejected().with.property('name', 'DeliveryFailedError')
      // the timers and the event loop turn: an unhandled rejection would have been reported by now
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(unhandled.map(r => String(r))).to.deep.equal([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
