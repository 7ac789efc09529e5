import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { createNode, IdentityError } from '../../src/node/index.ts'
import { PEER_KEY_DATASTORE_KEY } from '../../src/node/peer-key-store.ts'

describe('node: the peer key in the datastore (no home, e.g. a browser)', () => {
  it('a node made again on the same datastore has the same peer id; another datastore, another', async () => {
    const datastore = new MemoryDatastore()
    const first = await createNode({ datastore, listen: [] })
    const again = await createNode({ datastore, listen: [] })
    const other = await createNode({ datastore: new MemoryDatastore(), listen: [] })
    expect(again.peerId.equals(first.peerId)).to.be.true()
    expect(other.peerId.equals(first.peerId)).to.be.false()
  })

  it('refuses a stored key that does not decode instead of replacing it', async () => {
    const datastore = new MemoryDatastore()
    await datastore.put(PEER_KEY_DATASTORE_KEY, Uint8Array.from([1, 2, 3]))
    await expect(createNode({ datastore, listen: [] })).to.eventually.be.rejectedWith(IdentityError)
    expect(await datastore.get(PEER_KEY_DATASTORE_KEY)).to.deep.equal(Uint8Array.from([1, 2, 3]))
  })
})
