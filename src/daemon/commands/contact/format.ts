import type { ContactInfo, DirectMessage } from '../../../contacts/index.ts'

/** One line per message: time, who, text and marks */
export function formatMessage (m: DirectMessage, names: Map<string, string> = new Map()): string {
  const who = m.self ? 'me' : (names.get(m.contact) ?? m.contact.slice(0, 8))
  const marks = [
    m.edited ? '(edited)' : '',
    m.deleted ? '(deleted)' : '',
    m.self && !m.delivered ? '(not delivered)' : '',
    Object.entries(m.reactions).map(([r, ids]) => `${r}×${ids.length}`).join(' ')
  ].filter(s => s !== '').join(' ')
  const time = new Date(m.timestamp).toISOString().slice(0, 19).replace('T', ' ')
  const text = m.kind === 'invite' ? `group invite: ${m.content}  (join with \`murmur group join <invite>\`)` : m.content
  return `${time}  ${who}: ${text}${marks !== '' ? '  ' + marks : ''}  [${m.id.slice(0, 8)}]`
}

export function contactName (c: ContactInfo): string {
  return c.name ?? c.id.slice(0, 8)
}
