/**
 * How a Node process that runs this repository's TypeScript directly is
 * started (the harness, its worker and peer-host processes, the fuzzer):
 * Node's own type stripping (no type transforms: every file, the generated
 * protobuf codecs included, is erasable TypeScript, which `erasableSyntaxOnly`
 * keeps so), and V8's WebAssembly tier-up off. Node compiles TypeScript with a WebAssembly
 * build of swc; with tier-up on, a process now and then deadlocked in
 * `process.exit` (main thread and V8 worker thread both in a futex wait:
 * 1 exit in 15–40 on Node 24, hanging a test until its timeout), and with it
 * off none did in 60.
 */
export const TS_NODE_ARGS = ['--disable-warning=ExperimentalWarning', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering']
