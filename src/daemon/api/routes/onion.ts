import { peerIdFromString } from '@libp2p/peer-id'
import { UsageError } from '../../errors.ts'
import { stringField } from '../server.ts'
import type { RelayDirectory } from '../../../directory/index.ts'
import type { Onion } from '../../../onion/index.ts'
import type { Route } from '../server.ts'

/** The kind `murmur onion send` uses; the daemon shows such messages on its event stream */
export const TEXT_KIND = 'text'

/** The onion layer's endpoints: status (relay counters, directory) and a quick send */
export function onionRoutes (onion: Onion, directory: RelayDirectory): Route[] {
  return [{
    method: 'GET',
    path: '/v1/onion/status',
    handler: async () => ({ ...onion.status(), directory: directory.status() })
  }, {
    method: 'POST',
    path: '/v1/onion/send',
    handler: async ({ body, signal }) => {
      const input = await body()
      const peer = stringField(input, 'peerId')
      const text = stringField(input, 'text')
      const hops = (input as { hops?: unknown }).hops
      if (hops != null && (typeof hops !== 'number' || !Number.isInteger(hops) || hops < 1 || hops > 4)) {
        throw new UsageError('hops must be an integer from 1 to 4')
      }
      try {
        peerIdFromString(peer)
      } catch {
        throw new UsageError(`Not a peer id: ${peer}`)
      }
      const started = Date.now()
      const result = await onion.send(peer, new TextEncoder().encode(text), { kind: TEXT_KIND, hops: hops ?? undefined, signal: AbortSignal.any([signal, AbortSignal.timeout(120_000)]) })
      return { ...result, ms: Date.now() - started }
    }
  }]
}
