#!/usr/bin/env node
// The `murmur` binary. All logic lives in src/daemon/cli.ts (built to dist/).
//
// libp2p 3 needs Node >= 22. In a checkout, `npm ci` puts Node 24 at
// node_modules/.bin/node (the `node` devDependency); when this file is started
// by an older system Node, it hands itself over to that one.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const major = Number(process.versions.node.split('.')[0])

if (major < 22) {
  const pinned = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url))
  if (!existsSync(pinned)) {
    process.stderr.write(`murmur: Node >= 22 is required (this is ${process.version}); run \`npm ci\` in the checkout, or install a newer Node\n`)
    process.exit(2)
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  // the child gets Ctrl-C from the terminal itself; forward what a supervisor sends
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => { child.kill(signal) })
  }
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal != null ? 128 : 1))
  })
} else {
  const { main } = await import('../dist/src/daemon/cli.js')
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signals: process
  })
}
