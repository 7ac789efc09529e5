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

/** A home directory was given where there is no file system (a browser) */
export class IdentityHomeError extends Error {
  static name = 'IdentityHomeError'

  constructor (home: string) {
    super(`A browser has no home directory ("${home}"): keep the identity in a datastore instead`)
    this.name = 'IdentityHomeError'
  }
}
