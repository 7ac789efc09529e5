#!/usr/bin/env node
// Builds the browser side with esbuild (run by `npm run build`):
//   dist/browser/murmur.js  the `murmur/browser` library as one ES module
//   dist/web/               the web chat page the daemon serves with `--web`
// Node-only modules are swapped for their `.browser.ts` twins through the
// `browser` field of package.json; anything Node-only that still reaches the
// bundle fails the build, and the bundle sizes are printed.
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))

/** Packages that only work in Node: reaching one from a browser entry is a build error */
const NODE_ONLY = ['classic-level', '@libp2p/tcp', '@libp2p/mdns', '@libp2p/prometheus-metrics', 'prom-client', 'node-datachannel']

const nodeOnlyGuard = {
  name: 'murmur-node-only-guard',
  setup (build) {
    build.onResolve({ filter: /^node:|^(fs|path|os|net|child_process|crypto|http|https|stream|zlib|dgram|tls)$/ }, (args) => ({
      errors: [{ text: `Node built-in "${args.path}" imported by ${relative(root, args.importer)} would end up in the browser bundle` }]
    }))
    build.onResolve({ filter: new RegExp(`^(${NODE_ONLY.map(p => p.replace('/', '\\/')).join('|')})(/|$)`) }, (args) => ({
      errors: [{ text: `Node-only package "${args.path}" imported by ${relative(root, args.importer)} would end up in the browser bundle` }]
    }))
  }
}

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  mainFields: ['browser', 'module', 'main'],
  conditions: ['browser'],
  define: { global: 'globalThis', 'process.env.NODE_DEBUG': 'false', __MURMUR_VERSION__: JSON.stringify(version) },
  plugins: [nodeOnlyGuard]
}

async function bundle (entry, outfile) {
  const result = await esbuild.build({ ...common, entryPoints: [join(root, entry)], outfile: join(root, outfile) })
  const out = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'))
  const bytes = await readFile(join(root, outfile))
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
  console.info(`web build: ${outfile} ${kib(out[1].bytes)} (gzip ${kib(gzipSync(bytes).length)})`)
}

await bundle('src/browser/index.ts', 'dist/browser/murmur.js')
await bundle('src/web/app.ts', 'dist/web/app.js')
await mkdir(join(root, 'dist/web'), { recursive: true })
for (const file of ['index.html', 'style.css']) {
  await copyFile(join(root, 'src/web', file), join(root, 'dist/web', file))
}
