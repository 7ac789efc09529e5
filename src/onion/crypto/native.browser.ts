import { nobleCrypto } from './noble.ts'
import type { SphinxCrypto } from './index.ts'

/** Browsers have no `node:crypto`: the noble backend stands in (same vectors) */
export const nativeCrypto: SphinxCrypto = nobleCrypto
export const defaultCrypto: SphinxCrypto = nobleCrypto
