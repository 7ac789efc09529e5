/**
 * Every fuzz target. A layer adds its decoders here, one line each (see
 * `decoderTarget` in ../registry.ts); `fuzz.spec.ts` and `run.ts` pick them up.
 */

import { daemonTargets } from './daemon.ts'
import { identityTargets } from './identity.ts'
import { nodeTargets } from './node.ts'
import type { FuzzTarget } from '../registry.ts'

export function fuzzTargets (): FuzzTarget[] {
  return [
    ...nodeTargets(),
    ...identityTargets(),
    ...daemonTargets()
  ]
}
