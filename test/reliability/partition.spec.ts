import { expect } from 'aegir/chai'
import { waitFor } from '../fixtures/nodes.ts'
import { CLIENTS, useReliabilityNet } from './fixtures.ts'

/**
 * Partition (issue 9): the 12-host netns testnet split in two while every
 * client keeps sending, then healed. Side B is a store node and two clients
 * (s3, c4, c5); side A the rest: the bootstrap, the three relays, two store
 * nodes (a deposit quorum) and three clients.
 *
 * What is claimed:
 * - during the partition each side goes on: a group message sent on one side
 * after the cut reaches the members on that side;
 * - after the heal the group converges: every group message whose `group
 * send` succeeded, on either side, is shown once in every member's timeline;
 * - 1:1 messages acknowledged during the partition (A's to c4 go to its
 * mailboxes on s1 and s2) are shown once to their recipient after the heal;
 * B, which has no relay, cannot route 1:1 messages while cut off: those sends
 * fail with an error, and the test sends them again (as new messages) after
 * the heal, when they are held to the same claim;
 * - the store nodes' own replica reconciliation is printed, not claimed (see
 * the end of the test).
 */
const NAME = `pt${process.pid}`
const SIDE_B = ['s3', 'c4', 'c5']
const B_CLIENTS = CLIENTS.filter(c => SIDE_B.includes(c))
const A_CLIENTS = CLIENTS.filter(c => !SIDE_B.includes(c))

describe('reliability: partition, the network split in two under a steady flow of messages and healed', function () {
  this.timeout(420_000)
  // out of CI for now: 6-8 minutes on a loaded machine, never run in a clean-clone CI, and its mailbox claim meets
  // the catch-up failure the lossy test saw there
  const reliabilityNet = useReliabilityNet(NAME, { outOfCi: 'not yet run in CI (6-8 min, and the mailbox catch-up failure the lossy test met there)' })

  it('each side goes on while cut off; after the heal groups and mailboxes converge and every acknowledged message shows once', async () => {
    const net = reliabilityNet()
    const flow = net.startFlow()
    let cutAt = 0
    let healAt = 0
    try {
      await new Promise(resolve => setTimeout(resolve, 5_000))
      const cut = await net.net.tn('partition', SIDE_B.join(','))
      cutAt = Date.now()
      expect(cut.partition[1]).to.deep.equal(SIDE_B)

      // each side goes on: a group message sent after the cut on one side reaches that side
      const shownOn = async (client: string, from: string[]): Promise<boolean> => {
        const shown = new Set((await net.shown(client)).group.map(e => e.content))
        return net.attempts.some(a => a.kind === 'group' && a.acked && a.at > cutAt && from.includes(a.from) && a.from !== client && shown.has(a.content))
      }
      await waitFor(async () => (await shownOn('c4', B_CLIENTS)) && (await shownOn('c1', A_CLIENTS)), 'a group message sent after the cut to reach the members on its side', 90_000, 3_000)
      net.figures.sidesGoOnAfterCutMs = Date.now() - cutAt
      // and A's 1:1 messages to c4 are left in its mailboxes
      await waitFor(() => net.attempts.some(a => a.kind === 'dm' && a.acked && a.at > cutAt && a.to === 'c4'), 'a 1:1 message to c4 acknowledged after the cut', 60_000, 1_000)

      await net.net.tn('heal')
      healAt = Date.now()
      net.figures.partitionMs = healAt - cutAt
      await new Promise(resolve => setTimeout(resolve, 5_000))
    } finally {
      await flow.stop()
    }
    expect(flow.unsent(), 'messages whose every attempt failed').to.deep.equal([])

    const during = net.attempts.filter(a => a.acked && a.at > cutAt && a.at + a.ms < healAt)
    net.figures.ackedDuringPartition = {
      groupA: during.filter(a => a.kind === 'group' && A_CLIENTS.includes(a.from)).length,
      groupB: during.filter(a => a.kind === 'group' && B_CLIENTS.includes(a.from)).length,
      dmAtoB: during.filter(a => a.kind === 'dm' && A_CLIENTS.includes(a.from) && B_CLIENTS.includes(a.to as string)).length
    }
    const failedDuring = net.attempts.filter(a => !a.acked && a.at > cutAt && a.at < healAt)
    net.figures.failedDuringPartition = failedDuring.length
    // the partition tested what it should: messages on both sides, across it
    expect(during.filter(a => a.kind === 'group' && A_CLIENTS.includes(a.from))).to.not.be.empty()
    expect(during.filter(a => a.kind === 'group' && B_CLIENTS.includes(a.from))).to.not.be.empty()

    await net.converge('every client to show every acknowledged message after the heal', 150_000)
    net.figures.groupsAndInboxesConvergedAfterHealMs = Date.now() - healAt

    // The mailboxes converged as far as their users see (above: every 1:1 message left in c4's
    // mailboxes during the partition was shown once). Not claimed here: that each store node's
    // anti-entropy then reports its replicas 'in-sync'. On this testnet the rounds between the
    // store nodes keep ending 'repaired' after the heal (bucket summaries keep differing) and
    // each store node also lists peers it fails to sync with; until that is understood the
    // replica states are printed, not asserted.
    const stores = ['s1', 's2', 's3']
    net.figures.storeReplicas = await Promise.all(stores.map(async s => {
      const st = await net.murmur(s, 'store', 'status')
      return { s, messages: st.messages, tombstones: st.tombstones, replicas: st.replicas.map((r: any) => `${r.peer.slice(-6)}:${r.lastResult}`) }
    }))

    // and nothing shows twice after all that
    for (const c of CLIENTS) {
      expect(await net.check(c), `${c}: acknowledged messages missing`).to.deep.equal([])
    }
  })
})
