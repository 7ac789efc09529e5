/** Every scenario `npm run bench` knows, by name. A new scenario is one file here and one line below. */

import { adversarialScenario } from './adversarial.ts'
import { browserScenario } from './browser.ts'
import { churnScenario } from './churn.ts'
import { e2eScenario } from './e2e.ts'
import { gossipScenario } from './gossip.ts'
import { groupsScenario } from './groups.ts'
import { onionScenario } from './onion.ts'
import { scaleScenario } from './scale.ts'
import { storeScenario } from './store.ts'
import type { Scenario } from '../lib/scenario.ts'

export const SCENARIOS: Record<string, Scenario<any>> = {
  [adversarialScenario.name]: adversarialScenario,
  [browserScenario.name]: browserScenario,
  [churnScenario.name]: churnScenario,
  [e2eScenario.name]: e2eScenario,
  [gossipScenario.name]: gossipScenario,
  [groupsScenario.name]: groupsScenario,
  [onionScenario.name]: onionScenario,
  [scaleScenario.name]: scaleScenario,
  [storeScenario.name]: storeScenario
}
