import { expect } from 'aegir/chai'
import { createMurmur } from '../../src/app/index.ts'
import { loopbackProfile } from '../../src/node/index.ts'
import { tempDir } from '../fixtures/cli.ts'

describe('a whole peer (createMurmur)', function () {
  this.timeout(60_000)

  it('keeps its peer id and its messaging identity across a restart, and the two are unrelated keys', async () => {
    const tmp = await tempDir()
    try {
      const init = { home: tmp.dir, listen: ['/ip4/127.0.0.1/tcp/0'], ...loopbackProfile() }
      const first = await createMurmur(init)
      await first.start()
      expect(first.isStarted()).to.equal(true)
      const peerId = first.peerId.toString()
      const identityId = first.identity.id
      expect(first.identity.publicIdentity.signingKey).to.not.deep.equal(first.peerId.publicKey?.raw)
      await first.stop()
      expect(first.isStarted()).to.equal(false)

      const second = await createMurmur(init)
      await second.start()
      try {
        expect(second.peerId.toString()).to.equal(peerId)
        expect(second.identity.id).to.equal(identityId)
      } finally {
        await second.stop()
      }
    } finally {
      await tmp.cleanup()
    }
  })
})
