/**
 * Structured logging. Murmur's own components log JSON lines through pino;
 * each component gets a child logger carrying `component` (and the node's
 * short name when many nodes share a process), so that a log of twenty nodes
 * in one test stays readable and greppable.
 *
 * libp2p's internals keep their `debug`-style logger (enabled with
 * `DEBUG=libp2p:*`), prefixed per node.
 */

import { pino } from 'pino'
import type { Logger as PinoLogger, DestinationStream } from 'pino'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export type Logger = PinoLogger

export interface MurmurLogger {
  /** A child logger for one component, e.g. `forComponent('daemon:api')` */
  forComponent(name: string): Logger
  /** The root logger */
  readonly root: Logger
}

export interface CreateLoggerInit {
  /**
   * @default 'info'
   */
  level?: LogLevel

  /**
   * Fields added to every line, e.g. `{ node: '12D3…abcd' }`
   */
  bindings?: Record<string, unknown>

  /**
   * Where lines go
   *
   * @default stderr
   */
  destination?: DestinationStream
}

export function createLogger (init: CreateLoggerInit = {}): MurmurLogger {
  const root = pino({
    level: init.level ?? 'info',
    base: init.bindings ?? {},
    timestamp: pino.stdTimeFunctions.isoTime
  }, init.destination ?? stderr())

  return {
    root,
    forComponent: (name) => root.child({ component: name })
  }
}

/** Node's stderr; pino's browser build has no destinations and logs to the console */
function stderr (): DestinationStream | undefined {
  return typeof pino.destination === 'function' ? pino.destination({ fd: 2, sync: true }) : undefined
}

/**
 * A logger that drops everything: the default for library users and tests
 * that did not ask for logs.
 */
export function silentLogger (): MurmurLogger {
  return createLogger({ level: 'silent' })
}
