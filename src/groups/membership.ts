/**
 * A group's member list as this peer knows it. Members learn each other from
 * signed messages inside the group's encryption: the invite names the admin,
 * a JOIN announces a newcomer, the admin's ROSTER answers it and a REKEY
 * carries the list of those who remain.
 */

import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { decodePublicIdentity, encodePublicIdentity, identityId } from '../identity/index.ts'
import type { MemberInfo } from './index.ts'
import type { GroupState, StoredMember } from './timeline.ts'
import type { PublicIdentity } from '../identity/index.ts'

export function storedMember (pub: PublicIdentity, name: string | undefined, admin: boolean): StoredMember {
  return { id: identityId(pub), identity: bytesToHex(encodePublicIdentity(pub)), name: name === '' ? undefined : name, admin }
}

export function memberIdentity (member: StoredMember): PublicIdentity {
  return decodePublicIdentity(hexToBytes(member.identity))
}

export function findMember (state: GroupState, id: string): StoredMember | undefined {
  return state.members.find(m => m.id === id)
}

export function isAdmin (state: GroupState, id: string): boolean {
  return findMember(state, id)?.admin === true
}

/**
 * Adds a member or updates its name; answers whether anything changed. A
 * removed identity never comes back (it would need a new invite, and then a
 * new identity).
 */
export function upsertMember (state: GroupState, member: StoredMember): boolean {
  if (state.removed.includes(member.id)) {
    return false
  }
  const known = findMember(state, member.id)
  if (known == null) {
    state.members.push(member)
    return true
  }
  if (member.name != null && member.name !== known.name) {
    known.name = member.name
    return true
  }
  return false
}

/** Drops members from the list and remembers them as removed */
export function removeMembers (state: GroupState, ids: string[]): boolean {
  const before = state.members.length
  state.members = state.members.filter(m => !ids.includes(m.id))
  for (const id of ids) {
    if (!state.removed.includes(id)) {
      state.removed.push(id)
    }
  }
  return state.members.length !== before
}

export function memberInfos (state: GroupState, selfId: string): MemberInfo[] {
  return state.members.map(m => ({
    id: m.id,
    ...(m.name != null ? { name: m.name } : {}),
    admin: m.admin,
    self: m.id === selfId
  }))
}
