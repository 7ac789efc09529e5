/**
 * @packageDocumentation
 *
 * Onion routing with Sphinx packets (Danezis & Goldberg 2009), KEM variant:
 * one fixed packet size on the wire whatever the hops (1..5) or the message,
 * one X25519 per hop, header MAC checked in constant time first, Lioness over
 * the payload, replay tags per key epoch, SURBs for acks and replies, routes
 * weighted by load and measured reliability, fragmentation, optional mixing
 * delays and loop cover traffic. Laid out by packet part: `constants`,
 * `header`, `routing`, `payload`, `keys`, `surb`, `builder`, `processor`,
 * `replay`, `path`, `fragment`, `frame` (the `/murmur/onion/1.0.0` wire) and
 * `onion` (the layer).
 *
 * @example
 *
 * ```TypeScript
 * const murmur = await createMurmur({ roles: ['relay'] })
 * await murmur.start()
 * murmur.onion.handle('chat', async (msg) => {
 *   console.info(new TextDecoder().decode(msg.data))
 *   if (msg.surbs > 0) await msg.reply(new TextEncoder().encode('got it'))
 * })
 * await murmur.onion.send(peerId, new TextEncoder().encode('hi'), { kind: 'chat', hops: 3, surbs: 1 })
 * ```
 */

export { Onion, ANSWER_CHUNK_BYTES } from './onion.ts'
export type { OnionInit, OnionComponents, SendOptions, SendResult, IncomingMessage, OnionHandler, OnionEvents, OnionStatus, MixingInit, CoverInit, ProbeInit, AskOptions } from './onion.ts'
export * from './constants.ts'
export { buildPacket, buildHeader, wrapPayload } from './builder.ts'
export type { RouteHop, BuiltPacket, BuiltHeader, BuildOptions } from './builder.ts'
export { processPacket, PacketRejectedError } from './processor.ts'
export type { HopResult, ForwardHop, FinalHop, DropReason, ReplayCheck } from './processor.ts'
export { createSurb, encodeSurb, decodeSurb, surbReplyPacket, openSurbReply } from './surb.ts'
export type { Surb, SurbSecret } from './surb.ts'
export { decodePacket, encodePacket, decodeHeader } from './header.ts'
export { lionessEncrypt, lionessDecrypt } from './payload.ts'
export { ReplayCache } from './replay.ts'
export { selectPath, weightedIndex, ReliabilityTracker, destinationMember } from './path.ts'
export type { Diversity, RelayCandidate, ReliabilityInit } from './path.ts'
export { FrameDecoder, encodeFrame, ONION_PROTOCOL, FRAME_SIZE } from './frame.ts'
export { encodeMessage, decodeMessage } from './message.ts'
export type { OnionMessage, MessageType } from './message.ts'
export { nativeCrypto, nobleCrypto, defaultCrypto } from './crypto/index.ts'
export type { SphinxCrypto } from './crypto/index.ts'
export * from './errors.ts'
export { deriveHopKeys } from './keys.ts'
export type { HopKeys } from './keys.ts'
