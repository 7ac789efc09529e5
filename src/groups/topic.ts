import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, concatBytes, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { InvalidGroupArgumentError } from './errors.ts'

/** Every group topic starts with this (DESIGN.md, "Protocols") */
export const GROUP_TOPIC_PREFIX = '/murmur/1/g/'
/** A group id is 32 random bytes: the group's secret name */
export const GROUP_ID_BYTES = 32

const TOPIC_DOMAIN = utf8ToBytes('murmur/group-topic/v1')

export function newGroupId (): string {
  return bytesToHex(randomBytes(GROUP_ID_BYTES))
}

export function groupIdBytes (groupId: string): Uint8Array {
  if (typeof groupId !== 'string' || !/^[0-9a-f]{64}$/.test(groupId)) {
    throw new InvalidGroupArgumentError('A group id is 64 lowercase hex characters')
  }
  return hexToBytes(groupId)
}

/**
 * The gossipsub topic of a group: a one-way hash of the group id under a
 * domain tag, so the topic name tells an outsider nothing about the group's
 * id, name or members, and cannot be turned back into the id an invite needs.
 */
export function groupTopic (groupId: string): string {
  return GROUP_TOPIC_PREFIX + bytesToHex(sha256(concatBytes(TOPIC_DOMAIN, groupIdBytes(groupId))))
}
