/**
 * Browsers as real peers: `murmur daemon --web` and Chromium pages, all inside
 * a network namespace of the test's own (see test/fixtures/netns.ts).
 *
 * The last test stops the daemon (to prove the pages no longer need its
 * relay), so it stays last.
 */

import { expect } from 'aegir/chai'
import { browserTestsUnavailable, buildWebPage, launchChromium, openPage, screenshot, startDaemonInNs, waitForPeer } from '../fixtures/browser.ts'
import { tempDir } from '../fixtures/cli.ts'
import { createNetns } from '../fixtures/netns.ts'
import type { DaemonInNs } from '../fixtures/browser.ts'
import type { NetNs } from '../fixtures/netns.ts'
import type { Browser, Page } from 'playwright-core'

const TOPIC = '/murmur-test/browser/1'

/** What a page's peer is: peer id, identity, groups when the build has them */
async function whoIs (page: Page): Promise<{ peerId: string, identity: string, groups?: string[] }> {
  return page.evaluate(async () => {
    const murmur = window.murmurPage.murmur as any
    const groups = murmur.groups != null ? (await murmur.groups.list()).map((g: any) => g.id).sort() : undefined
    return { peerId: murmur.peerId.toString(), identity: murmur.identity.id, groups }
  })
}

/** The page's address for other browsers: through the daemon's relay, then WebRTC */
async function webrtcAddress (page: Page): Promise<string> {
  await page.waitForFunction(() => window.murmurPage.murmur?.node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit/webrtc/')), undefined, { timeout: 30_000 })
  return page.evaluate(() => window.murmurPage.murmur?.node.getMultiaddrs().map(String).find(a => a.includes('/p2p-circuit/webrtc/')) ?? '')
}

/**
 * Connects `from` to `to` over WebRTC (signalled through the relay) and waits for the direct connection on both
 * sides. `to` may be dialling `from` at the same moment (pages short of peers look for more, and redial peers they
 * knew): then the two WebRTC handshakes can collide and both dials fail ("signal timed out"), as libp2p's WebRTC
 * transport has no tie-break for simultaneous dials. An application dials again after a failed dial; so does this,
 * at most three times, and the failure names every dial error.
 */
async function connectDirect (from: Page, to: Page): Promise<void> {
  const addr = await webrtcAddress(to)
  const toId = (await whoIs(to)).peerId
  const fromId = (await whoIs(from)).peerId
  const direct = async (page: Page, peer: string): Promise<boolean> => page.evaluate((p) => window.murmurPage.connections().some(c => c.peerId === p && c.kind === 'direct'), peer)
  const errors: string[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await direct(from, toId) && await direct(to, fromId)) {
      return
    }
    const error = await from.evaluate(async (a) => {
      try {
        await window.murmurPage.murmur?.node.connect(a)
        return undefined
      } catch (err: any) {
        return String(err?.message ?? err)
      }
    }, addr)
    if (error != null) {
      errors.push(error)
    }
    try {
      for (const [page, peer] of [[from, toId], [to, fromId]] as const) {
        await page.waitForFunction((p) => window.murmurPage.connections().some(c => c.peerId === p && c.kind === 'direct'), peer, { timeout: 10_000 })
      }
      return
    } catch {
      // no direct connection on both sides yet: dial again
    }
  }
  throw new Error(`no direct WebRTC connection between the pages after 3 dials (dial errors: ${errors.join('; ') || 'none'})`)
}

/** Every connection between `page` and `peer`, as libp2p sees it */
async function connectionsTo (page: Page, peer: string): Promise<Array<{ addr: string, limited: boolean }>> {
  return page.evaluate((p) => (window.murmurPage.murmur?.node.libp2p.getConnections() ?? [])
    .filter(c => c.remotePeer.toString() === p)
    .map(c => ({ addr: c.remoteAddr.toString(), limited: c.limits != null })), peer)
}

async function subscribe (page: Page, topic: string): Promise<void> {
  await page.evaluate((t) => {
    const pubsub = window.murmurPage.murmur?.node.libp2p.services.pubsub
    const got: string[] = []
    ;(window as any).received = got
    pubsub?.addEventListener('message', (evt) => {
      if (evt.detail.topic === t) {
        got.push(new TextDecoder().decode(evt.detail.data))
      }
    })
    pubsub?.subscribe(t)
  }, topic)
}

async function publishAndExpect (from: Page, to: Page, topic: string, text: string): Promise<void> {
  await from.evaluate(async ([t, m]) => { await window.murmurPage.murmur?.node.libp2p.services.pubsub.publish(t, new TextEncoder().encode(m)) }, [topic, text])
  await to.waitForFunction((m) => ((window as any).received as string[]).includes(m), text, { timeout: 15_000 })
}

describe('browser peers (Chromium in a network namespace)', function () {
  this.timeout(240_000)
  let ns: NetNs | undefined
  let dir: { dir: string, cleanup(): Promise<void> } | undefined
  let daemon: DaemonInNs | undefined
  let browser: Browser | undefined

  before(async function () {
    const reason = browserTestsUnavailable()
    if (reason != null) {
      // eslint-disable-next-line no-console
      console.warn(`skipping the browser tests: ${reason}`)
      this.skip()
    }
    buildWebPage()
    ns = await createNetns()
    dir = await tempDir()
    // the store role: the daemon keeps the mailboxes of pages that are closed (the only store node here:
    // the store client's quorum is a majority of the store nodes it finds, so one is enough)
    daemon = await startDaemonInNs(ns, `${dir.dir}/daemon`, 30_000, ['--roles', 'store'])
    browser = await launchChromium(ns, dir.dir)
  })

  after(async () => {
    await browser?.close()
    await daemon?.stop()
    await ns?.close()
    await dir?.cleanup()
  })

  it('serves the page with its browser-facing addresses as bootstrap, and the page joins the daemon', async () => {
    if (browser == null || daemon == null) {
      throw new Error('no browser')
    }
    const page = await openPage(browser, daemon.webUrl)
    const settings = await page.evaluate(() => window.murmurPage.settings)
    expect(settings?.bootstrap).to.not.be.empty()
    expect(settings?.bootstrap.every(a => (a.includes('/ws/') || a.includes('/webrtc-direct/')) && a.endsWith(`/p2p/${daemon?.peerId}`))).to.be.true()
    expect(settings?.allowPrivateAddresses).to.be.true()
    await page.waitForFunction((p) => window.murmurPage.connections().some(c => c.peerId === p && c.kind === 'daemon'), daemon.peerId, { timeout: 30_000 })
    // the control API is never served on the web listener
    const api = await page.evaluate(async () => (await fetch('/v1/status')).status)
    expect(api).to.equal(404)
    await page.context().close()
  })

  it('a reloaded page is the same peer: peer id, identity and groups come back from IndexedDB', async () => {
    if (browser == null || daemon == null) {
      throw new Error('no browser')
    }
    const page = await openPage(browser, daemon.webUrl)
    const before = await whoIs(page)
    await page.reload()
    await waitForPeer(page)
    const after = await whoIs(page)
    expect(after).to.deep.equal(before)
    expect(after.peerId).to.not.equal(after.identity)

    // another browser profile (its own IndexedDB) is another peer
    const other = await openPage(browser, daemon.webUrl)
    const stranger = await whoIs(other)
    expect(stranger.peerId).to.not.equal(before.peerId)
    expect(stranger.identity).to.not.equal(before.identity)

    await page.waitForFunction(() => window.murmurPage.connections().length > 0, undefined, { timeout: 30_000 })
    await screenshot(page, 'page.png')
    await page.context().close()
    await other.context().close()
  })

  it('group chat between two pages: create, join by invite, messages both ways, reload keeps groups and timeline', async function () {
    if (browser == null || daemon == null) {
      throw new Error('no browser')
    }
    const a = await openPage(browser, daemon.webUrl)
    await a.waitForSelector('#groups-ui:not([hidden])')
    const b = await openPage(browser, daemon.webUrl)

    await a.fill('#create-name', 'browser test group')
    await a.click('#create-form button')
    await a.waitForSelector('#chat:not([hidden])')
    await a.click('#invite-button')
    await a.waitForFunction(() => (document.getElementById('invite-code') as HTMLInputElement).value !== '')
    const invite = await a.inputValue('#invite-code')

    await b.fill('#join-code', invite)
    await b.click('#join-form button')
    await b.waitForSelector('#chat:not([hidden])')
    await connectDirect(a, b)

    await a.fill('#message', 'hello from A')
    await a.click('#send-form button')
    await b.waitForSelector('#timeline li:has-text("hello from A")', { timeout: 30_000 })
    await b.fill('#message', 'hello from B')
    await b.click('#send-form button')
    await a.waitForSelector('#timeline li:has-text("hello from B")', { timeout: 30_000 })
    await a.waitForFunction(() => document.getElementById('member-count')?.textContent === '2', undefined, { timeout: 30_000 })
    await screenshot(a, 'chat.png')

    const groupsBefore = (await whoIs(b)).groups
    await b.reload()
    await waitForPeer(b)
    expect((await whoIs(b)).groups).to.deep.equal(groupsBefore)
    await b.waitForSelector('#timeline li:has-text("hello from A")', { timeout: 30_000 })
    await b.waitForSelector('#timeline li:has-text("hello from B")', { timeout: 30_000 })
    await a.context().close()
    await b.context().close()
  })

  it('a page closed while a contact writes to it fetches the messages from its mailbox when it reopens', async () => {
    if (browser == null || daemon == null) {
      throw new Error('no browser')
    }
    const a = await openPage(browser, daemon.webUrl)
    const b = await openPage(browser, daemon.webUrl)
    for (const page of [a, b]) {
      // the daemon is the store node and the DHT server where prekey bundles are put
      await page.waitForFunction((d) => window.murmurPage.connections().some(c => c.peerId === d), daemon.peerId, { timeout: 30_000 })
    }
    // A sets up the session while B is gone: from B's prekey bundle in the DHT (on the daemon)
    expect(await b.evaluate(async () => (window.murmurPage.murmur as any).contacts.publishNow())).to.be.true()

    // cards exchanged through the contacts panel
    const cardA = await a.inputValue('#my-card')
    const cardB = await b.inputValue('#my-card')
    await a.fill('#contact-name', 'bob')
    await a.fill('#contact-card', cardB)
    await a.click('#add-contact-form button')
    await b.fill('#contact-name', 'alice')
    await b.fill('#contact-card', cardA)
    await b.click('#add-contact-form button')
    await a.waitForSelector('#dm:not([hidden])')
    await b.waitForSelector('#dm:not([hidden])')
    expect(await a.textContent('#dm-name')).to.equal('bob')

    // B's page closes; its browser profile (IndexedDB) stays
    const contextB = b.context()
    await b.close()

    // Live delivery goes over onion routes, and this namespace has no relay: it fails, and each message
    // falls back to B's mailbox on the store node (what this test is about)
    const sent = ['one', 'two', 'three']
    const via: string[] = []
    for (const text of sent) {
      via.push(await a.evaluate(async (t) => (await (window.murmurPage.murmur as any).contacts.send('bob', t)).via, text))
    }
    expect(via).to.deep.equal(['mailbox', 'mailbox', 'mailbox'])

    // B reopens in the same profile: the same peer, which fetches its mailboxes at start
    const b2 = await contextB.newPage()
    await b2.goto(daemon.webUrl)
    await waitForPeer(b2)
    await b2.waitForSelector('#dm:not([hidden])')
    expect(await b2.textContent('#dm-name')).to.equal('alice')
    await b2.waitForFunction((n) => document.querySelectorAll('#dm-timeline li').length >= n, sent.length, { timeout: 30_000 })
    // a moment for a duplicate to show, if one were coming
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const shown = await b2.$$eval('#dm-timeline li .content', els => els.map(e => e.textContent))
    expect(shown).to.deep.equal(sent)

    // B answers through the panel; A, not fetching until its next poll, reloads and finds the answer in its mailbox
    await b2.fill('#dm-message', 'got all three')
    await b2.click('#dm-send-form button')
    await b2.waitForSelector('#dm-timeline li.self:has-text("got all three")', { timeout: 30_000 })
    await screenshot(b2, 'contacts.png')
    await a.reload()
    await waitForPeer(a)
    await a.waitForSelector('#dm-timeline li:not(.self):has-text("got all three")', { timeout: 30_000 })
    expect(await a.$$eval('#dm-timeline li .content', els => els.map(e => e.textContent))).to.deep.equal([...sent, 'got all three'])
    await a.context().close()
    await contextB.close()
  })

  // stops the daemon: keep it last
  it('two pages upgrade to a direct WebRTC connection and keep talking when the daemon is gone', async () => {
    if (browser == null || daemon == null) {
      throw new Error('no browser')
    }
    const a = await openPage(browser, daemon.webUrl)
    const b = await openPage(browser, daemon.webUrl)
    const [idA, idB] = [(await whoIs(a)).peerId, (await whoIs(b)).peerId]
    await connectDirect(a, b)

    await subscribe(a, TOPIC)
    await subscribe(b, TOPIC)
    for (const [page, peer] of [[a, idB], [b, idA]] as const) {
      await page.waitForFunction(([t, p]) => window.murmurPage.murmur?.node.libp2p.services.pubsub.getSubscribers(t).some(s => s.toString() === p), [TOPIC, peer], { timeout: 30_000 })
    }

    // no relay any more: whatever flows now flows over the direct connection
    await daemon.stop()
    for (const [page, peer] of [[a, idB], [b, idA]] as const) {
      await page.waitForFunction((d) => !window.murmurPage.connections().some(c => c.peerId === d), daemon.peerId, { timeout: 30_000 })
      // the circuit through the daemon dies with it
      await page.waitForFunction((p) => !window.murmurPage.connections().some(c => c.peerId === p && c.kind === 'relayed'), peer, { timeout: 30_000 })
      const conns = await connectionsTo(page, peer)
      expect(conns).to.not.be.empty()
      for (const conn of conns) {
        expect(conn.limited, conn.addr).to.be.false()
        // the WebRTC transport itself, not a circuit (a dialler keeps the circuit it signalled through as a prefix)
        expect(conn.addr).to.match(/\/webrtc\/p2p\/[^/]+$/)
      }
    }

    await publishAndExpect(a, b, TOPIC, 'A to B, direct')
    await publishAndExpect(b, a, TOPIC, 'B to A, direct')
    await a.context().close()
    await b.context().close()
  })
})
