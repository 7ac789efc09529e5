import { readFileSync } from 'node:fs'

/** Murmur's version, read once from package.json (works from src/ and from dist/src/) */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'))
      if (pkg.name === 'murmur') {
        return String(pkg.version)
      }
    } catch {
      // not this layout: try the next one
    }
  }
  return '0.0.0'
})()
