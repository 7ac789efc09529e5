/**
 * @packageDocumentation
 *
 * Messaging identities (DESIGN.md, "Identities"): who a user is to other
 * users, kept apart from the libp2p peer id that names a machine. An identity
 * signs (Ed25519) and agrees secrets (X25519); `seal` / `open` make anonymous
 * boxes to an identity's X25519 key. Groups, contacts and mailboxes build on
 * this box; it uses nothing above the node.
 *
 * @example
 *
 * ```TypeScript
 * import { loadOrCreateIdentity, seal, open } from 'murmur'
 *
 * const { identity } = await loadOrCreateIdentity({ home: '/var/lib/murmur' })
 * const box = seal(identity.publicIdentity.dhKey, new TextEncoder().encode('hi'))
 * open(identity, box) // 'hi'
 * ```
 */

export { MessagingIdentity, identityId, encodePublicIdentity, decodePublicIdentity, verifySignature, IDENTITY_SECRET_BYTES, PUBLIC_IDENTITY_BYTES } from './identity.ts'
export type { PublicIdentity } from './identity.ts'
export { seal, open, SEAL_OVERHEAD } from './seal.ts'
export { loadOrCreateIdentity, IDENTITY_FILE } from './store.ts'
export type { IdentityStorage } from './store.ts'
export { IdentityFormatError, IdentityHomeError, SealedBoxError } from './errors.ts'
