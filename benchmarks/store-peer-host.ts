/**
 * One peer of the store scenario (a store node or a relay) in a process of
 * its own, for `store --procs`: driven by lib/store-peers.ts's RemotePeer, one
 * JSON line per call on stdin, one JSON line per answer on stdout. Nothing
 * else may be written to stdout; diagnostics go to stderr.
 */

import { createInterface } from 'node:readline'
import { cpuNow, onionLossesOf, startMurmur } from './lib/store-peers.ts'
import type { Murmur } from '../src/app/index.ts'

let murmur: Murmur | undefined

function peer (): Murmur {
  if (murmur == null) {
    throw new Error('no peer started')
  }
  return murmur
}

async function handle (req: any): Promise<unknown> {
  switch (req.cmd) {
    case 'start': {
      if (murmur != null) {
        throw new Error('a peer is already started')
      }
      murmur = await startMurmur(req.spec)
      return { peerId: murmur.peerId.toString(), addr: murmur.node.getMultiaddrs()[0].toString() }
    }
    case 'connect':
      await peer().node.connect(req.addr)
      return null
    case 'descriptors':
      return peer().directory.descriptors().length
    case 'losses':
      return onionLossesOf(peer())
    case 'cpu':
      return cpuNow()
    case 'stop':
      await murmur?.stop()
      murmur = undefined
      return null
    default:
      throw new Error(`unknown command ${JSON.stringify(req.cmd)}`)
  }
}

function send (line: unknown, then?: () => void): void {
  process.stdout.write(JSON.stringify(line) + '\n', then)
}

async function shutdown (): Promise<void> {
  await Promise.resolve(murmur?.stop()).catch(() => {})
  process.exit(0)
}

createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
  let req: any
  try {
    req = JSON.parse(line)
  } catch (err: any) {
    process.stderr.write(`store peer host: not JSON: ${err.message}\n`)
    return
  }
  handle(req).then(
    (result) => {
      send({ id: req.id, ok: true, result }, req.cmd === 'stop' ? () => process.exit(0) : undefined)
    },
    (err: any) => { send({ id: req.id, ok: false, error: `${err.name ?? 'Error'}: ${err.message}` }) }
  )
}).on('close', () => { void shutdown() })
process.on('SIGTERM', () => { void shutdown() })
