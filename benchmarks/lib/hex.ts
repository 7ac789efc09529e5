export function bytesToHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function hexToBytes (hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) {
    throw new Error(`not a hex string: "${hex.slice(0, 20)}"`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
