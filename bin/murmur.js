#!/usr/bin/env node
// The `murmur` binary: all logic lives in src/daemon/cli.ts (built to dist/)
import { main } from '../dist/src/daemon/cli.js'

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signals: process
})
