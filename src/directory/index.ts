/**
 * @packageDocumentation
 *
 * The relay directory: signed relay descriptors (peer id, onion key, epoch,
 * validity, roles, load, addresses), published as DHT records under
 * `/murmur-relay/<peer id>` and on the gossipsub topic `/murmur/1/directory`,
 * and the verified view every client keeps (bad signatures and expired
 * descriptors never enter it).
 *
 * @example
 *
 * ```TypeScript
 * const node = await createNode({ ...directoryDhtInit() })
 * const directory = new RelayDirectory({ node, privateKey })
 * await directory.start()
 * await directory.setLocal({ onionKey, epoch, notAfter, roles: ['relay'], load: 0 })
 * directory.descriptors() // verified, unexpired
 * ```
 */

import { DESCRIPTOR_NAMESPACE, descriptorSelector, descriptorValidator } from './directory.ts'
import type { NodeInit } from '../node/index.ts'

export { RelayDirectory, DIRECTORY_TOPIC, DESCRIPTOR_NAMESPACE, descriptorKey, descriptorValidator, descriptorSelector } from './directory.ts'
export type { DirectoryInit, DirectoryComponents, DirectoryEvents, DirectoryStatus } from './directory.ts'
export { signDescriptor, verifyDescriptor, CLOCK_SKEW_MS } from './signed.ts'
export type { RelayDescriptor, DescriptorFields } from './signed.ts'
export { InvalidDescriptorError, BadDescriptorSignatureError, ExpiredDescriptorError } from './errors.ts'
export { CodecError } from './wire.ts'

/** The NodeInit fields that make every node validate relay descriptors in the DHT */
export function directoryDhtInit (init: Pick<NodeInit, 'dhtValidators' | 'dhtSelectors'> = {}): Pick<NodeInit, 'dhtValidators' | 'dhtSelectors'> {
  return {
    dhtValidators: { ...init.dhtValidators, [DESCRIPTOR_NAMESPACE]: descriptorValidator },
    dhtSelectors: { ...init.dhtSelectors, [DESCRIPTOR_NAMESPACE]: descriptorSelector }
  }
}
