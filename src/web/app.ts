/**
 * The web chat page: starts a whole Murmur peer in the page (state in
 * IndexedDB), shows who it is and how it reaches each peer, lets the user
 * edit the bootstrap list, chats in groups when the build has them, and
 * with contacts 1:1 (cards, history, mailboxes fetched at start).
 *
 * The daemon serving the page (`murmur daemon --web HOST:PORT`) answers
 * `config.json` with its browser-facing addresses (and, when a deployment
 * needs them, `iceServers`); the user's own list, once saved, is kept in
 * localStorage and wins. `?db=NAME` runs the page as
 * another peer (its own IndexedDB database).
 */

import { createMurmur } from '../browser/index.ts'
import { classifyConnection, KIND_LABEL } from './connections.ts'
import { ContactsChat } from './contacts.ts'
import { $, short } from './dom.ts'
import type { ConnectionView } from './connections.ts'
import type { BrowserMurmur } from '../browser/index.ts'
import type { Groups, MemberInfo, TimelineEntry } from '../groups/index.ts'

interface PageSettings {
  bootstrap: string[]
  allowPrivateAddresses: boolean
  /** STUN/TURN servers for WebRTC, from the server's config.json (none by default) */
  iceServers?: RTCIceServer[]
}

/** What the page exposes for tests, benchmarks and the console */
export interface MurmurPage {
  ready: Promise<void>
  murmur?: BrowserMurmur
  settings?: PageSettings
  connections(): ConnectionView[]
  /** `performance.now()` when the peer had started */
  startedMs?: number
  /** `performance.now()` when the first gossip message from another peer arrived */
  firstMessageMs?: number
  error?: string
}

declare global {
  interface Window { murmurPage: MurmurPage }
}

const SETTINGS_KEY = 'murmur:settings'
const TIMELINE_LIMIT = 200

function setState (state: 'starting' | 'online' | 'offline' | 'failed', text: string): void {
  const el = $('state')
  el.dataset.state = state
  el.textContent = text
}

function showError (err: unknown): void {
  const el = $('error')
  el.hidden = false
  el.textContent = err instanceof Error ? err.message : String(err)
}

async function serverSettings (): Promise<PageSettings> {
  try {
    const res = await fetch('config.json', { cache: 'no-store' })
    if (res.ok) {
      const body = await res.json()
      return {
        bootstrap: Array.isArray(body.bootstrap) ? body.bootstrap.filter((a: unknown) => typeof a === 'string') : [],
        allowPrivateAddresses: body.allowPrivateAddresses === true,
        iceServers: Array.isArray(body.iceServers) ? body.iceServers.filter((s: any) => typeof s?.urls === 'string' || Array.isArray(s?.urls)) : undefined
      }
    }
  } catch {
    // a page served without a daemon behind it: start from an empty list
  }
  return { bootstrap: [], allowPrivateAddresses: false }
}

function savedSettings (): PageSettings | undefined {
  try {
    const raw = localStorage.getItem(SETTINGS_KEY)
    if (raw == null) {
      return undefined
    }
    const parsed = JSON.parse(raw)
    if (Array.isArray(parsed.bootstrap) && typeof parsed.allowPrivateAddresses === 'boolean') {
      return parsed
    }
  } catch {
    // unreadable: fall back to the server's list
  }
  return undefined
}

function connectionsOf (murmur: BrowserMurmur): ConnectionView[] {
  return murmur.node.libp2p.getConnections().map(conn => ({
    peerId: conn.remotePeer.toString(),
    address: conn.remoteAddr.toString(),
    ...classifyConnection(conn.remoteAddr.toString(), conn.limits != null)
  }))
}

function renderSelf (murmur: BrowserMurmur): void {
  $('identity-id').textContent = murmur.identity.id
  $('peer-id').textContent = murmur.peerId.toString()
  const list = $('addresses')
  list.replaceChildren(...murmur.node.getMultiaddrs().map(ma => {
    const li = document.createElement('li')
    li.textContent = ma.toString()
    return li
  }))
}

function renderConnections (murmur: BrowserMurmur): void {
  const views = connectionsOf(murmur)
  const list = $('peer-list')
  if (views.length === 0) {
    const li = document.createElement('li')
    li.className = 'notice'
    li.textContent = 'No connections yet'
    list.replaceChildren(li)
  } else {
    list.replaceChildren(...views.map(view => {
      const li = document.createElement('li')
      const id = document.createElement('code')
      id.textContent = short(view.peerId)
      id.title = `${view.peerId}\n${view.address}`
      const kind = document.createElement('span')
      kind.className = 'kind'
      kind.dataset.kind = view.kind
      kind.textContent = `${KIND_LABEL[view.kind]} · ${view.transport}`
      li.append(id, kind)
      return li
    }))
  }
  const online = views.length > 0
  setState(online ? 'online' : 'offline', online ? `online · ${new Set(views.map(v => v.peerId)).size} peers` : 'offline')
}

function setupBootstrapEditor (settings: PageSettings): void {
  const list = $<HTMLTextAreaElement>('bootstrap-list')
  const allow = $<HTMLInputElement>('allow-private')
  list.value = settings.bootstrap.join('\n')
  allow.checked = settings.allowPrivateAddresses
  $('bootstrap-form').addEventListener('submit', (evt) => {
    evt.preventDefault()
    const next: PageSettings = {
      bootstrap: list.value.split('\n').map(l => l.trim()).filter(l => l !== ''),
      allowPrivateAddresses: allow.checked
    }
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(next))
    // a restart is a reload: the peer comes back from IndexedDB unchanged
    location.reload()
  })
  $('bootstrap-reset').addEventListener('click', () => {
    localStorage.removeItem(SETTINGS_KEY)
    location.reload()
  })
}

function setupDial (murmur: BrowserMurmur): void {
  $('dial-form').addEventListener('submit', (evt) => {
    evt.preventDefault()
    const input = $<HTMLInputElement>('dial-addr')
    const addr = input.value.trim()
    murmur.node.connect(addr).then(() => { input.value = '' }, (err) => {
      // the peer may have dialled us at the same moment: its handshake won, and we are connected
      const peer = addr.split('/p2p/').pop()
      if (!murmur.node.libp2p.getConnections().some(c => c.remotePeer.toString() === peer)) {
        showError(err)
      }
    })
  })
}

/** The group chat: list, create, join, invite, timeline, members */
class GroupChat {
  private readonly groups: Groups
  private selected?: string
  private members = new Map<string, MemberInfo>()

  constructor (groups: Groups) {
    this.groups = groups
  }

  async setup (): Promise<void> {
    $('create-form').addEventListener('submit', (evt) => {
      evt.preventDefault()
      const input = $<HTMLInputElement>('create-name')
      this.groups.create(input.value.trim())
        .then(async (group) => { input.value = ''; await this.select(group.id) })
        .catch(showError)
    })
    $('join-form').addEventListener('submit', (evt) => {
      evt.preventDefault()
      const input = $<HTMLInputElement>('join-code')
      this.groups.join(input.value.trim())
        .then(async (group) => { input.value = ''; await this.select(group.id) })
        .catch(showError)
    })
    $('invite-button').addEventListener('click', () => {
      if (this.selected == null) {
        return
      }
      this.groups.invite(this.selected).then(code => {
        const out = $<HTMLInputElement>('invite-code')
        out.hidden = false
        out.value = code
        out.select()
        navigator.clipboard?.writeText(code).catch(() => {})
      }, showError)
    })
    $('send-form').addEventListener('submit', (evt) => {
      evt.preventDefault()
      const input = $<HTMLInputElement>('message')
      const content = input.value
      if (this.selected == null || content.trim() === '') {
        return
      }
      input.value = ''
      this.groups.send(this.selected, content).catch(showError)
    })
    this.groups.addEventListener('message', (evt) => {
      if (evt.detail.groupId === this.selected) {
        this.append(evt.detail.entry)
      }
    })
    this.groups.addEventListener('update', (evt) => {
      if (evt.detail.groupId === this.selected) {
        void this.renderTimeline().catch(showError)
      }
    })
    this.groups.addEventListener('membership', (evt) => {
      if (evt.detail.groupId === this.selected) {
        this.renderMembers(evt.detail.members)
      }
    })
    const groups = await this.groups.list()
    await this.renderList()
    if (groups.length > 0) {
      await this.select(groups[0].id)
    }
  }

  private async renderList (): Promise<void> {
    const groups = await this.groups.list()
    $('group-list').replaceChildren(...groups.map(group => {
      const li = document.createElement('li')
      const button = document.createElement('button')
      button.type = 'button'
      button.textContent = group.name
      button.dataset.groupId = group.id
      button.setAttribute('aria-pressed', String(group.id === this.selected))
      button.addEventListener('click', () => { void this.select(group.id).catch(showError) })
      li.append(button)
      return li
    }))
  }

  async select (groupId: string): Promise<void> {
    this.selected = groupId
    const group = await this.groups.get(groupId)
    $('chat').hidden = false
    $('chat-name').textContent = group.name
    $<HTMLInputElement>('invite-code').hidden = true
    this.renderMembers(group.members)
    await this.renderList()
    await this.renderTimeline()
  }

  private renderMembers (members: MemberInfo[]): void {
    this.members = new Map(members.map(m => [m.id, m]))
    $('member-count').textContent = String(members.length)
    $('members').replaceChildren(...members.map(member => {
      const li = document.createElement('li')
      li.textContent = `${member.name ?? short(member.id)}${member.self ? ' (you)' : ''}${member.admin ? ' · admin' : ''}`
      li.title = member.id
      return li
    }))
  }

  private async renderTimeline (): Promise<void> {
    if (this.selected == null) {
      return
    }
    const { entries } = await this.groups.read(this.selected, { limit: TIMELINE_LIMIT })
    $('timeline').replaceChildren()
    entries.forEach(entry => { this.append(entry) })
  }

  private append (entry: TimelineEntry): void {
    const timeline = $('timeline')
    const existing = timeline.querySelector(`[data-entry-id="${CSS.escape(entry.id)}"]`)
    const li = document.createElement('li')
    li.dataset.entryId = entry.id
    li.className = entry.self ? 'self' : ''
    const meta = document.createElement('span')
    meta.className = 'meta'
    const author = entry.self ? 'you' : (this.members.get(entry.author)?.name ?? short(entry.author))
    meta.textContent = `${author} · ${new Date(entry.timestamp).toLocaleTimeString()}${entry.edited ? ' · edited' : ''}`
    const text = document.createElement('span')
    text.className = 'content'
    text.textContent = entry.deleted ? '(deleted)' : entry.content
    li.append(meta, text)
    if (existing != null) {
      existing.replaceWith(li)
    } else {
      timeline.append(li)
    }
    timeline.scrollTop = timeline.scrollHeight
  }
}

async function main (page: MurmurPage): Promise<void> {
  const server = await serverSettings()
  // ICE servers are the deployment's business, not the user's: always the server's
  const settings = { ...(savedSettings() ?? server), iceServers: server.iceServers }
  page.settings = settings
  setupBootstrapEditor(settings)

  const query = new URLSearchParams(location.search)
  const database = query.get('db') ?? undefined
  // `?minConnections=N`: how many peers the page looks for on its own (the
  // benchmark keeps a page to the connections it makes itself)
  const minConnections = /^\d{1,3}$/.test(query.get('minConnections') ?? '') ? Number(query.get('minConnections')) : undefined
  const murmur = await createMurmur({
    database,
    minConnections,
    bootstrap: settings.bootstrap,
    allowPrivateAddresses: settings.allowPrivateAddresses,
    iceServers: settings.iceServers
  })
  page.murmur = murmur
  const libp2p = murmur.node.libp2p
  libp2p.services.pubsub.addEventListener('message', () => {
    page.firstMessageMs ??= performance.now()
  })
  await murmur.start()
  page.startedMs = performance.now()

  renderSelf(murmur)
  renderConnections(murmur)
  const refresh = (): void => { renderSelf(murmur); renderConnections(murmur) }
  libp2p.addEventListener('connection:open', refresh)
  libp2p.addEventListener('connection:close', refresh)
  // addresses change as relay reservations come and go
  libp2p.addEventListener('self:peer:update', refresh)
  setupDial(murmur)

  $('groups-ui').hidden = false
  await new GroupChat(murmur.groups).setup()
  await new ContactsChat(murmur.contacts, showError).setup(murmur.database, murmur.identity.id)
  window.addEventListener('pagehide', () => { void murmur.stop() })
}

const page: MurmurPage = {
  ready: Promise.resolve(),
  connections: () => page.murmur != null ? connectionsOf(page.murmur) : []
}
page.ready = main(page).catch((err) => {
  page.error = err instanceof Error ? err.message : String(err)
  setState('failed', 'failed to start')
  showError(err)
  throw err
})
window.murmurPage = page
