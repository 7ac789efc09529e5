import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { runCli } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'

const SCRIPT = fileURLToPath(new URL('../../scripts/testnet.js', import.meta.url))

describe('scripts/testnet', function () {
  this.timeout(90_000)

  it('starts N daemons on loopback that find each other, and Ctrl-C stops them all and cleans up', async () => {
    const child = spawn(process.execPath, [SCRIPT, '--nodes', '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += String(d) })
    child.stderr.on('data', (d) => { out += String(d) })
    const exited = new Promise<number | null>(resolve => child.on('exit', resolve))
    try {
      await waitFor(() => out.includes('Ctrl-C stops them all'), `the testnet to start (output: ${out})`, 60_000)
      const homes = [...out.matchAll(/ api \S+ {2}home (\S+)/g)].map(m => m[1])
      expect(homes).to.have.length(3)
      // the last node knows only the bootstrap; it still reaches the other one through the DHT
      await waitFor(async () => {
        const res = await runCli(['status', '--home', homes[2], '--json'])
        return res.code === 0 && JSON.parse(res.stdout).routingTable >= 2
      }, 'node2 to have both other nodes in its routing table', 30_000, 500)
      child.kill('SIGINT')
      expect(await exited).to.equal(0)
      for (const home of homes) {
        await expect(stat(home)).to.eventually.be.rejected.with.property('code', 'ENOENT')
      }
    } finally {
      // on failure, let the script stop its daemons (they run in process groups of their own)
      if (child.exitCode == null) {
        child.kill('SIGINT')
        await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 20_000))])
        child.kill('SIGKILL')
      }
    }
  })

  it('refuses a bad --nodes with exit 2', async () => {
    const child = spawn(process.execPath, [SCRIPT, '--nodes', 'many'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => { err += String(d) })
    expect(await new Promise(resolve => child.on('exit', resolve))).to.equal(2)
    expect(err).to.include('--nodes must be an integer')
  })
})
