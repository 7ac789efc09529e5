/**
 * The contacts layer's wire formats, as fixed binary layouts (a protons
 * `.proto` was tried first: protons 9 generates code for protons-runtime 9
 * with TypeScript namespaces, which neither the installed runtime (8) nor
 * `erasableSyntaxOnly` accept). Every field is bounded; a decoder throws
 * `WireError` on anything short, long or trailing, never reads past the end.
 *
 * Integers are big-endian. `bytes(n)` is a fixed-length field, `var8`/`var16`/
 * `var32` a length-prefixed one, `opt` a presence byte (0/1) then the field.
 */

export class WireError extends Error {
  static name = 'WireError'

  constructor (message = 'Malformed wire data') {
    super(message)
    this.name = 'WireError'
  }
}

export class Writer {
  private readonly parts: Uint8Array[] = []
  private size = 0

  u8 (n: number): this {
    return this.raw(Uint8Array.of(n & 0xff))
  }

  u32 (n: number): this {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, n)
    return this.raw(b)
  }

  u64 (n: number): this {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, BigInt(n))
    return this.raw(b)
  }

  bytes (b: Uint8Array, length: number): this {
    if (b.length !== length) {
      throw new WireError(`Expected ${length} bytes, got ${b.length}`)
    }
    return this.raw(b)
  }

  var8 (b: Uint8Array): this {
    if (b.length > 0xff) {
      throw new WireError('Field too long')
    }
    return this.u8(b.length).raw(b)
  }

  var16 (b: Uint8Array): this {
    if (b.length > 0xffff) {
      throw new WireError('Field too long')
    }
    const len = new Uint8Array(2)
    new DataView(len.buffer).setUint16(0, b.length)
    return this.raw(len).raw(b)
  }

  var32 (b: Uint8Array): this {
    return this.u32(b.length).raw(b)
  }

  str8 (s: string): this {
    return this.var8(new TextEncoder().encode(s))
  }

  str32 (s: string): this {
    return this.var32(new TextEncoder().encode(s))
  }

  opt<T>(value: T | undefined, write: (w: this, v: T) => void): this {
    if (value == null) {
      return this.u8(0)
    }
    this.u8(1)
    write(this, value)
    return this
  }

  raw (b: Uint8Array): this {
    this.parts.push(b)
    this.size += b.length
    return this
  }

  finish (): Uint8Array {
    const out = new Uint8Array(this.size)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class Reader {
  private readonly buf: Uint8Array
  private readonly view: DataView
  private at = 0

  constructor (buf: Uint8Array) {
    if (!(buf instanceof Uint8Array)) {
      throw new WireError('Expected bytes')
    }
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  private need (n: number): void {
    if (this.at + n > this.buf.length) {
      throw new WireError(`Truncated: needed ${n} more bytes at offset ${this.at} of ${this.buf.length}`)
    }
  }

  u8 (): number {
    this.need(1)
    return this.buf[this.at++]
  }

  u32 (): number {
    this.need(4)
    const v = this.view.getUint32(this.at)
    this.at += 4
    return v
  }

  u64 (): number {
    this.need(8)
    const v = this.view.getBigUint64(this.at)
    this.at += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new WireError('Integer out of range')
    }
    return Number(v)
  }

  bytes (n: number): Uint8Array {
    this.need(n)
    const out = this.buf.slice(this.at, this.at + n)
    this.at += n
    return out
  }

  var8 (): Uint8Array {
    return this.bytes(this.u8())
  }

  var16 (): Uint8Array {
    this.need(2)
    const n = this.view.getUint16(this.at)
    this.at += 2
    return this.bytes(n)
  }

  var32 (max: number): Uint8Array {
    const n = this.u32()
    if (n > max) {
      throw new WireError(`Field of ${n} bytes exceeds ${max}`)
    }
    return this.bytes(n)
  }

  str8 (): string {
    return this.text(this.var8())
  }

  str32 (max: number): string {
    return this.text(this.var32(max))
  }

  private text (b: Uint8Array): string {
    try {
      return utf8.decode(b)
    } catch {
      throw new WireError('Invalid UTF-8')
    }
  }

  opt<T>(read: (r: this) => T): T | undefined {
    const flag = this.u8()
    if (flag === 0) {
      return undefined
    }
    if (flag !== 1) {
      throw new WireError(`Bad presence byte ${flag}`)
    }
    return read(this)
  }

  end (): void {
    if (this.at !== this.buf.length) {
      throw new WireError(`${this.buf.length - this.at} trailing bytes`)
    }
  }
}
