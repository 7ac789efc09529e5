/**
 * Sizes of the Sphinx packet, each derived from a named parameter of the
 * paper (Danezis & Goldberg, "Sphinx: A Compact and Provably Secure Mix
 * Format", 2009, section 3) or of its KEM variant (Katzenpost's "KEM Sphinx",
 * the libp2p mix spec), so that changing one parameter changes every size
 * that depends on it.
 *
 * Why KEM Sphinx rather than classic Sphinx: classic Sphinx carries one group
 * element α and has every relay blind it (α' = α^b), a second scalar
 * multiplication per hop. The per-hop target (>= 6,000 packets/s per core, one
 * native X25519 with key import costs ~72 µs here) leaves room for exactly
 * one. KEM Sphinx carries a fresh ephemeral public key for every hop inside
 * that hop's predecessor's encrypted routing block, so each relay does one
 * X25519 and nothing else asymmetric. The price is 32 bytes per hop in the
 * header (5 hops: 463 bytes, within the 512-byte budget), and unlinkability
 * is the same: relay i sees α_i and α_{i+1}; α_{i+2} is hidden under
 * relay i+1's layer, so two non-adjacent relays of one route see unrelated
 * keys, exactly as with blinding.
 */

/** r in the paper: the most hops a route can have */
export const MAX_HOPS = 5

/** Size of an X25519 public key (α_i in the paper, one per hop here) */
export const GROUP_ELEMENT_SIZE = 32

/** κ in the paper is the security parameter; the header MAC γ is truncated to 2κ bits with κ = 64 */
export const MAC_SIZE = 16

/** An address in a routing block: the raw Ed25519 public key a Murmur peer id is made of */
export const ADDRESS_SIZE = 32

/** Per-hop mixing delay in milliseconds, a big-endian u16 (Loopix-style delays are chosen by the sender) */
export const DELAY_SIZE = 2

/** One byte saying what a routing block asks of the hop that reads it */
export const COMMAND_SIZE = 1

/**
 * One routing block (the per-hop "β slice"): command | delay | next address |
 * next α | next γ. The final hop's block reuses the address field for the
 * SURB id.
 */
export const ROUTING_BLOCK_SIZE = COMMAND_SIZE + DELAY_SIZE + ADDRESS_SIZE + GROUP_ELEMENT_SIZE + MAC_SIZE

/** |β| in the paper: room for r routing blocks, whatever the actual hop count */
export const ROUTING_INFO_SIZE = MAX_HOPS * ROUTING_BLOCK_SIZE

/** Header = α | β | γ */
export const HEADER_SIZE = GROUP_ELEMENT_SIZE + ROUTING_INFO_SIZE + MAC_SIZE

/**
 * The payload δ. At least 2 KiB as DESIGN asks; one size for every packet so
 * the wire never tells a short message from a long one.
 */
export const PAYLOAD_SIZE = 2048

/** k in the paper: the zero bytes the destination checks after the last wide-block decryption */
export const PAYLOAD_TAG_SIZE = 16

/** What a packet carries for the layer above after the zero tag */
export const PAYLOAD_BODY_SIZE = PAYLOAD_SIZE - PAYLOAD_TAG_SIZE

/** Every packet on the wire has exactly this length */
export const PACKET_SIZE = HEADER_SIZE + PAYLOAD_SIZE

/** Lioness splits the payload into L (the stream cipher's key size) and R */
export const LIONESS_L_SIZE = 32

/** Four independent Lioness subkeys of 32 bytes */
export const LIONESS_KEY_SIZE = 4 * 32

/** Length of the per-hop replay tag kept by the relay */
export const REPLAY_TAG_SIZE = 16

/** Id of a reply block, carried in the final routing block of its header */
export const SURB_ID_SIZE = 16

/** A SURB on the wire: first hop address | header | the replier's payload key seed */
export const SURB_SIZE = ADDRESS_SIZE + HEADER_SIZE + 32

/** Routing commands */
export const COMMAND_RELAY = 1
export const COMMAND_DELIVER = 2
export const COMMAND_SURB_REPLY = 3

/** Domain separation for the per-hop key derivation */
export const KDF_INFO = 'murmur/sphinx/1 hop keys'

/** Domain separation for a SURB's payload key */
export const SURB_KDF_INFO = 'murmur/sphinx/1 surb payload key'

/** Per-hop keys derived from the shared secret s_i (header MAC μ, payload π, replay tag), before ρ's header stream */
export const HOP_KEYS_SIZE = 32 + LIONESS_KEY_SIZE + REPLAY_TAG_SIZE
