/**
 * Every fuzz target. A layer adds its decoders here, one line each (see
 * `decoderTarget` in ../registry.ts); `fuzz.spec.ts` and `run.ts` pick them up.
 */

import { contactTargets } from './contacts.ts'
import { daemonTargets } from './daemon.ts'
import { directoryTargets } from './directory.ts'
import { groupTargets } from './groups.ts'
import { identityTargets } from './identity.ts'
import { layerApiTarget } from './layer-api.ts'
import { nodeTargets } from './node.ts'
import { onionTargets } from './onion.ts'
import { storeTargets } from './store.ts'
import type { FuzzTarget } from '../registry.ts'

export function fuzzTargets (): FuzzTarget[] {
  return [
    ...nodeTargets(),
    ...identityTargets(),
    ...directoryTargets(),
    ...onionTargets(),
    ...storeTargets(),
    ...groupTargets(),
    ...contactTargets(),
    ...daemonTargets(),
    layerApiTarget()
  ]
}
