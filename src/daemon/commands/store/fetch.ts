import { CLIENT_OPTIONS } from '../command.ts'
import type { Command } from '../command.ts'

interface FetchAnswer { mailbox: string, messages: Array<{ id: string, payload: string, timestamp: number }> }

export const storeFetch: Command = {
  name: 'store fetch',
  summary: 'Fetch a mailbox\'s messages with its key seed (64 hex characters); --ack deletes them on every replica',
  usage: 'store fetch <seed> [--ack] [--json]',
  positionals: { min: 1, max: 1 },
  options: { ...CLIENT_OPTIONS, ack: { type: 'boolean', description: 'Acknowledge (delete) what was fetched' } },
  async run (ctx) {
    const [seed] = ctx.positionals
    const client = await ctx.client()
    const answer = await client.post<FetchAnswer>('/v1/store/fetch', { seed })
    if (ctx.values.ack === true && answer.messages.length > 0) {
      await client.post('/v1/store/ack', { seed, ids: answer.messages.map(m => m.id) })
    }
    ctx.print(answer.messages.map(m => `${new Date(m.timestamp).toISOString()}  ${Buffer.from(m.payload, 'base64').toString('utf8')}`).join('\n') || '(empty)', answer)
    return 0
  }
}
