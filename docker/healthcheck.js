// Docker's HEALTHCHECK: healthy when the control API answers GET /v1/health
// with the token. Reads the API address and token from the home like the CLI.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const home = process.env.MURMUR_HOME ?? '/data'
try {
  const url = readFileSync(join(home, 'api'), 'utf8').trim()
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  const res = await fetch(`${url}/v1/health`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(4000) })
  const body = await res.json()
  process.exit(res.status === 200 && body.ok === true ? 0 : 1)
} catch (err) {
  process.stderr.write(`unhealthy: ${err.message}\n`)
  process.exit(1)
}
