/**
 * The page's contacts panel: this identity's contact card, adding a contact
 * by card, the contact list and a 1:1 chat (history from `inbox`, new
 * messages live through the `message` event, whether they came live or from
 * a mailbox fetched at start).
 */

import { $, short } from './dom.ts'
import type { Contacts, ContactInfo, DirectMessage } from '../contacts/index.ts'

const HISTORY_LIMIT = 200

/**
 * The card, minted once per identity and database: every `card()` call
 * mints (and keeps fetching) a new mailbox, so a page must not ask for one
 * on each load
 */
async function ownCard (contacts: Contacts, database: string, identity: string): Promise<string> {
  const key = `murmur:card:${database}`
  try {
    const saved = JSON.parse(localStorage.getItem(key) ?? 'null')
    if (saved?.identity === identity && typeof saved.card === 'string') {
      return saved.card
    }
  } catch {
    // unreadable: mint a new one
  }
  const card = await contacts.card()
  localStorage.setItem(key, JSON.stringify({ identity, card }))
  return card
}

export class ContactsChat {
  private readonly contacts: Contacts
  private readonly showError: (err: unknown) => void
  private selected?: string
  private names = new Map<string, string>()
  /** Sends leave one after the other, so they arrive in the order typed */
  private sending: Promise<unknown> = Promise.resolve()

  constructor (contacts: Contacts, showError: (err: unknown) => void) {
    this.contacts = contacts
    this.showError = showError
  }

  async setup (database: string, identity: string): Promise<void> {
    const cardOut = $<HTMLInputElement>('my-card')
    cardOut.value = await ownCard(this.contacts, database, identity)
    $('copy-card').addEventListener('click', () => {
      cardOut.select()
      navigator.clipboard?.writeText(cardOut.value).catch(() => {})
    })
    $('add-contact-form').addEventListener('submit', (evt) => {
      evt.preventDefault()
      const name = $<HTMLInputElement>('contact-name')
      const card = $<HTMLInputElement>('contact-card')
      this.contacts.add(card.value.trim(), { name: name.value.trim() })
        .then(async (contact) => { name.value = ''; card.value = ''; await this.select(contact.id) })
        .catch(this.showError)
    })
    $('dm-send-form').addEventListener('submit', (evt) => {
      evt.preventDefault()
      const input = $<HTMLInputElement>('dm-message')
      const content = input.value
      const to = this.selected
      if (to == null || content.trim() === '') {
        return
      }
      input.value = ''
      this.sending = this.sending.then(async () => {
        const { message, via } = await this.contacts.send(to, content)
        if (to === this.selected) {
          this.append(message, via)
        }
      }).catch(this.showError)
    })
    this.contacts.addEventListener('message', (evt) => {
      if (evt.detail.contact.id === this.selected) {
        this.append(evt.detail.message)
      }
    })
    this.contacts.addEventListener('update', (evt) => {
      if (evt.detail.contact.id === this.selected) {
        this.append(evt.detail.message)
      }
    })
    this.contacts.addEventListener('contact', () => { void this.renderList().catch(this.showError) })
    // a phone puts a background tab to sleep: coming back, look in the mailboxes at once rather than at the next poll
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this.contacts.fetchMailboxes().catch(() => {})
      }
    })
    const list = await this.contacts.list()
    await this.renderList()
    if (list.length > 0) {
      await this.select(list[0].id)
    }
  }

  private label (contact: ContactInfo): string {
    return contact.name ?? short(contact.id)
  }

  private async renderList (): Promise<void> {
    const contacts = await this.contacts.list()
    this.names = new Map(contacts.map(c => [c.id, this.label(c)]))
    if (contacts.length === 0) {
      const li = document.createElement('li')
      li.className = 'notice'
      li.textContent = 'No contacts yet'
      $('contact-list').replaceChildren(li)
      return
    }
    $('contact-list').replaceChildren(...contacts.map(contact => {
      const li = document.createElement('li')
      const button = document.createElement('button')
      button.type = 'button'
      button.textContent = this.label(contact)
      button.title = contact.id
      button.dataset.contactId = contact.id
      button.setAttribute('aria-pressed', String(contact.id === this.selected))
      button.addEventListener('click', () => { void this.select(contact.id).catch(this.showError) })
      li.append(button)
      return li
    }))
  }

  async select (contactId: string): Promise<void> {
    this.selected = contactId
    const contact = await this.contacts.get(contactId)
    $('dm').hidden = false
    $('dm-name').textContent = this.label(contact)
    await this.renderList()
    $('dm-timeline').replaceChildren()
    const history = await this.contacts.inbox({ contact: contactId, limit: HISTORY_LIMIT })
    if (contactId !== this.selected) {
      return
    }
    // what arrived live while the history loaded goes after it, once
    const live = [...$('dm-timeline').children]
    $('dm-timeline').replaceChildren()
    history.forEach(m => { this.append(m) })
    const shown = new Set(history.map(m => m.id))
    $('dm-timeline').append(...live.filter(li => !shown.has((li as HTMLElement).dataset.messageId ?? '')))
  }

  private append (m: DirectMessage, via?: 'live' | 'mailbox'): void {
    const timeline = $('dm-timeline')
    const existing = timeline.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`)
    const li = document.createElement('li')
    li.dataset.messageId = m.id
    li.className = m.self ? 'self' : ''
    const meta = document.createElement('span')
    meta.className = 'meta'
    const author = m.self ? 'you' : (this.names.get(m.contact) ?? short(m.contact))
    const state = m.self ? (m.delivered ? ' · delivered' : via === 'mailbox' ? ' · in their mailbox' : ' · sent') : ''
    meta.textContent = `${author} · ${new Date(m.timestamp).toLocaleTimeString()}${m.edited ? ' · edited' : ''}${state}`
    const text = document.createElement('span')
    text.className = 'content'
    text.textContent = m.deleted ? '(deleted)' : m.content
    li.append(meta, text)
    if (existing != null) {
      existing.replaceWith(li)
    } else {
      timeline.append(li)
    }
    timeline.scrollTop = timeline.scrollHeight
  }
}
