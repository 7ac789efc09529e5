/**
 * Errors raised by the node layer. One class per failure, each with a stable
 * `name` that callers (and the control API) can switch on.
 */

export class InvalidInitError extends Error {
  static name = 'InvalidInitError'
  readonly field: string

  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'InvalidInitError'
    this.field = field
  }
}

export class IdentityError extends Error {
  static name = 'IdentityError'

  constructor (message = 'The peer key could not be read') {
    super(message)
    this.name = 'IdentityError'
  }
}

export class NotStartedError extends Error {
  static name = 'NotStartedError'

  constructor (message = 'The node is not started') {
    super(message)
    this.name = 'NotStartedError'
  }
}

export class InvalidMultiaddrError extends Error {
  static name = 'InvalidMultiaddrError'

  constructor (message = 'Invalid multiaddr') {
    super(message)
    this.name = 'InvalidMultiaddrError'
  }
}

export class PeerNotFoundError extends Error {
  static name = 'PeerNotFoundError'

  constructor (message = 'The peer was not found') {
    super(message)
    this.name = 'PeerNotFoundError'
  }
}
