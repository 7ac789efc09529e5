/**
 * @packageDocumentation
 *
 * The `murmur` daemon and CLI: the control API (HTTP+JSON on 127.0.0.1 with a
 * bearer token), Prometheus metrics, the config file, and the commands.
 */

export { main, COMMANDS } from './cli.ts'
export { Daemon } from './daemon.ts'
export type { DaemonInit } from './daemon.ts'
export { ApiClient } from './api/client.ts'
export { ControlApi, HttpError } from './api/server.ts'
export type { Route, RouteContext } from './api/server.ts'
export { defaultConfig, mergeConfig, readConfigFile, validateConfig, DEFAULT_API, DEFAULT_METRICS } from './config.ts'
export type { DaemonConfig } from './config.ts'
export { UsageError, ConfigError, DaemonNotRunningError, HomeInUseError, ApiError } from './errors.ts'
