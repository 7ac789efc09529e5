import { peerIdFromString } from '@libp2p/peer-id'
import { ApiError, UsageError } from '../../errors.ts'
import { CLIENT_OPTIONS } from '../command.ts'
import type { SendResult } from '../../../onion/index.ts'
import type { Command, CommandContext } from '../command.ts'

export const onionSend: Command = {
  name: 'onion send',
  summary: 'Send a text to a peer (a peer id, or a contact\'s name or id: its first peer) over an onion route and wait for its ack',
  usage: 'onion send <peer-id|contact> <text> [--hops N] [--json]',
  positionals: { min: 2, max: 2 },
  options: {
    ...CLIENT_OPTIONS,
    hops: { type: 'string', arg: 'N', description: 'Relays on the route, 1 to 4 (default 3)' }
  },
  async run (ctx) {
    const [target, text] = ctx.positionals
    const client = await ctx.client()
    const peerId = isPeerId(target) ? target : await contactPeer(client, target)
    let hops: number | undefined
    if (ctx.values.hops !== undefined) {
      hops = Number(ctx.values.hops)
      if (!Number.isInteger(hops) || hops < 1 || hops > 4) {
        throw new UsageError('--hops must be an integer from 1 to 4')
      }
    }
    const result = await client.post<SendResult & { ms: number }>('/v1/onion/send', { peerId, text, hops })
    ctx.print(`acked by ${peerId} in ${result.ms} ms (message ${result.messageId}, ${result.fragments} fragment(s), ${result.attempts} route(s))`, result)
    return 0
  }
}

function isPeerId (text: string): boolean {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}

/** A contact's first peer (the one its card names first) */
async function contactPeer (client: Awaited<ReturnType<CommandContext['client']>>, ref: string): Promise<string> {
  let contact: { peers: string[] }
  try {
    contact = await client.get<{ peers: string[] }>(`/v1/contacts/${encodeURIComponent(ref)}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new UsageError(`Not a peer id or a contact: ${ref}`)
    }
    throw err
  }
  const [peer] = contact.peers
  if (peer == null) {
    throw new UsageError(`The contact ${ref} names no peer to send to`)
  }
  return peer
}
