import { DaemonNotRunningError } from '../errors.ts'
import { CLIENT_OPTIONS } from './command.ts'
import type { Command } from './command.ts'

/** How long `murmur stop` waits for the daemon to go away */
const STOP_WAIT_MS = 30_000

export const stop: Command = {
  name: 'stop',
  summary: 'Stop the running daemon cleanly and wait until it has stopped',
  usage: 'stop [--json]',
  options: { ...CLIENT_OPTIONS },
  async run (ctx) {
    const client = await ctx.client()
    await client.post('/v1/stop')
    const deadline = Date.now() + STOP_WAIT_MS
    while (Date.now() < deadline) {
      try {
        await client.get('/v1/health', { signal: AbortSignal.timeout(1000) })
      } catch (err) {
        if (err instanceof DaemonNotRunningError) {
          ctx.print('daemon stopped', { stopped: true })
          return 0
        }
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    ctx.io.stderr.write(`murmur: the daemon at ${client.url} is still answering after ${STOP_WAIT_MS / 1000} s\n`)
    return 1
  }
}
