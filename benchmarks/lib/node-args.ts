/**
 * How a Node process that runs this repository's TypeScript directly is
 * started (the harness, its worker and peer-host processes, the fuzzer):
 * type transforms on (the protons-generated store code has namespaces), and
 * V8's WebAssembly tier-up off. Node compiles TypeScript with a WebAssembly
 * build of swc; with tier-up on, a process now and then deadlocked in
 * `process.exit` (main thread and V8 worker thread both in a futex wait:
 * 1 exit in 15–40 on Node 24, hanging a test until its timeout), and with it
 * off none did in 60.
 */
export const TS_NODE_ARGS = ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering']
