export class IdentityFormatError extends Error {
  static name = 'IdentityFormatError'

  constructor (message = 'Not a Murmur messaging identity') {
    super(message)
    this.name = 'IdentityFormatError'
  }
}

/** A sealed box that is not for this key, or was altered on the way */
export class SealedBoxError extends Error {
  static name = 'SealedBoxError'

  constructor (message = 'The sealed box failed authentication') {
    super(message)
    this.name = 'SealedBoxError'
  }
}
