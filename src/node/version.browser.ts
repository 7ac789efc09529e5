// A browser cannot read package.json: the bundler writes the version in
// (scripts/build-web.js defines __MURMUR_VERSION__). Replaces version.ts in browser builds.
declare const __MURMUR_VERSION__: string | undefined

export const VERSION: string = typeof __MURMUR_VERSION__ === 'string' ? __MURMUR_VERSION__ : '0.0.0'
