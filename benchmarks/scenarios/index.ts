/** Every scenario `npm run bench` knows, by name. A new scenario is one file here and one line below. */

import { gossipScenario } from './gossip.ts'
import { groupsScenario } from './groups.ts'
import { scaleScenario } from './scale.ts'
import type { Scenario } from '../lib/scenario.ts'

export const SCENARIOS: Record<string, Scenario<any>> = {
  [gossipScenario.name]: gossipScenario,
  [groupsScenario.name]: groupsScenario,
  [scaleScenario.name]: scaleScenario
}
