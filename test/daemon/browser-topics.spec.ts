import { expect } from 'aegir/chai'
import { BrowserTopicFollower, GROUP_TOPIC_PREFIX } from '../../src/daemon/browser-topics.ts'
import { silentLogger } from '../../src/node/index.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { MurmurNode } from '../../src/node/index.ts'

const GROUP_TOPIC = `${GROUP_TOPIC_PREFIX}0123abcd`

describe('daemon: group topics followed for browsers', function () {
  this.timeout(60_000)
  let nodes: MurmurNode[] = []
  let follower: BrowserTopicFollower | undefined

  afterEach(async () => {
    follower?.stop()
    await stopAll(nodes)
    nodes = []
  })

  it('carries a group topic between two peers that only know the daemon, and leaves it when they do', async () => {
    const hub = await loopbackNode()
    const a = await loopbackNode()
    const b = await loopbackNode()
    nodes = [hub, a, b]
    follower = new BrowserTopicFollower({
      pubsub: hub.libp2p.services.pubsub,
      onPeerDisconnect: (listener) => {
        hub.addEventListener('peer:disconnect', listener)
        return () => { hub.removeEventListener('peer:disconnect', listener) }
      },
      log: silentLogger().forComponent('test')
    })
    follower.start()
    await a.connect(hub.getMultiaddrs()[0])
    await b.connect(hub.getMultiaddrs()[0])

    const received: string[] = []
    b.libp2p.services.pubsub.addEventListener('message', (evt) => { received.push(new TextDecoder().decode(evt.detail.data)) })
    for (const n of [a, b]) {
      n.libp2p.services.pubsub.subscribe(GROUP_TOPIC)
      // not a group topic: never followed
      n.libp2p.services.pubsub.subscribe('/not-a-group/1')
    }
    await waitFor(() => hub.libp2p.services.pubsub.getTopics().includes(GROUP_TOPIC), 'the hub to follow the group topic', 10_000)
    expect(follower.topics()).to.deep.equal([GROUP_TOPIC])
    expect(hub.libp2p.services.pubsub.getTopics()).to.not.include('/not-a-group/1')

    // gossip needs a mesh: a publishes until b hears it through the hub
    await waitFor(async () => {
      await a.libp2p.services.pubsub.publish(GROUP_TOPIC, new TextEncoder().encode('through the hub')).catch(() => {})
      return received.includes('through the hub')
    }, 'b to receive a\'s message through the hub', 20_000, 500)
    expect(a.libp2p.getConnections(b.peerId)).to.be.empty()

    for (const n of [a, b]) {
      n.libp2p.services.pubsub.unsubscribe(GROUP_TOPIC)
    }
    await waitFor(() => !hub.libp2p.services.pubsub.getTopics().includes(GROUP_TOPIC), 'the hub to leave the topic', 10_000)
    expect(follower.topics()).to.be.empty()
  })

  it('never leaves a topic the daemon joined itself', async () => {
    const hub = await loopbackNode()
    const a = await loopbackNode()
    nodes = [hub, a]
    hub.libp2p.services.pubsub.subscribe(GROUP_TOPIC)
    follower = new BrowserTopicFollower({
      pubsub: hub.libp2p.services.pubsub,
      onPeerDisconnect: () => () => {},
      log: silentLogger().forComponent('test')
    })
    follower.start()
    await a.connect(hub.getMultiaddrs()[0])
    a.libp2p.services.pubsub.subscribe(GROUP_TOPIC)
    await waitFor(() => hub.libp2p.services.pubsub.getSubscribers(GROUP_TOPIC).length === 1, 'the hub to see a\'s subscription', 10_000)
    a.libp2p.services.pubsub.unsubscribe(GROUP_TOPIC)
    await waitFor(() => hub.libp2p.services.pubsub.getSubscribers(GROUP_TOPIC).length === 0, 'the hub to see a leave', 10_000)
    expect(follower.topics()).to.be.empty()
    expect(hub.libp2p.services.pubsub.getTopics()).to.include(GROUP_TOPIC)
  })
})
