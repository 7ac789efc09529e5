import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { decodeSigned, encodeSigned } from '../../src/directory/codec.ts'
import { RelayDirectory, descriptorKey, descriptorSelector, descriptorValidator, directoryDhtInit, signDescriptor, verifyDescriptor } from '../../src/directory/index.ts'
import { loopbackNode, stopAll, waitFor } from '../fixtures/nodes.ts'
import type { DescriptorFields } from '../../src/directory/index.ts'
import type { MurmurNode } from '../../src/node/index.ts'
import type { PrivateKey } from '@libp2p/interface'

function fields (over: Partial<DescriptorFields> = {}): DescriptorFields {
  const now = Date.now()
  return { onionKey: new Uint8Array(32).fill(9), epoch: 7, notBefore: now, notAfter: now + 60_000, roles: ['relay'], load: 3, addrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')], ...over }
}

async function rejects (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err: any) {
    return err.name
  }
  throw new Error('expected a rejection')
}

describe('directory', function () {
  this.timeout(60_000)

  describe('descriptors', () => {
    it('signs and verifies a descriptor', async () => {
      const key = await generateKeyPair('Ed25519')
      const d = await verifyDescriptor(await signDescriptor(key, fields()))
      expect(d.peerId.equals(peerIdFromPrivateKey(key))).to.equal(true)
      expect(d.epoch).to.equal(7)
      expect(d.roles).to.deep.equal(['relay'])
      expect(d.addrs.map(String)).to.deep.equal(['/ip4/127.0.0.1/tcp/4001'])
    })

    it('refuses a descriptor whose signature does not verify', async () => {
      const key = await generateKeyPair('Ed25519')
      const bytes = await signDescriptor(key, fields())
      // flip a byte of the onion key inside the signed descriptor: the bytes still decode, the signature no longer covers them
      const bad = bytes.slice()
      bad[Buffer.from(bytes).indexOf(Buffer.from(new Uint8Array(32).fill(9))) + 5] ^= 1
      expect(await rejects(verifyDescriptor(bad))).to.equal('BadDescriptorSignatureError')
    })

    it('verifies over the exact signed bytes: a field unknown to this build, signed along, verifies; unsigned bytes added do not', async () => {
      const key = await generateKeyPair('Ed25519')
      const { descriptor, signature } = decodeSigned(await signDescriptor(key, fields()))
      // field 15, varint 1: what a later version might add
      const extended = Uint8Array.from([...descriptor, 15 << 3, 1])
      const context = new TextEncoder().encode('murmur/relay-descriptor/2')
      const resigned = await key.sign(Uint8Array.from([...context, ...extended]))
      const d = await verifyDescriptor(encodeSigned(extended, resigned))
      expect(d.epoch).to.equal(7)
      expect(d.onionKey).to.deep.equal(new Uint8Array(32).fill(9))
      // the same fields, but bytes the signature does not cover: a verifier that re-encoded what it decoded would accept this
      expect(await rejects(verifyDescriptor(encodeSigned(extended, signature)))).to.equal('BadDescriptorSignatureError')
    })

    it('refuses an expired descriptor and one not yet valid', async () => {
      const key = await generateKeyPair('Ed25519')
      const now = Date.now()
      expect(await rejects(verifyDescriptor(await signDescriptor(key, fields({ notBefore: now - 120_000, notAfter: now - 1 }))))).to.equal('ExpiredDescriptorError')
      expect(await rejects(verifyDescriptor(await signDescriptor(key, fields({ notBefore: now + 3_600_000, notAfter: now + 7_200_000 }))))).to.equal('ExpiredDescriptorError')
    })

    it('the DHT validator refuses a descriptor stored under another peer key; the selector picks the latest epoch', async () => {
      const a = await generateKeyPair('Ed25519')
      const b = await generateKeyPair('Ed25519')
      const older = await signDescriptor(a, fields({ epoch: 1 }))
      const newer = await signDescriptor(a, fields({ epoch: 2 }))
      await descriptorValidator(descriptorKey(peerIdFromPrivateKey(a)), newer)
      expect(await rejects(Promise.resolve().then(async () => descriptorValidator(descriptorKey(peerIdFromPrivateKey(b)), newer)))).to.equal('Error')
      expect(await descriptorSelector(descriptorKey(peerIdFromPrivateKey(a)), [older, new Uint8Array(3), newer])).to.equal(2)
    })

    it('fuzz: random and mutated descriptor bytes fail with a clear error, never anything else', async () => {
      const key = await generateKeyPair('Ed25519')
      const good = await signDescriptor(key, fields())
      const names = new Set(['InvalidDescriptorError', 'BadDescriptorSignatureError', 'ExpiredDescriptorError'])
      await fc.assert(fc.asyncProperty(fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, m]) => { const b = good.slice(); b[i] ^= m; return b }),
        fc.integer({ min: 0, max: good.length - 1 }).map(n => good.slice(0, n))
      ), async bytes => {
        try {
          await verifyDescriptor(bytes)
        } catch (err: any) {
          expect(names.has(err.name), err.name).to.equal(true)
        }
      }), { seed: 17, numRuns: 300 })
    })
  })

  describe('RelayDirectory on two nodes', () => {
    const nodes: MurmurNode[] = []
    const dirs: RelayDirectory[] = []
    let keys: PrivateKey[] = []

    before(async () => {
      keys = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
      for (const privateKey of keys) {
        const node = await loopbackNode({ privateKey, ...directoryDhtInit() })
        nodes.push(node)
        const dir = new RelayDirectory({ node, privateKey }, { republishOnSubscribeMs: 200 })
        await dir.start()
        dirs.push(dir)
      }
      await nodes[1].connect(nodes[0].getMultiaddrs()[0])
    })

    after(async () => {
      for (const d of dirs) { await d.stop() }
      await stopAll(nodes)
    })

    it('learns a relay from the directory topic and from the DHT; refuses bad bytes', async () => {
      await dirs[0].setLocal({ onionKey: new Uint8Array(32).fill(1), epoch: 5, notAfter: Date.now() + 60_000, roles: ['relay'], load: 0 })
      await waitFor(() => dirs[1].get(nodes[0].peerId) != null, 'the descriptor to arrive on the topic', 20_000)
      expect(dirs[1].get(nodes[0].peerId)?.epoch).to.equal(5)
      const bad = (await signDescriptor(keys[1], fields())).slice()
      bad[bad.length - 1] ^= 1
      expect(await rejects(dirs[1].add(bad))).to.equal('BadDescriptorSignatureError')
      // node 1 publishes and node 0 finds it through the DHT without the topic
      await dirs[1].setLocal({ onionKey: new Uint8Array(32).fill(2), epoch: 5, notAfter: Date.now() + 60_000, roles: [], load: 0 })
      // a directory that never heard the topic (not started) finds it through the DHT
      const fresh = new RelayDirectory({ node: nodes[0], privateKey: keys[0] })
      let found: number | undefined
      await waitFor(async () => {
        found = (await fresh.lookup(nodes[1].peerId, { signal: AbortSignal.timeout(3_000) }))?.epoch
        return found === 5
      }, 'the descriptor in the DHT', 30_000, 500)
    })

    it('a newer epoch replaces an older one, never the reverse, and expired ones are pruned', async () => {
      const key = await generateKeyPair('Ed25519')
      const now = Date.now()
      await dirs[1].add(await signDescriptor(key, fields({ epoch: 10, notAfter: now + 500 })))
      await dirs[1].add(await signDescriptor(key, fields({ epoch: 9 })))
      const id = peerIdFromPrivateKey(key)
      expect(dirs[1].get(id)?.epoch).to.equal(10)
      expect(dirs[1].get(id, now + 1_000)).to.equal(undefined)
      dirs[1].prune(now + 1_000)
      expect(dirs[1].descriptors(now).some(d => d.peerId.equals(id))).to.equal(false)
    })
  })
})
