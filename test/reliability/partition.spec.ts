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
 * - the mailboxes converge on the store nodes too: after the heal every store
 * node's anti-entropy finds both other store nodes in sync (a round begun
 * after the heal, at most one sync period after the clients converged), and
 * it syncs with no other peer.
 */
const NAME = `pt${process.pid}`
const SIDE_B = ['s3', 'c4', 'c5']
const B_CLIENTS = CLIENTS.filter(c => SIDE_B.includes(c))
const A_CLIENTS = CLIENTS.filter(c => !SIDE_B.includes(c))
const STORES = ['s1', 's2', 's3']
/** The daemons' anti-entropy period (the store's default) and a margin for a loaded machine */
const SYNC_PERIOD_MS = 60_000

describe('reliability: partition, the network split in two under a steady flow of messages and healed', function () {
  this.timeout(420_000)
  const reliabilityNet = useReliabilityNet(NAME)

  it('each side goes on while cut off; after the heal groups, mailboxes and store replicas converge and every acknowledged message shows once', async () => {
    const net = reliabilityNet()
    const storeIds = Object.fromEntries(await Promise.all(STORES.map(async s => [s, (await net.net.host(s)).peerId])))
    const flow = net.startFlow()
    let cutAt = 0
    let healAt = 0
    try {
      // the cut comes as the flow's first sends are on their way
      const cut = await net.net.tn('partition', SIDE_B.join(','))
      cutAt = Date.now()
      expect(cut.partition[1]).to.deep.equal(SIDE_B)

      // each side goes on: a group message sent after the cut on one side reaches that side
      const shownOn = async (client: string, from: string[]): Promise<boolean> => {
        const shown = new Set((await net.shown(client)).group.map(e => e.content))
        return net.attempts.some(a => a.kind === 'group' && a.acked && a.at > cutAt && from.includes(a.from) && a.from !== client && shown.has(a.content))
      }
      await waitFor(async () => (await shownOn('c4', B_CLIENTS)) && (await shownOn('c1', A_CLIENTS)), 'a group message sent after the cut to reach the members on its side', 90_000, 1_000)
      net.figures.sidesGoOnAfterCutMs = Date.now() - cutAt
      // and A's 1:1 messages to c4 are left in its mailboxes
      await waitFor(() => net.attempts.some(a => a.kind === 'dm' && a.acked && a.at > cutAt && a.to === 'c4'), 'a 1:1 message to c4 acknowledged after the cut', 60_000, 250)

      await net.net.tn('heal')
      healAt = Date.now()
      net.figures.partitionMs = healAt - cutAt
    } finally {
      // the sends on their way cross the heal; what failed is sent again (as new messages)
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

    // The store nodes' replicas converge: each one's last anti-entropy round with each of the other
    // two, begun after the heal, found their summaries equal; and it syncs with store nodes only (a
    // store node once took every peer that had opened a store stream to it for a store node: its
    // rounds with clients failed, and those with a replica ended 'repaired' for ever).
    // Rounds run every sync period and when a store peer reconnects; the clients' acks after the
    // heal may end one round 'repaired', so the bound is one period after the clients converged.
    let replicas: Record<string, Array<{ peer: string, lastResult?: string, lastSync?: string, differingBuckets?: number, error?: string }>> = {}
    const inSync = (s: string): boolean => {
      const expected = STORES.filter(o => o !== s).map(o => storeIds[o]).sort()
      const rs = replicas[s] ?? []
      return JSON.stringify(rs.map(r => r.peer).sort()) === JSON.stringify(expected) &&
        rs.every(r => r.lastResult === 'in-sync' && Date.parse(r.lastSync ?? '') > healAt)
    }
    const names = Object.fromEntries(Object.entries(storeIds).map(([s, id]) => [id, s]))
    await waitFor(async () => {
      replicas = Object.fromEntries(await Promise.all(STORES.map(async s => [s, (await net.murmur(s, 'store', 'status')).replicas])))
      return STORES.every(inSync)
    }, () => `every store node to find the other two in sync after the heal, and sync with no other peer (replicas: ${JSON.stringify(Object.fromEntries(Object.entries(replicas).map(([s, rs]) => [s, rs.map(r => `${names[r.peer] ?? r.peer}:${r.lastResult}@${r.lastSync}${r.error != null ? ` ${r.error}` : ''}`)])))})`, SYNC_PERIOD_MS + 30_000, 2_000)
    net.figures.replicasInSyncAfterHealMs = Date.now() - healAt

    // and nothing shows twice after all that
    for (const c of CLIENTS) {
      expect(await net.check(c), `${c}: acknowledged messages missing`).to.deep.equal([])
    }
  })
})
