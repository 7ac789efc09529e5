/** Every scenario `npm run bench` knows, by name. A new scenario is one file here and one line below. */

import { browserScenario } from './browser.ts'
import { gossipScenario } from './gossip.ts'
import { scaleScenario } from './scale.ts'
import type { Scenario } from '../lib/scenario.ts'

export const SCENARIOS: Record<string, Scenario<any>> = {
  [gossipScenario.name]: gossipScenario,
  [browserScenario.name]: browserScenario,
  [scaleScenario.name]: scaleScenario
}
