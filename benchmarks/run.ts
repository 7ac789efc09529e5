/**
 * Entry of `npm run bench -- <scenario> [options]` (see README.md). Node 24
 * runs this TypeScript file directly (type stripping).
 */

import { main } from './lib/main.ts'

const code = await main(process.argv.slice(2))
// libp2p leaves timers behind for a while after stop; the run is over
process.exit(code)
