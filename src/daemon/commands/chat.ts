import { createInterface } from 'node:readline'
import { UsageError } from '../errors.ts'
import { CLIENT_OPTIONS } from './command.ts'
import { contactName, formatMessage } from './contact/format.ts'
import type { Command } from './command.ts'
import type { ContactInfo, DirectMessage } from '../../contacts/index.ts'
import type { Readable } from 'node:stream'

/**
 * Interactive 1:1 chat: prints the last messages, then every new one from
 * the daemon's event stream; each line typed on stdin is sent. Ends at the
 * end of stdin or on SIGINT. With --json, one JSON object per line.
 */
export const chat: Command = {
  name: 'chat',
  summary: 'Chat with a contact: lines from stdin are sent, incoming messages printed as they arrive',
  usage: 'chat <contact> [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    const contact = await client.get<ContactInfo>(`/v1/contacts/${encodeURIComponent(ctx.positionals[0])}`)
    const names = new Map([[contact.id, contactName(contact)]])
    const out = (m: DirectMessage): void => {
      ctx.io.stdout.write((ctx.json ? JSON.stringify(m) : formatMessage(m, names)) + '\n')
    }
    const history = await client.get<{ messages: DirectMessage[] }>(`/v1/inbox?contact=${contact.id}&limit=20`)
    history.messages.forEach(out)

    const controller = new AbortController()
    const onSignal = (): void => { controller.abort() }
    ctx.io.signals?.on('SIGINT', onSignal)
    const events = (async () => {
      try {
        for await (const e of client.events({ signal: controller.signal })) {
          if (e.event === 'ready') {
            // subscribed: from here on nothing the contact sends is missed
            ctx.io.stderr.write(`chatting with ${contactName(contact)}; end with Ctrl-D\n`)
            continue
          }
          const d = e.data as { contact: ContactInfo, message: DirectMessage }
          if (e.event === 'contact:message' && d.contact.id === contact.id) {
            out(d.message)
          }
        }
      } catch (err: any) {
        if (!controller.signal.aborted) {
          throw err
        }
      }
    })()
    const stdin: Readable | undefined = ctx.io.stdin
    if (stdin == null) {
      throw new UsageError('chat reads the lines to send from stdin, and this caller gave none')
    }
    const lines = createInterface({ input: stdin, terminal: false })
    try {
      for await (const line of lines) {
        if (controller.signal.aborted) {
          break
        }
        if (line.trim() === '') {
          continue
        }
        try {
          const res = await client.post<{ message: DirectMessage }>(`/v1/contacts/${contact.id}/messages`, { content: line })
          out(res.message)
        } catch (err: any) {
          ctx.io.stderr.write(`not sent: ${err.message}\n`)
        }
      }
    } finally {
      lines.close()
      controller.abort()
      ctx.io.signals?.off('SIGINT', onSignal)
      await events
    }
    return 0
  }
}
