/**
 * Seeded randomness. Every random choice a benchmark makes (topology, peer
 * keys, who publishes what, payload padding) comes from one of these, so a run
 * is repeated by passing the same `--seed`.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * as in PractRand), seeded through splitmix32 so that nearby seeds give
 * unrelated streams. It is for experiments, never for keys that protect
 * anything: benchmark peer keys are derived from it on purpose, so that peer
 * ids (and so DHT distances) repeat between runs.
 */

/** splitmix32: spreads a 32-bit seed over the state of sfc32 */
function splitmix32 (state: number): () => number {
  let s = state >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

export class Prng {
  readonly seed: number
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`)
    }
    this.seed = seed
    const mix = splitmix32(seed)
    this.a = mix()
    this.b = mix()
    this.c = mix()
    this.d = mix()
    // discard the first outputs, as sfc32's author recommends
    for (let i = 0; i < 12; i++) {
      this.nextUint32()
    }
  }

  /** A uniformly distributed 32-bit unsigned integer */
  nextUint32 (): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** A float in [0, 1) */
  next (): number {
    return this.nextUint32() / 0x100000000
  }

  /** An integer in [0, n) */
  int (n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`int(n) needs a positive integer, got ${n}`)
    }
    return Math.floor(this.next() * n)
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) {
      throw new RangeError('cannot pick from an empty list')
    }
    return items[this.int(items.length)]
  }

  /** A shuffled copy (Fisher–Yates) */
  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = out[i]
      out[i] = out[j]
      out[j] = tmp
    }
    return out
  }

  fill (bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      let r = this.nextUint32()
      for (let k = 0; k < 4 && i + k < bytes.length; k++) {
        bytes[i + k] = r & 0xff
        r >>>= 8
      }
    }
    return bytes
  }

  bytes (n: number): Uint8Array {
    return this.fill(new Uint8Array(n))
  }

  /** An independent generator for one purpose, so adding draws in one place does not shift the others */
  fork (label: string): Prng {
    let h = 0x811c9dc5 ^ this.seed
    for (let i = 0; i < label.length; i++) {
      h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0
    }
    return new Prng(h >>> 0)
  }
}

/** A seed for a run that was given none */
export function randomSeed (): number {
  return Math.floor(Math.random() * 0x100000000) >>> 0
}
