import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { BIN, LOOPBACK_DAEMON, cliJson as json, runCli, startDaemon, tempDir } from '../fixtures/cli.ts'
import { stopAll, waitFor } from '../fixtures/nodes.ts'
import { storePeer } from '../store/fixtures.ts'
import type { TestDaemon } from '../fixtures/cli.ts'
import type { StorePeer } from '../store/fixtures.ts'

/** Two daemons and no relays: this test is about the CLI, so 1:1 messages go over direct streams */
const TRANSPARENT = ['--transparent']

describe('contacts: two daemons, card exchange and live 1:1 chat through the CLI', function () {
  this.timeout(120_000)
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

  it('alice gives bob her card, bob writes, alice answers, bob chats interactively', async () => {
    const homeA = join(tmp.dir, 'alice')
    const homeB = join(tmp.dir, 'bob')
    for (const home of [homeA, homeB]) {
      daemons.push(await startDaemon(home, [...LOOPBACK_DAEMON, ...TRANSPARENT]))
    }
    const idA = await json(['identity', 'show', '--home', homeA])
    const idB = await json(['identity', 'show', '--home', homeB])
    expect(idA.id).to.match(/^[0-9a-f]{32}$/)
    expect(idA.id).to.not.equal(idB.id)

    const { card } = await json(['contact', 'card', '--home', homeA])
    expect(card).to.match(/^murmur:/)
    const bad = await runCli(['contact', 'add', card.slice(0, -3) + 'zzz', '--home', homeB, '--json'])
    expect(bad.code).to.equal(1)
    expect(JSON.parse(bad.stderr).error.message).to.match(/checksum/)
    const added = await json(['contact', 'add', card, '--name', 'alice', '--home', homeB])
    expect(added).to.include({ id: idA.id, name: 'alice' })

    // bob's daemon reaches alice's node (what bootstrap does in a real network)
    const addrA = (await json(['id', '--home', homeA])).addresses[0]
    await json(['connect', addrA, '--home', homeB])

    const sent = await json(['send', 'alice', 'hello alice', '--home', homeB])
    expect(sent.via).to.equal('live')
    await waitFor(async () => (await json(['inbox', '--home', homeA])).messages.length === 1, 'alice to get bob\'s message', 15_000)
    const [first] = (await json(['inbox', '--home', homeA])).messages
    expect(first).to.include({ content: 'hello alice', contact: idB.id, self: false })
    const contactsA = (await json(['contact', 'list', '--home', homeA])).contacts
    expect(contactsA.map((c: any) => c.id)).to.deep.equal([idB.id])

    // bob opens an interactive chat; alice answers; bob types a line
    const chat = spawn(process.execPath, [BIN, 'chat', 'alice', '--home', homeB, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let chatOut = ''
    let chatErr = ''
    chat.stdout.on('data', (d) => { chatOut += String(d) })
    chat.stderr.on('data', (d) => { chatErr += String(d) })
    const chatExit = new Promise<number | null>(resolve => chat.on('exit', resolve))
    await waitFor(() => chatOut.includes('hello alice'), 'the chat to print the history', 15_000)
    await waitFor(() => chatErr.includes('chatting with alice'), `the chat to subscribe to the event stream (stderr: ${chatErr})`, 15_000)
    await json(['send', idB.id.slice(0, 8), 'hi bob, alice here', '--home', homeA])
    await waitFor(() => chatOut.includes('hi bob, alice here'), `bob's chat to show alice's answer live (chat output: ${chatOut})`, 15_000)
    chat.stdin.write('typed in the chat\n')
    await waitFor(async () => (await json(['inbox', '--home', homeA])).messages.some((m: any) => m.content === 'typed in the chat'), 'alice to get the line bob typed', 15_000)
    chat.stdin.end()
    expect(await chatExit).to.equal(0)

    const inboxB = (await json(['inbox', '--contact', 'alice', '--home', homeB])).messages
    expect(inboxB.map((m: any) => [m.self, m.content])).to.deep.equal([[true, 'hello alice'], [false, 'hi bob, alice here'], [true, 'typed in the chat']])
    const human = await runCli(['inbox', '--home', homeB])
    expect(human.stdout).to.include('alice: hi bob, alice here')
  })
})

describe('contacts: two daemons, the receiver stopped: messages wait in its mailboxes and arrive on its return', function () {
  this.timeout(180_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const daemons: TestDaemon[] = []
  const stores: StorePeer[] = []

  before(async () => {
    tmp = await tempDir()
    // three in-process peers that keep mailboxes and relay: the network the two daemons use (the default, onion mode)
    for (let i = 0; i < 3; i++) {
      stores.push(await storePeer({ roles: ['store', 'relay'], onion: { diversity: 'none' }, directory: { republishOnSubscribeMs: 300 } }))
    }
    for (const s of stores.slice(1)) {
      await s.murmur.node.connect(stores[0].murmur.node.getMultiaddrs()[0])
    }
    await stores[2].murmur.node.connect(stores[1].murmur.node.getMultiaddrs()[0])
  })

  after(async () => {
    for (const d of daemons) {
      d.child.kill('SIGKILL')
    }
    await stopAll(stores.map(s => s.murmur))
    for (const s of stores) { await s.cleanup() }
    await tmp.cleanup()
  })

  async function start (home: string, init: boolean): Promise<void> {
    daemons.push(await startDaemon(home, LOOPBACK_DAEMON, { init }))
    for (const s of stores) {
      await json(['connect', s.murmur.node.getMultiaddrs()[0].toString(), '--home', home])
    }
  }

  it('alice writes 3 messages while bob\'s daemon is down; bob\'s daemon gets them from the store nodes when it is back', async () => {
    const homeA = join(tmp.dir, 'alice')
    const homeB = join(tmp.dir, 'bob')
    for (const home of [homeA, homeB]) {
      await start(home, true)
    }
    const peerB = (await json(['id', '--home', homeB])).peerId
    // the directory has spread: alice reaches bob's node over a 3-hop route
    await waitFor(async () => (await runCli(['onion', 'send', peerB, 'ping', '--home', homeA])).code === 0, 'a route from alice to bob', 60_000, 1_000)
    const { card } = await json(['contact', 'card', '--home', homeB])
    await json(['contact', 'add', card, '--name', 'bob', '--home', homeA])
    expect((await json(['send', 'bob', 'are you there?', '--home', homeA])).via).to.equal('live')

    await json(['stop', '--home', homeB])
    await waitFor(async () => (await readFile(join(homeB, 'api'), 'utf8').catch(() => '')) === '', 'bob\'s daemon to stop', 15_000)
    for (let i = 1; i <= 3; i++) {
      const sent = await json(['send', 'bob', `while you were out ${i}`, '--home', homeA])
      expect(sent.via).to.equal('mailbox')
    }

    await start(homeB, false)
    await waitFor(async () => (await json(['inbox', '--home', homeB])).messages.length === 4, 'bob\'s daemon to fetch its mailboxes', 60_000, 500)
    const inboxB = (await json(['inbox', '--home', homeB])).messages
    expect(inboxB.map((m: any) => m.content)).to.deep.equal(['are you there?', 'while you were out 1', 'while you were out 2', 'while you were out 3'])
  })
})
