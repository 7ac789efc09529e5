import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../../benchmarks/lib/main.ts'
import { TS_NODE_ARGS } from '../../benchmarks/lib/node-args.ts'
import type { RunResult, RunSummary } from '../../benchmarks/lib/report.ts'

export const RUN_TS = fileURLToPath(new URL('../../benchmarks/run.ts', import.meta.url))

export async function tempDir (): Promise<string> {
  return mkdtemp(join(tmpdir(), 'murmur-bench-'))
}

export async function removeDir (dir: string | undefined): Promise<void> {
  if (dir != null) {
    await rm(dir, { recursive: true, force: true })
  }
}

class Collect extends Writable {
  text = ''
  _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString()
    cb()
  }
}

/** Runs the harness in this process with --json and answers its exit code and parsed summary */
export async function runInProcess (argv: string[]): Promise<{ code: number, summary: RunSummary | undefined, stderr: string }> {
  const stdout = new Collect()
  const stderr = new Collect()
  const code = await main([...argv, '--json', '--quiet'], { stdout, stderr })
  return { code, summary: code === 0 ? JSON.parse(stdout.text) : undefined, stderr: stderr.text }
}

/** Runs `node benchmarks/run.ts …` as a child process, on the Node running the tests */
export async function runCli (argv: string[], timeoutMs = 120_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, RUN_TS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export async function readResult (dir: string): Promise<RunResult> {
  return JSON.parse(await readFile(join(dir, 'result.json'), 'utf8'))
}
