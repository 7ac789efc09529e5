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
 * const murmur = await createMurmur({ home: './murmur-home' })
 * await murmur.start()
 * ```
 */

export * from './app/index.ts'
export * from './node/index.ts'
