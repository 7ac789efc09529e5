import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { fromString as uint8ArrayFromString, toString as uint8ArrayToString } from 'uint8arrays'
import { decodePublicIdentity, encodePublicIdentity } from '../identity/index.ts'
import { EPOCH_KEY_BYTES } from './crypto.ts'
import { Invite as InviteMessage } from './envelope.ts'
import { InvalidInviteError } from './errors.ts'
import { GROUP_ID_BYTES } from './topic.ts'
import type { PublicIdentity } from '../identity/index.ts'

/** Every invite code starts with this, so a pasted string is recognisable */
export const INVITE_PREFIX = 'murmur-group:'
export const INVITE_VERSION = 1
/** A code longer than this is refused before decoding */
const MAX_INVITE_CHARS = 2048
const MAX_NAME_CHARS = 128

/** What a joiner needs: the group's secret id, its current epoch key and who its admin is */
export interface Invite {
  groupId: string
  name: string
  epoch: number
  epochKey: Uint8Array
  admin: PublicIdentity
  adminName: string
}

export function encodeInvite (invite: Invite): string {
  const bytes = InviteMessage.encode({
    version: INVITE_VERSION,
    groupId: hexToBytes(invite.groupId),
    name: invite.name,
    epoch: BigInt(invite.epoch),
    epochKey: invite.epochKey,
    admin: encodePublicIdentity(invite.admin),
    adminName: invite.adminName
  })
  return INVITE_PREFIX + uint8ArrayToString(bytes, 'base64url')
}

/** Parses an invite code; anything else is an `InvalidInviteError` with the reason */
export function parseInvite (code: string): Invite {
  if (typeof code !== 'string') {
    throw new InvalidInviteError('An invite code is a string')
  }
  const text = code.trim()
  if (!text.startsWith(INVITE_PREFIX)) {
    throw new InvalidInviteError(`An invite code starts with "${INVITE_PREFIX}"`)
  }
  if (text.length > MAX_INVITE_CHARS) {
    throw new InvalidInviteError('The invite code is too long')
  }
  const body = text.slice(INVITE_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) {
    throw new InvalidInviteError('The invite code has characters outside base64url')
  }
  let msg: InviteMessage
  try {
    msg = InviteMessage.decode(uint8ArrayFromString(body, 'base64url'))
  } catch (err: any) {
    throw new InvalidInviteError(`The invite code does not decode: ${err.message}`)
  }
  if (msg.version !== INVITE_VERSION) {
    throw new InvalidInviteError(`Unknown invite version ${msg.version} (this build reads ${INVITE_VERSION})`)
  }
  if (msg.groupId.length !== GROUP_ID_BYTES) {
    throw new InvalidInviteError(`The group id is ${GROUP_ID_BYTES} bytes`)
  }
  if (msg.epochKey.length !== EPOCH_KEY_BYTES) {
    throw new InvalidInviteError(`The epoch key is ${EPOCH_KEY_BYTES} bytes`)
  }
  if (msg.epoch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidInviteError('The epoch is out of range')
  }
  if (msg.name.length > MAX_NAME_CHARS || msg.adminName.length > MAX_NAME_CHARS) {
    throw new InvalidInviteError('A name in the invite is too long')
  }
  let admin: PublicIdentity
  try {
    admin = decodePublicIdentity(msg.admin)
  } catch (err: any) {
    throw new InvalidInviteError(`The admin identity is invalid: ${err.message}`)
  }
  return {
    groupId: bytesToHex(msg.groupId),
    name: msg.name,
    epoch: Number(msg.epoch),
    epochKey: msg.epochKey,
    admin,
    adminName: msg.adminName
  }
}
