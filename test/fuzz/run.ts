/**
 * A longer fuzzing run than CI's: `npm run fuzz -- [--runs N] [--seed S] [--target TEXT]`.
 * Prints each target's outcome; exits 1 on a finding, with fast-check's report
 * (the seed and path that replay it, and the shrunk input).
 */

import { parseArgs } from 'node:util'
import { DEFAULT_SEED, runTarget } from './registry.ts'
import { fuzzTargets } from './targets/index.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    seed: { type: 'string' },
    target: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help === true) {
  process.stdout.write('usage: npm run fuzz -- [--runs N] [--seed S] [--target TEXT]\n')
  process.exit(0)
}
const runs = Number(values.runs)
const seed = values.seed != null ? Number(values.seed) : Date.now() % 2 ** 31
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  process.stderr.write('fuzz: --runs and --seed must be integers\n')
  process.exit(2)
}
const targets = fuzzTargets().filter(t => values.target == null || t.name.includes(values.target))
process.stdout.write(`fuzz: ${targets.length} target(s), ${runs} runs each, seed ${seed} (CI uses ${DEFAULT_SEED})\n`)
let failed = 0
for (const target of targets) {
  const started = Date.now()
  try {
    await runTarget(target, { seed, numRuns: target.name.startsWith('control API') ? Math.ceil(runs / 4) : runs })
    process.stdout.write(`  ok    ${target.name} (${Date.now() - started} ms)\n`)
  } catch (err: any) {
    failed++
    process.stdout.write(`  FAIL  ${target.name}\n${err.message}\n`)
  }
}
process.exit(failed > 0 ? 1 : 0)
