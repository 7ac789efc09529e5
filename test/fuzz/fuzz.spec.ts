import { expect } from 'aegir/chai'
import { DEFAULT_SEED, runTarget } from './registry.ts'
import { fuzzTargets } from './targets/index.ts'

// fixed seed, bounded runs: the same inputs on every CI run; `npm run fuzz` goes further
describe('fuzzing (fixed seed, bounded runs)', function () {
  this.timeout(120_000)

  const targets = fuzzTargets()

  it('has a target for each decoder that takes outside input today', () => {
    const names = targets.map(t => t.name).join('\n')
    for (const what of ['control API', 'raw HTTP', 'config.json', 'validateConfig', 'parseDialable', 'argument parser', 'configFromFlags', 'public identity', 'sealed box',
      'directory: relay descriptor', 'directory: descriptor protobuf fields', 'directory: relay descriptor from protobuf fields', 'directory: DHT record', 'onion: packet', 'onion: message', 'onion: reply block', 'onion: frames', 'onion: fragment reassembly',
      'store: request', 'store: response', 'groups: envelope', 'groups: body', 'groups: invite code',
      'contacts: contact card', 'contacts: direct message body', 'contacts: direct envelope', 'contacts: prekey bundle', 'contacts: live-protocol request', 'contacts: live-protocol response',
      'contacts: direct envelope protobuf fields', 'contacts: direct message body protobuf fields', 'contacts: prekey bundle protobuf fields', 'contacts: contact card protobuf fields',
      'contacts: live-protocol request protobuf fields', 'contacts: live-protocol response protobuf fields', 'layer routes']) {
      expect(names).to.include(what)
    }
  })

  it('every valid sample a decoder target mutates decodes', async () => {
    for (const target of targets.filter(t => t.checkSamples != null)) {
      await target.setup?.()
      try {
        await target.checkSamples?.()
      } finally {
        await target.teardown?.()
      }
    }
  })

  for (const target of targets) {
    it(target.name, async () => {
      await runTarget(target, { seed: DEFAULT_SEED })
    })
  }
})
