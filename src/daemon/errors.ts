/**
 * Errors of the daemon and the CLI. Each maps to an exit code: usage and
 * configuration mistakes exit 2 (nothing was done), everything else 1.
 */

export class UsageError extends Error {
  static name = 'UsageError'
  readonly exitCode = 2

  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export class ConfigError extends Error {
  static name = 'ConfigError'
  readonly exitCode = 2
  readonly field: string

  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'ConfigError'
    this.field = field
  }
}

/** The control API was asked to bind beyond loopback without `--api-allow-remote` */
export class RemoteApiRefusedError extends Error {
  static name = 'RemoteApiRefusedError'
  readonly exitCode = 2

  constructor (api: string) {
    super(`refusing to serve the control API on ${api}, beyond loopback: anyone who reaches it and holds the token controls this node. Bind it to 127.0.0.1, or pass --api-allow-remote (config: "apiAllowRemote": true) if you mean it`)
    this.name = 'RemoteApiRefusedError'
  }
}

export class DaemonNotRunningError extends Error {
  static name = 'DaemonNotRunningError'
  readonly exitCode = 1

  constructor (message = 'No daemon is running (start one with `murmur daemon`)') {
    super(message)
    this.name = 'DaemonNotRunningError'
  }
}

export class HomeInUseError extends Error {
  static name = 'HomeInUseError'
  readonly exitCode = 1

  constructor (home: string) {
    super(`Another murmur daemon is using ${home}`)
    this.name = 'HomeInUseError'
  }
}

/** An error answer from the control API, as the client sees it */
export class ApiError extends Error {
  static name = 'ApiError'
  readonly exitCode = 1
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

export function exitCodeOf (err: unknown): number {
  const code = (err as { exitCode?: unknown })?.exitCode
  return typeof code === 'number' ? code : 1
}
