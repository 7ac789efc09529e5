import type { Murmur } from '../../src/app/index.ts'
import type { DirectMessage } from '../../src/contacts/index.ts'

/** Every 1:1 message `m` accepts from now on, in the order it accepts them */
export function inbox (m: Murmur): DirectMessage[] {
  const got: DirectMessage[] = []
  m.contacts.addEventListener('message', (e) => { got.push(e.detail.message) })
  return got
}
