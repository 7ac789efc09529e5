import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Starts `server` on host:port and returns where it listens (port 0 gets a free one) */
export async function listenOn (server: Server, host: string, port: number): Promise<{ host: string, port: number, url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const addr = server.address() as AddressInfo
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return { host: addr.address, port: addr.port, url: `http://${urlHost}:${addr.port}` }
}

/** Stops accepting and closes every open connection, keep-alive ones included */
export async function closeServer (server: Server): Promise<void> {
  await new Promise<void>(resolve => {
    server.close(() => { resolve() })
    server.closeAllConnections()
  })
}
