import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { main } from '../../src/daemon/cli.ts'
import { captureIo, cliJson as json, runCli, startDaemon, tempDir } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import type { TestDaemon } from '../fixtures/cli.ts'

describe('murmur group … with two daemons', function () {
  this.timeout(180_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const daemons: TestDaemon[] = []

  before(async () => {
    tmp = await tempDir()
  })

  after(async () => {
    for (const d of daemons) {
      d.child.kill('SIGKILL')
    }
    await tmp.cleanup()
  })

  it('create, invite, join, send, read, edit, react, members, tail and list, all with --json', async () => {
    const [alice, bob] = [join(tmp.dir, 'alice'), join(tmp.dir, 'bob')]
    for (const home of [alice, bob]) {
      daemons.push(await startDaemon(home))
    }
    const aliceId = await json(['id', '--home', alice])
    await json(['connect', aliceId.addresses[0], '--home', bob])

    const created = await json(['group', 'create', 'ops-team', '--display-name', 'alice', '--home', alice])
    expect(created.id).to.match(/^[0-9a-f]{64}$/)
    expect(created.topic).to.match(/^\/murmur\/1\/g\/[0-9a-f]{64}$/)
    expect(created.topic).to.not.include(created.id)
    const invited = await json(['group', 'invite', 'ops-team', '--home', alice])
    expect(invited.invite).to.match(/^murmur-group:/)
    const joined = await json(['group', 'join', invited.invite, '--display-name', 'bob', '--home', bob])
    expect(joined.id).to.equal(created.id)

    await waitFor(async () => {
      const [a, b] = await Promise.all([json(['group', 'members', created.id, '--home', alice]), json(['group', 'members', created.id, '--home', bob])])
      return a.members.length === 2 && b.members.length === 2
    }, 'both daemons to know both members', 60_000)

    // bob follows the group live, in this process, until "Ctrl-C"
    const signals = new EventEmitter()
    const tail = captureIo()
    const tailing = main(['group', 'tail', created.id.slice(0, 8), '--home', bob, '--json'], { ...tail.io, signals: signals as any })

    const sent = await json(['group', 'send', 'ops-team', 'hello', '--channel', 'general', '--home', alice])
    expect(sent).to.include({ content: 'hello', self: true, channel: 'general' })
    await waitFor(async () => (await json(['group', 'read', created.id, '--home', bob])).entries.length === 1, 'bob to read the message', 30_000)
    const read = await json(['group', 'read', created.id, '--home', bob])
    expect(read.entries[0]).to.include({ id: sent.id, content: 'hello', self: false })
    expect(read.cursor).to.equal(read.entries[0].cursor)

    await json(['group', 'edit', 'ops-team', sent.id, 'hello, all', '--home', alice])
    await json(['group', 'react', created.id, sent.id, ':+1:', '--home', bob])
    await waitFor(async () => {
      const entry = (await json(['group', 'read', created.id, '--home', bob])).entries[0]
      return entry.content === 'hello, all' && entry.reactions[':+1:']?.length === 1
    }, 'the edit and the reaction at bob', 30_000)
    // bob may not edit alice's message
    const refused = await runCli(['group', 'edit', created.id, sent.id, 'forged', '--home', bob])
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.include('author')

    await waitFor(() => tail.out().includes('hello, all'), 'the tail to show the message and its edit', 30_000)
    signals.emit('SIGINT')
    expect(await tailing).to.equal(0)
    const events = tail.out().trim().split(/\n(?=\{)/).map(s => JSON.parse(s))
    expect(events.map(e => e.event)).to.include.members(['group:message', 'group:update'])
    expect(events.find(e => e.event === 'group:message').entry.content).to.equal('hello')

    const since = await json(['group', 'read', created.id, '--since', read.cursor, '--home', bob])
    expect(since.entries).to.deep.equal([])
    const list = await json(['group', 'list', '--home', bob])
    expect(list.groups.map((g: any) => g.name)).to.deep.equal(['ops-team'])

    const bad = await runCli(['group', 'join', 'not-an-invite', '--home', bob])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.include('invite')
  })
})
