import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { ApiClient } from '../../src/daemon/api/client.ts'
import { LOOPBACK_DAEMON, cliJson as json, runCli, startDaemon, tempDir } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import type { TestDaemon } from '../fixtures/cli.ts'

// transparent: two daemons and no relays, so 1:1 messages (the invite rides in one) go over a direct stream;
// over onion routes they would need relays, and their mailbox fallback store nodes (this test is about invites)
const TRANSPARENT = [...LOOPBACK_DAEMON, '--transparent']

describe('murmur group invite --to: invites through the 1:1 session', function () {
  this.timeout(180_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const daemons: TestDaemon[] = []
  const stop = new AbortController()

  before(async () => {
    tmp = await tempDir()
  })

  after(async () => {
    stop.abort()
    for (const d of daemons) {
      d.child.kill('SIGKILL')
    }
    await tmp.cleanup()
  })

  it('alice sends an invite to her contact bob; bob sees it on his event stream and joins with it', async () => {
    const [alice, bob] = [join(tmp.dir, 'alice'), join(tmp.dir, 'bob')]
    for (const home of [alice, bob]) {
      daemons.push(await startDaemon(home, TRANSPARENT))
    }
    const aliceId = await json(['id', '--home', alice])
    await json(['connect', aliceId.addresses[0], '--home', bob])

    // bob listens to his event stream before anything is sent
    const invites: any[] = []
    const events = (await ApiClient.forHome(bob)).events({ signal: stop.signal })
    void (async () => {
      for await (const { event, data } of events) {
        if (event === 'contact:invite') {
          invites.push(data)
        }
      }
    })().catch(() => {})

    const bobCard = await json(['contact', 'card', '--home', bob])
    await json(['contact', 'add', bobCard.card, '--name', 'bob', '--home', alice])
    const group = await json(['group', 'create', 'ops-team', '--display-name', 'alice', '--home', alice])

    // nothing to accept yet
    const none = await runCli(['group', 'accept', '--home', bob])
    expect(none.code).to.equal(1)
    expect(none.stderr).to.include('No invite')

    const sent = await json(['group', 'invite', 'ops-team', '--to', 'bob', '--home', alice])
    expect(sent).to.include({ groupId: group.id, to: 'bob' })
    expect(sent.invite).to.match(/^murmur-group:/)
    await waitFor(() => invites.length === 1, 'bob to see the invite on his event stream', 30_000)
    expect(invites[0].invite).to.equal(sent.invite)
    // the invite names who sent it: bob learned alice from the card inside the first message
    const bobsContacts = await json(['contact', 'list', '--home', bob])
    expect(invites[0].contact.id).to.be.a('string')
    expect(JSON.stringify(bobsContacts)).to.include(invites[0].contact.id)

    const joined = await json(['group', 'join', invites[0].invite, '--display-name', 'bob', '--home', bob])
    expect(joined.id).to.equal(group.id)
    await waitFor(async () => (await json(['group', 'members', group.id, '--home', alice])).members.length === 2, 'alice to see bob join', 60_000)

    // --anonymous goes through an onion exit; two peers and no relay make no route, and nothing is sent in the clear
    const anon = await runCli(['group', 'send', 'ops-team', 'hidden', '--anonymous', '--home', alice])
    expect(anon.code, anon.stdout).to.equal(1)
    await expect((await ApiClient.forHome(alice)).post(`/v1/groups/${group.id}/messages`, { content: 'x', anonymous: 'yes' })).to.eventually.be.rejected.with.property('message').that.include('anonymous')
    expect((await json(['group', 'read', group.id, '--home', alice])).entries.map((e: any) => e.content)).to.not.include('hidden')

    // a second group: bob takes the latest invite with `group accept`, without copying the code
    const second = await json(['group', 'create', 'night-shift', '--display-name', 'alice', '--home', alice])
    await json(['group', 'invite', second.id, '--to', 'bob', '--home', alice])
    await waitFor(() => invites.length === 2, 'bob to see the second invite', 30_000)
    const accepted = await json(['group', 'accept', '--display-name', 'bob', '--home', bob])
    expect(accepted.id).to.equal(second.id)
    expect((await json(['group', 'list', '--home', bob])).groups.map((g: any) => g.id).sort()).to.deep.equal([group.id, second.id].sort())
  })
})
