/**
 * The contacts layer's wire formats are protobuf (direct.proto, generated
 * direct.ts); this file holds what their codecs share. Every decoder checks
 * the input's size before parsing, passes protons' `limits` for repeated
 * fields, then checks each field's length and range, and throws its own error
 * class (`WireError` for the live protocol's frames) on anything wrong.
 */

export class WireError extends Error {
  static name = 'WireError'

  constructor (message = 'Malformed wire data') {
    super(message)
    this.name = 'WireError'
  }
}

/**
 * Checks the text fields of a decoded message. protons decodes UTF-8
 * leniently (a malformed sequence becomes some character, never an error);
 * a lone surrogate can only come from broken bytes (UTF-8 never encodes one),
 * so a string holding one is refused.
 */
export function checkText (values: Array<string | undefined>, fail: (message: string) => Error): void {
  for (const v of values) {
    if (v != null && !v.isWellFormed()) {
      throw fail('A text field is not valid UTF-8')
    }
  }
}

/** A protobuf uint64 as a safe JavaScript integer */
export function safeInteger (v: bigint, what: string, fail: (message: string) => Error): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw fail(`${what} is out of range`)
  }
  return Number(v)
}

/** UTF-8 length of a string, to bound text fields the way the wire counts them */
export function utf8Length (s: string): number {
  return new TextEncoder().encode(s).length
}
