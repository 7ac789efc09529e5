import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { main } from '../../src/daemon/cli.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'
import { captureIo, tempDir } from '../fixtures/cli.ts'

async function run (args: string[]): Promise<{ code: number, out: string, err: string }> {
  const io = captureIo()
  const code = await main(args, io.io)
  return { code, out: io.out(), err: io.err() }
}

describe('contacts: murmur identity export / import', () => {
  it('moves the messaging identity to another home, 0600, refusing to overwrite without --force', async () => {
    const tmp = await tempDir()
    try {
      const a = join(tmp.dir, 'a')
      const b = join(tmp.dir, 'b')
      expect((await run(['init', '--home', a])).code).to.equal(0)
      const original = MessagingIdentity.import(await readFile(join(a, 'identity.key')))
      const exported = await run(['identity', 'export', '--home', a, '--json'])
      expect(exported.code).to.equal(0)
      expect(exported.err).to.match(/secret/)
      const { id, secret } = JSON.parse(exported.out)
      expect(id).to.equal(original.id)

      expect((await run(['init', '--home', b])).code).to.equal(0)
      const refused = await run(['identity', 'import', secret, '--home', b])
      expect(refused.code).to.equal(2)
      expect(refused.err).to.match(/--force/)
      const bad = await run(['identity', 'import', secret.slice(0, -4), '--home', b, '--force'])
      expect(bad.code).to.equal(2)
      expect(bad.err).to.match(/Not an exported identity/)
      const imported = await run(['identity', 'import', secret, '--home', b, '--force', '--json'])
      expect(imported.code).to.equal(0)
      expect(JSON.parse(imported.out).id).to.equal(original.id)
      expect(MessagingIdentity.import(await readFile(join(b, 'identity.key'))).id).to.equal(original.id)
      expect((await stat(join(b, 'identity.key'))).mode & 0o777).to.equal(0o600)
    } finally {
      await tmp.cleanup()
    }
  })
})
