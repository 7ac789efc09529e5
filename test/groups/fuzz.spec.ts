import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { decodeBody, decodeEnvelope } from '../../src/groups/codec.ts'
import { encodeInvite, InvalidInviteError, MalformedEnvelopeError, parseInvite } from '../../src/groups/index.ts'
import { MessagingIdentity } from '../../src/identity/index.ts'

const FUZZ = { seed: 4242, numRuns: 2000 }

describe('group wire decoders under fuzzing', () => {
  it('decodeEnvelope answers an envelope or a MalformedEnvelopeError, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        const env = decodeEnvelope(bytes)
        expect(env.nonce).to.have.length(24)
      } catch (err) {
        expect(err).to.be.instanceOf(MalformedEnvelopeError)
      }
    }), FUZZ)
  })

  it('decodeBody answers a checked body or a MalformedEnvelopeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        decodeBody(bytes)
      } catch (err) {
        expect(err).to.be.instanceOf(MalformedEnvelopeError)
      }
    }), FUZZ)
  })

  it('parseInvite answers an invite or an InvalidInviteError, for any string and any corruption of a real code', () => {
    const admin = MessagingIdentity.generate()
    const code = encodeInvite({ groupId: 'ab'.repeat(32), name: 'ops', epoch: 3, epochKey: new Uint8Array(32).fill(9), admin: admin.publicIdentity, adminName: 'alice' })
    const parsed = parseInvite(code)
    expect(parsed).to.include({ groupId: 'ab'.repeat(32), name: 'ops', epoch: 3, adminName: 'alice' })
    expect(parsed.admin.signingKey).to.deep.equal(admin.publicIdentity.signingKey)

    const check = (text: string): void => {
      try {
        parseInvite(text)
      } catch (err) {
        expect(err).to.be.instanceOf(InvalidInviteError)
      }
    }
    fc.assert(fc.property(fc.string({ maxLength: 300 }), check), FUZZ)
    fc.assert(fc.property(fc.nat({ max: code.length - 1 }), fc.integer({ min: 0, max: 127 }), (at, ch) => {
      check(code.slice(0, at) + String.fromCharCode(ch) + code.slice(at + 1))
    }), FUZZ)
    fc.assert(fc.property(fc.nat({ max: code.length }), (at) => { check(code.slice(0, at)) }), FUZZ)
  })
})
