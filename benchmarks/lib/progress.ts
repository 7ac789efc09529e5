/**
 * Progress on stderr, one bar per phase ("murmur: publish 120/500"), through
 * cli-progress. stdout stays free for the summary (or `--json`). On a
 * terminal the bar redraws in place; written to a file or a pipe it prints a
 * line every few seconds instead.
 */

import cliProgress from 'cli-progress'

export interface PhaseBar {
  tick(by?: number): void
  set(value: number): void
  done(): void
}

export interface ProgressInit {
  /** print nothing at all */
  quiet?: boolean
  stream?: NodeJS.WritableStream
}

export class Progress {
  private readonly quiet: boolean
  private readonly stream: NodeJS.WritableStream
  private current: cliProgress.SingleBar | undefined

  constructor (init: ProgressInit = {}) {
    this.quiet = init.quiet === true
    this.stream = init.stream ?? process.stderr
  }

  /** A line of text between bars */
  note (text: string): void {
    if (this.quiet) {
      return
    }
    this.current?.stop()
    this.current = undefined
    this.stream.write(`${text}\n`)
  }

  phase (title: string, total: number): PhaseBar {
    if (this.quiet) {
      return { tick () {}, set () {}, done () {} }
    }
    this.current?.stop()
    const bar = new cliProgress.SingleBar({
      stream: this.stream,
      format: `${title.padEnd(28)} [{bar}] {value}/{total} {duration_formatted}`,
      barsize: 30,
      hideCursor: false,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50
    }, cliProgress.Presets.shades_classic)
    bar.start(Math.max(total, 1), 0)
    this.current = bar
    let value = 0
    return {
      tick: (by = 1) => {
        value += by
        bar.update(Math.min(value, total))
      },
      set: (v) => {
        value = v
        bar.update(Math.min(v, total))
      },
      // the bar stays where the work got to: a drain that timed out shows how far it came
      done: () => {
        bar.stop()
        if (this.current === bar) {
          this.current = undefined
        }
      }
    }
  }

  stop (): void {
    this.current?.stop()
    this.current = undefined
  }
}
