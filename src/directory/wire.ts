/**
 * CodecError, the error of every directory decoder, and a small bounds-checked
 * reader/writer for fixed binary layouts. The relay descriptor itself is
 * protobuf (descriptor.proto, codec.ts); the reader/writer serves the onion
 * message (src/onion/message.ts), a layout inside fixed-size Sphinx packet
 * bodies by design. Every read is length-checked and throws CodecError, so a
 * decoder fed garbage fails cleanly.
 */

/** Bytes that do not decode */
export class CodecError extends Error {
  static name = 'CodecError'
  name = 'CodecError'
  constructor (message = 'Malformed bytes') { super(message) }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export class Writer {
  private readonly parts: Uint8Array[] = []
  private length = 0

  private push (bytes: Uint8Array): this {
    this.parts.push(bytes)
    this.length += bytes.length
    return this
  }

  u8 (v: number): this { return this.push(Uint8Array.of(v & 0xff)) }
  u16 (v: number): this { return this.push(Uint8Array.of((v >> 8) & 0xff, v & 0xff)) }
  u32 (v: number): this {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, v >>> 0)
    return this.push(b)
  }

  u64 (v: number): this {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(v))))
    return this.push(b)
  }

  /** Bytes with a u16 length */
  bytes (v: Uint8Array): this {
    if (v.length > 0xffff) {
      throw new CodecError('Field longer than 65535 bytes')
    }
    return this.u16(v.length).push(v)
  }

  fixed (v: Uint8Array): this { return this.push(v) }
  string (v: string): this { return this.bytes(encoder.encode(v)) }

  finish (): Uint8Array {
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const p of this.parts) {
      out.set(p, offset)
      offset += p.length
    }
    return out
  }
}

export class Reader {
  private offset = 0
  private readonly buf: Uint8Array

  constructor (buf: Uint8Array) {
    this.buf = buf
  }

  private take (n: number): Uint8Array {
    if (this.offset + n > this.buf.length) {
      throw new CodecError(`Truncated: wanted ${n} bytes at ${this.offset} of ${this.buf.length}`)
    }
    const out = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  u8 (): number { return this.take(1)[0] }
  u16 (): number { const b = this.take(2); return (b[0] << 8) | b[1] }
  u32 (): number { const b = this.take(4); return new DataView(b.buffer, b.byteOffset, 4).getUint32(0) }
  u64 (): number {
    const b = this.take(8)
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CodecError('Integer out of range')
    }
    return Number(v)
  }

  bytes (): Uint8Array { return this.take(this.u16()).slice() }
  fixed (n: number): Uint8Array { return this.take(n).slice() }
  string (): string {
    try {
      return decoder.decode(this.take(this.u16()))
    } catch (err) {
      if (err instanceof CodecError) { throw err }
      throw new CodecError('Invalid UTF-8')
    }
  }

  /** The decoder consumed everything: trailing bytes are an error, not ignored */
  end (): void {
    if (this.offset !== this.buf.length) {
      throw new CodecError(`${this.buf.length - this.offset} trailing bytes`)
    }
  }
}
