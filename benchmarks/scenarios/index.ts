/** Every scenario `npm run bench` knows, by name. A new scenario is one file here and one line below. */

import { gossipScenario } from './gossip.ts'
import { scaleScenario } from './scale.ts'
import { storeScenario } from './store.ts'
import type { Scenario } from '../lib/scenario.ts'

export const SCENARIOS: Record<string, Scenario<any>> = {
  [gossipScenario.name]: gossipScenario,
  [scaleScenario.name]: scaleScenario,
  [storeScenario.name]: storeScenario
}
