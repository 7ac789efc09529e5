import { expect } from 'aegir/chai'
import { runCli } from './fixtures.ts'

describe('benchmark CLI', function () {
  this.timeout(60_000)

  it('lists the scenarios, also as JSON', async () => {
    const text = await runCli(['list'])
    expect(text.code).to.equal(0)
    expect(text.stdout).to.include('gossip').and.to.include('scale')

    const json = await runCli(['list', '--json'])
    expect(json.code).to.equal(0)
    const list = JSON.parse(json.stdout) as Array<{ name: string, options: Record<string, unknown> }>
    expect(list.map(s => s.name)).to.include.members(['gossip', 'scale'])
    expect(list.find(s => s.name === 'gossip')?.options).to.have.property('nodes')
  })

  it('prints a scenario\'s options with --help', async () => {
    const res = await runCli(['gossip', '--help'])
    expect(res.code).to.equal(0)
    expect(res.stdout).to.include('--nodes N').and.to.include('--procs').and.to.include('--seed N')
  })

  for (const [argv, message] of [
    [['nope'], 'unknown scenario "nope"'],
    [['gossip', '--nodes', 'abc'], '--nodes must be a number, got "abc"'],
    [['gossip', '--rate', '-1'], '--rate must be at least 0.01'],
    [['gossip', '--topology', 'ring'], '--topology must be one of bootstrap, degree'],
    [['scale', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['gossip', '--seed', '4294967296'], '--seed must be at most 4294967295'],
    [[], 'usage: npm run bench']
  ] as Array<[string[], string]>) {
    it(`exits 2 on: ${argv.join(' ') || '(no arguments)'}`, async () => {
      const res = await runCli(argv)
      expect(res.code).to.equal(2)
      expect(res.stderr + res.stdout).to.include(message)
    })
  }
})
