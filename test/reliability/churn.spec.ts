import { expect } from 'aegir/chai'
import { CLIENTS, useReliabilityNet } from './fixtures.ts'
import type { Attempt } from './fixtures.ts'

/**
 * Churn (issue 9): 12 hosts in network namespaces; while every client keeps
 * sending group and 1:1 messages, four hosts (a third: two clients, a relay
 * and a store node, never two store nodes at once) are killed with -9 and
 * restarted in turn.
 *
 * What is claimed, on what each client's user is shown (`group read`, `inbox`):
 * - every group message whose `group send` succeeded is in the timeline of all
 * five members by the end, once, whether each was up when it was sent or not;
 * - every 1:1 message whose `send` succeeded arrives once: when its recipient
 * was up, live or through the mailbox; when its recipient's daemon was dead
 * for the whole send, the daemon said "mailbox" and it arrives when the
 * recipient is back;
 * - a send that failed (an error from the sender's daemon, e.g. no route while
 * a relay was down) is not acknowledged: the test sends it again as a new
 * message in the next round, and that one, once acknowledged, is held to the
 * claims above; the failed attempt is allowed to arrive (it may have left
 * before the error), but never twice;
 * - each restarted host comes back with the same peer id.
 */
const NAME = `ch${process.pid}`
/** The hosts killed with -9 in turn, and how long each stays down while traffic goes on */
const VICTIMS = ['c3', 's2', 'r2', 'c5']
const DOWN_MS = 10_000
const BETWEEN_MS = 3_000

describe('reliability: churn, 4 of 12 hosts killed -9 and restarted in turn under a steady flow of messages', function () {
  this.timeout(420_000)
  const reliabilityNet = useReliabilityNet(NAME)

  it('delivers every acknowledged message once, to peers that were up and, through mailboxes and group history, to peers that were down', async () => {
    const net = reliabilityNet()
    const flow = net.startFlow()

    const acked = (pred: (a: Attempt) => boolean): number => net.attempts.filter(a => a.acked && pred(a)).length
    const churnStarted = Date.now()
    const restarts: Record<string, unknown> = {}
    try {
      for (const victim of VICTIMS) {
        await new Promise(resolve => setTimeout(resolve, BETWEEN_MS))
        const before = await net.net.host(victim)
        net.down.add(victim)
        const killedAt = Date.now()
        await net.net.tn('kill', victim)
        net.dead.add(victim)
        const groupBefore = acked(a => a.kind === 'group')
        const dmsBefore = acked(a => a.recipientDown === true && a.to === victim)
        // down long enough for traffic to miss it: for a client, until a group message and a
        // 1:1 message to it were acknowledged in its absence (bounded)
        await new Promise(resolve => setTimeout(resolve, DOWN_MS))
        // a 1:1 send to a dead daemon takes the live timeout and then the deposit: under load, most of a minute
        const deadline = Date.now() + 60_000
        while (CLIENTS.includes(victim) && Date.now() < deadline &&
          (acked(a => a.kind === 'group') === groupBefore || acked(a => a.recipientDown === true && a.to === victim) === dmsBefore)) {
          await new Promise(resolve => setTimeout(resolve, 1_000))
        }
        net.dead.delete(victim)
        const restarted = await net.net.tn('restart', victim)
        net.down.delete(victim)
        expect(restarted.samePeerId, `${victim} keeps its peer id`).to.equal(true)
        expect(restarted.peerId).to.equal(before.peerId)
        restarts[victim] = { downMs: Date.now() - killedAt, restartMs: restarted.ms, dmsWhileDown: acked(a => a.recipientDown === true && a.to === victim) - dmsBefore, groupWhileDown: acked(a => a.kind === 'group') - groupBefore }
      }
      // a little more traffic with every host back
      await new Promise(resolve => setTimeout(resolve, 5_000))
    } finally {
      await flow.stop()
    }
    net.figures.churnMs = Date.now() - churnStarted
    net.figures.rounds = Object.fromEntries(flow.rounds)
    net.figures.restarts = restarts
    expect(flow.unsent(), 'messages whose every attempt failed').to.deep.equal([])

    // a 1:1 message to a daemon that was dead for the whole send cannot have been acked live
    const toDown = net.attempts.filter(a => a.kind === 'dm' && a.acked && a.recipientDown === true)
    expect(toDown.filter(a => a.via !== 'mailbox').map(a => a.content), '1:1 messages acked live by a dead daemon').to.deep.equal([])
    for (const victim of VICTIMS.filter(v => CLIENTS.includes(v))) {
      expect(toDown.filter(a => a.to === victim).length, `1:1 messages acknowledged while ${victim} was down`).to.be.greaterThan(0)
    }
    // the client victims missed group messages while down: this run tested catching up
    for (const victim of VICTIMS.filter(v => CLIENTS.includes(v))) {
      expect((restarts[victim] as { groupWhileDown: number }).groupWhileDown, `group messages acknowledged while ${victim} was down`).to.be.greaterThan(0)
    }

    // every acknowledged message shows, once, on every client it was meant for
    net.figures.convergeAfterTrafficMs = await net.converge('every client to show every acknowledged message', 150_000)

    // and stays so: a late mailbox fetch or history sync brings no second copy
    await new Promise(resolve => setTimeout(resolve, 3_000))
    for (const c of CLIENTS) {
      expect(await net.check(c), `${c}: acknowledged messages missing`).to.deep.equal([])
    }
    const unacked = net.attempts.filter(a => !a.acked)
    const shownUnacked = (await Promise.all(CLIENTS.map(async c => net.shown(c))))
      .flatMap(s => [...s.group, ...s.inbox]).filter(e => unacked.some(a => a.content === e.content)).length
    net.figures.failedAttemptsShownAnyway = shownUnacked
  })
})
