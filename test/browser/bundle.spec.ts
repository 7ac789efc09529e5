/**
 * The browser bundles hold no Node-only code: the build fails on a Node
 * built-in or a Node-only package (scripts/build-web.js), and the source maps
 * show the browser twins of the swapped modules. Runs without a browser.
 */

import { readFile } from 'node:fs/promises'
import { expect } from 'aegir/chai'
import { buildWebPage } from '../fixtures/browser.ts'

const DIST = new URL('../../dist/', import.meta.url)

describe('browser bundle', function () {
  this.timeout(120_000)

  before(() => {
    buildWebPage()
  })

  for (const bundle of ['browser/murmur.js', 'web/app.js']) {
    it(`${bundle} uses the browser twins and no Node-only module`, async () => {
      const map = JSON.parse(await readFile(new URL(`${bundle}.map`, DIST), 'utf8'))
      const sources: string[] = map.sources
      for (const twin of ['src/node/platform.browser.ts', 'src/node/version.browser.ts', 'src/identity/home-file.browser.ts']) {
        expect(sources.some(s => s.endsWith(twin)), twin).to.be.true()
      }
      for (const nodeOnly of ['src/node/platform.ts', 'src/node/version.ts', 'src/node/identity.ts', 'src/identity/home-file.ts', 'classic-level', '@libp2p/tcp', '@libp2p/mdns', '@libp2p/prometheus-metrics', 'prom-client']) {
        expect(sources.filter(s => s.endsWith(nodeOnly) || s.includes(`/${nodeOnly}/`)), nodeOnly).to.be.empty()
      }
    })
  }
})
