/**
 * Property-based fuzzing of every decoder that takes outside input. A target
 * names what it feeds (an fast-check arbitrary) and checks one input: it must
 * return, or throw one of the errors the decoder documents; anything else (a
 * TypeError, a RangeError, a hang, a 500) is a finding. `fuzz.spec.ts` runs
 * every target in CI with a fixed seed and a bounded count; `run.ts` runs them
 * longer (`npm run fuzz -- --runs N --seed S`).
 *
 * A layer registers its wire decoder with one line in `targets/index.ts`:
 *
 * ```ts
 * decoderTarget('groups envelope', Envelope.decode, { expected: [EnvelopeFormatError], samples: () => [validEnvelopeBytes] })
 * ```
 */

import fc from 'fast-check'

export const DEFAULT_SEED = 0x6d75726d // "murm"
/** Per target in CI: enough to walk the decoders' branches, small enough for the 2-core machine */
export const CI_RUNS = 200

export interface FuzzTarget<T = any> {
  name: string
  arbitrary: fc.Arbitrary<T>
  /** Feeds one input; throws (or rejects) only on a finding */
  check(input: T): void | Promise<void>
  /** Runs in CI; defaults to CI_RUNS (network targets use fewer) */
  ciRuns?: number
  /** Before the first input and after the last (a live server, a temp dir) */
  setup?(): Promise<void>
  teardown?(): Promise<void>
  /** Throws when a valid sample is refused: mutations of a refused sample only ever walk the error paths (run after `setup`) */
  checkSamples?(): Promise<void>
}

export type ErrorClass = abstract new (...args: any[]) => Error

/** The documented errors of a decoder: classes, or a predicate for errors of other libraries */
export type Expected = ErrorClass[] | ((err: unknown) => boolean)

export class FuzzFinding extends Error {
  static name = 'FuzzFinding'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'FuzzFinding'
  }
}

export function isExpected (err: unknown, expected: Expected): boolean {
  return typeof expected === 'function' ? expected(err) : expected.some(E => err instanceof E)
}

/** Calls `fn`; returns its value, throws a FuzzFinding for an undocumented error */
export async function expectOnly <R> (fn: () => R | Promise<R>, expected: Expected, what: string): Promise<R | undefined> {
  try {
    return await fn()
  } catch (err: any) {
    if (isExpected(err, expected)) {
      return undefined
    }
    throw new FuzzFinding(`${what} threw an undocumented ${err?.name ?? typeof err}: ${err?.message ?? String(err)}`, { cause: err })
  }
}

/** Random bytes, and valid samples with bytes flipped, cut off or appended */
export function bytesAround (samples: () => Uint8Array[], maxLength = 4096): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength })
  const list = samples()
  if (list.length === 0) {
    return random
  }
  const mutated = fc.tuple(
    fc.nat({ max: list.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.uint8Array({ maxLength: 64 })
  ).map(([i, flips, cut, tail]) => {
    const bytes = Uint8Array.from(list[i])
    for (const [at, value] of flips) {
      if (bytes.length > 0) {
        bytes[at % bytes.length] = value
      }
    }
    const kept = cut == null ? bytes : bytes.subarray(0, cut % (bytes.length + 1))
    return tail.length > 0 && cut == null ? Uint8Array.from([...kept, ...tail]) : kept
  })
  return fc.oneof(random, mutated, fc.constantFrom(...list))
}

export interface DecoderTargetOptions {
  expected: Expected
  /** Valid encodings to mutate (flip, cut, extend) besides random bytes */
  samples?(): Uint8Array[]
  /** @default 4096 */
  maxLength?: number
  /** @default CI_RUNS */
  ciRuns?: number
  /** Before the first input: makes what `samples` needs when that is async (a signed record) */
  setup?(): Promise<void>
}

/** A binary wire decoder: any bytes in, a value or one of `expected` out */
export function decoderTarget (name: string, decode: (bytes: Uint8Array) => unknown, opts: DecoderTargetOptions): FuzzTarget<Uint8Array> {
  let arbitrary: fc.Arbitrary<Uint8Array> | undefined
  return {
    name,
    ciRuns: opts.ciRuns,
    setup: opts.setup,
    // built on first use, after `setup`: the samples may need it
    get arbitrary () {
      arbitrary ??= bytesAround(() => opts.samples?.() ?? [], opts.maxLength)
      return arbitrary
    },
    check: async (bytes) => {
      await expectOnly(() => decode(bytes), opts.expected, name)
    },
    checkSamples: async () => { await decodesAll(name, opts.samples?.() ?? [], decode) }
  }
}

/** Mostly `valid`, now and then one of `others`: so that a message with several fields gets past each check often enough to reach the next */
export function mostly <T> (valid: fc.Arbitrary<T>, ...others: Array<fc.Arbitrary<T>>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 5 * Math.max(1, others.length) }, ...others.map(arbitrary => ({ arbitrary, weight: 1 })))
}

/**
 * A protobuf decoder fed well-formed messages with arbitrary field values
 * (wrong lengths, too many repeats, out-of-range numbers, unknown enum
 * values): random bytes rarely get past the protobuf parser, these reach the
 * checks after it. `message` builds the fields, `encode` is the generated
 * codec's, unchecked.
 */
export function protobufTarget <T> (name: string, decode: (bytes: Uint8Array) => unknown, message: fc.Arbitrary<T>, encode: (fields: T) => Uint8Array, opts: { expected: Expected, ciRuns?: number }): FuzzTarget<Uint8Array> {
  return {
    name,
    ciRuns: opts.ciRuns,
    arbitrary: message.map(encode),
    check: async (bytes) => {
      await expectOnly(() => decode(bytes), opts.expected, name)
    }
  }
}

async function decodesAll <T> (name: string, samples: T[], decode: (input: T) => unknown): Promise<void> {
  for (const [i, sample] of samples.entries()) {
    try {
      await decode(sample)
    } catch (err: any) {
      throw new FuzzFinding(`${name}: valid sample ${i} is refused: ${err?.name}: ${err?.message}`, { cause: err })
    }
  }
}

/** Random strings, and valid samples with characters replaced, cut off or appended */
export function stringsAround (samples: () => string[], maxLength = 300): fc.Arbitrary<string> {
  const random = fc.string({ maxLength })
  const list = samples()
  if (list.length === 0) {
    return random
  }
  const mutated = fc.tuple(
    fc.nat({ max: list.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('0', 'O', 'l', 'I', ' ', '\n', '\u0000'))), { maxLength: 4 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.string({ maxLength: 16 })
  ).map(([i, subs, cut, tail]) => {
    const chars = [...list[i]]
    for (const [at, ch] of subs) {
      if (chars.length > 0) {
        chars[at % chars.length] = ch
      }
    }
    const kept = cut == null ? chars : chars.slice(0, cut % (chars.length + 1))
    return kept.join('') + (cut == null ? tail : '')
  })
  return fc.oneof(random, mutated, fc.constantFrom(...list))
}

/** A text decoder (a copyable code, a card): any string in, a value or one of `expected` out */
export function textDecoderTarget (name: string, decode: (text: string) => unknown, opts: { expected: Expected, samples?(): string[], maxLength?: number, ciRuns?: number }): FuzzTarget<string> {
  return {
    name,
    ciRuns: opts.ciRuns,
    arbitrary: stringsAround(() => opts.samples?.() ?? [], opts.maxLength),
    check: async (text) => {
      await expectOnly(() => decode(text), opts.expected, name)
    },
    checkSamples: async () => { await decodesAll(name, opts.samples?.() ?? [], decode) }
  }
}

export interface RunOptions {
  seed?: number
  numRuns?: number
}

/** Runs one target; rejects with fast-check's report (seed and path to replay, shrunk input) on a finding */
export async function runTarget (target: FuzzTarget, options: RunOptions = {}): Promise<void> {
  await target.setup?.()
  try {
    await fc.assert(fc.asyncProperty(target.arbitrary, async (input) => { await target.check(input) }), {
      seed: options.seed ?? DEFAULT_SEED,
      numRuns: options.numRuns ?? target.ciRuns ?? CI_RUNS,
      // the inputs are what a finding is about: keep them in the report
      verbose: 1
    })
  } finally {
    await target.teardown?.()
  }
}
