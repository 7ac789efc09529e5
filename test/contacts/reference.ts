/**
 * A second, plain implementation of X3DH and the Double Ratchet, written
 * straight from Signal's pseudocode with node:crypto only (no noble): HKDF,
 * HMAC, X25519 and ChaCha20-Poly1305 from OpenSSL. No copying of state, no
 * wiping, no persistence: it exists to agree (or disagree) with
 * `src/contacts/` on the same fixed inputs.
 */
import crypto from 'node:crypto'

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex')

export function refPublic (secret: Uint8Array): Uint8Array {
  const priv = crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: 'der', type: 'pkcs8' })
  return new Uint8Array(crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32))
}

export function refDh (secret: Uint8Array, pub: Uint8Array): Uint8Array {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: 'der', type: 'pkcs8' })
  const publicKey = crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI, pub]), format: 'der', type: 'spki' })
  return new Uint8Array(crypto.diffieHellman({ privateKey, publicKey }))
}

function hkdf (ikm: Uint8Array, salt: Uint8Array, info: string, len: number): Uint8Array {
  return new Uint8Array(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), len))
}

function hmac (key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHmac('sha256', key).update(data).digest())
}

export function refKdfRk (rk: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(dhOut, rk, 'murmur/ratchet/root/v1', 64)
  return [out.slice(0, 32), out.slice(32)]
}

export function refKdfCk (ck: Uint8Array): [Uint8Array, Uint8Array] {
  return [hmac(ck, Uint8Array.of(0x02)), hmac(ck, Uint8Array.of(0x01))]
}

function aeadKeys (mk: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(mk, new Uint8Array(32), 'murmur/ratchet/message/v1', 44)
  return [out.slice(0, 32), out.slice(32)]
}

function encrypt (mk: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array {
  const [key, nonce] = aeadKeys(mk)
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: pt.length })
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]))
}

function decrypt (mk: Uint8Array, ct: Uint8Array, ad: Uint8Array): Uint8Array {
  const [key, nonce] = aeadKeys(mk)
  const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  d.setAAD(ad, { plaintextLength: ct.length - 16 })
  d.setAuthTag(ct.subarray(ct.length - 16))
  return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]))
}

/** X3DH §3.3: SK = HKDF(F ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4]) */
export function refX3dh (dhs: Uint8Array[]): Uint8Array {
  return hkdf(Buffer.concat([Buffer.alloc(32, 0xff), ...dhs]), new Uint8Array(32), 'murmur/x3dh/v1', 32)
}

function header (dh: Uint8Array, pn: number, n: number): Uint8Array {
  const h = Buffer.alloc(40)
  Buffer.from(dh).copy(h, 0)
  h.writeUInt32BE(pn, 32)
  h.writeUInt32BE(n, 36)
  return new Uint8Array(h)
}

/** The state object of the Double Ratchet specification, §3.2, and its functions, §3.3–3.5 */
export class RefRatchet {
  DHs!: { sk: Uint8Array, pk: Uint8Array }
  DHr: Uint8Array | null = null
  RK!: Uint8Array
  CKs: Uint8Array | null = null
  CKr: Uint8Array | null = null
  Ns = 0
  Nr = 0
  PN = 0
  MKSKIPPED = new Map<string, Uint8Array>()
  AD: Uint8Array
  private readonly secrets: Uint8Array[]

  constructor (ad: Uint8Array, ratchetSecrets: Uint8Array[]) {
    this.AD = ad
    this.secrets = [...ratchetSecrets]
  }

  private GENERATE_DH (): { sk: Uint8Array, pk: Uint8Array } {
    const sk = this.secrets.shift()
    if (sk == null) {
      throw new Error('reference ran out of fixed ratchet keys')
    }
    return { sk, pk: refPublic(sk) }
  }

  static initAlice (SK: Uint8Array, bobPub: Uint8Array, ad: Uint8Array, secrets: Uint8Array[]): RefRatchet {
    const s = new RefRatchet(ad, secrets)
    s.DHs = s.GENERATE_DH()
    s.DHr = bobPub
    ;[s.RK, s.CKs] = refKdfRk(SK, refDh(s.DHs.sk, s.DHr))
    return s
  }

  static initBob (SK: Uint8Array, bobSecret: Uint8Array, ad: Uint8Array, secrets: Uint8Array[]): RefRatchet {
    const s = new RefRatchet(ad, secrets)
    s.DHs = { sk: bobSecret, pk: refPublic(bobSecret) }
    s.RK = SK
    return s
  }

  encrypt (plaintext: Uint8Array): { header: Uint8Array, ciphertext: Uint8Array } {
    let mk: Uint8Array
    ;[this.CKs, mk] = refKdfCk(this.CKs as Uint8Array)
    const h = header(this.DHs.pk, this.PN, this.Ns)
    this.Ns += 1
    return { header: h, ciphertext: encrypt(mk, plaintext, Buffer.concat([this.AD, h])) }
  }

  decrypt (h: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const dh = h.slice(0, 32)
    const pn = Buffer.from(h).readUInt32BE(32)
    const n = Buffer.from(h).readUInt32BE(36)
    const ad = Buffer.concat([this.AD, h])
    const id = Buffer.from(dh).toString('hex') + ':' + n
    const skipped = this.MKSKIPPED.get(id)
    if (skipped != null) {
      this.MKSKIPPED.delete(id)
      return decrypt(skipped, ciphertext, ad)
    }
    if (this.DHr == null || Buffer.compare(dh, this.DHr) !== 0) {
      this.skip(pn)
      this.PN = this.Ns
      this.Ns = 0
      this.Nr = 0
      this.DHr = dh
      ;[this.RK, this.CKr] = refKdfRk(this.RK, refDh(this.DHs.sk, this.DHr))
      this.DHs = this.GENERATE_DH()
      ;[this.RK, this.CKs] = refKdfRk(this.RK, refDh(this.DHs.sk, this.DHr))
    }
    this.skip(n)
    let mk: Uint8Array
    ;[this.CKr, mk] = refKdfCk(this.CKr as Uint8Array)
    this.Nr += 1
    return decrypt(mk, ciphertext, ad)
  }

  private skip (until: number): void {
    if (this.CKr != null) {
      while (this.Nr < until) {
        let mk: Uint8Array
        ;[this.CKr, mk] = refKdfCk(this.CKr)
        this.MKSKIPPED.set(Buffer.from(this.DHr as Uint8Array).toString('hex') + ':' + this.Nr, mk)
        this.Nr += 1
      }
    }
  }
}
