/**
 * @packageDocumentation
 *
 * Murmur: a metadata-private pub-sub messaging network on libp2p.
 *
 * @example
 *
 * ```TypeScript
 * import { createMurmur } from 'murmur'
 *
 * const node = await createMurmur({ home: './murmur-home' })
 * await node.start()
 * ```
 */

export * from './node/index.ts'
