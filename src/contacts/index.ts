/**
 * @packageDocumentation
 *
 * Contacts and 1:1 messaging (DESIGN.md "Identities", "1:1 messaging"):
 * contact cards, X3DH with signed (weekly) and one-time (replenished)
 * prekeys published as signed DHT records, Double Ratchet sessions persisted
 * under `/murmur/contacts/…`, and delivery through a live transport (the onion
 * layer once wired; `/murmur/dm/1.0.0` in transparent mode until then) with a
 * mailbox transport (the store layer) for contacts that are offline.
 *
 * @example
 *
 * ```TypeScript
 * import { createMurmur } from 'murmur'
 *
 * const murmur = await createMurmur({ home: '/var/lib/murmur' })
 * await murmur.start()
 * console.log(await murmur.contacts.card())      // give this string to a friend
 * await murmur.contacts.add(friendsCard, { name: 'alice' })
 * await murmur.contacts.send('alice', 'hello')
 * murmur.contacts.addEventListener('message', (e) => { console.log(e.detail.message.content) })
 * ```
 */

import { bundleSelectors, bundleValidators } from './dht.ts'
import type { ContactsInit } from './contacts.ts'

export { Contacts } from './contacts.ts'
export type { ContactsComponents, ContactsInit, ContactsEvents, ContactInfo, SendResult } from './contacts.ts'
export type { Contact, DirectMessage } from './book.ts'
export { encodeCard, decodeCard, CARD_PREFIX, CARD_VERSION } from './card.ts'
export type { ContactCard } from './card.ts'
export { DoubleRatchet, MAX_SKIP, MAX_SKIPPED_KEYS, HEADER_BYTES, randomKeyPair, encodeHeader, decodeHeader } from './ratchet.ts'
export type { KeyPair, KeyPairSource, RatchetOptions, RatchetMessage, Header } from './ratchet.ts'
export { kdfRk, kdfCk, messageCipherKeys } from './kdf.ts'
export { x3dhInitiate, x3dhRespond, X3DH_INFO } from './x3dh.ts'
export type { IdentityKeys, VerifiedBundle, X3dhInit, X3dhResult } from './x3dh.ts'
export { BUNDLE_NAMESPACE, bundleKey, signBundle, decodeBundle, validateBundleRecord, selectBundleRecord, PrekeyStore, SIGNED_PREKEY_ROTATION_MS, ONE_TIME_PREKEYS_LOW, ONE_TIME_PREKEYS_TARGET, ONE_TIME_PREKEY_GRACE_MS } from './prekeys.ts'
export { decodeEnvelope, decodeBody, encodeBody, MAX_CONTENT_CHARS } from './messages.ts'
export type { DirectMessageType, Body } from './messages.ts'
export { DirectLiveTransport, DM_PROTOCOL } from './transport.ts'
export type { LiveTransport, LiveTransportHandlers, LiveAddress, MailboxTransport, MailboxKey, RecordTransport } from './transport.ts'
export { OnionLiveTransport, DM_ONION_KIND } from './onion-transport.ts'
export type { OnionLiveTransportInit, OnionForContacts } from './onion-transport.ts'
export { StoreMailboxTransport, StoreRecordTransport } from './store-mailbox.ts'
export type { StoreForContacts, StoreRecordsForContacts } from './store-mailbox.ts'
export { bundleValidators, bundleSelectors }
export * from './errors.ts'
export { WireError } from './wire.ts'

/** The contacts layer's init, as `MurmurInit.contacts` takes it */
export type { ContactsInit as ContactsLayerInit }
