/**
 * Errors raised by the groups layer. One class per failure, each with a stable
 * `name` that callers (and the control API) can switch on.
 */

export class GroupNotFoundError extends Error {
  static name = 'GroupNotFoundError'

  constructor (message = 'No such group') {
    super(message)
    this.name = 'GroupNotFoundError'
  }
}

export class MessageNotFoundError extends Error {
  static name = 'MessageNotFoundError'

  constructor (message = 'No such message in this group') {
    super(message)
    this.name = 'MessageNotFoundError'
  }
}

/** An invite code that cannot be parsed or carries impossible values */
export class InvalidInviteError extends Error {
  static name = 'InvalidInviteError'

  constructor (message = 'Not a Murmur group invite') {
    super(message)
    this.name = 'InvalidInviteError'
  }
}

/** Bytes that are not a well-formed group envelope */
export class MalformedEnvelopeError extends Error {
  static name = 'MalformedEnvelopeError'

  constructor (message = 'Malformed group envelope') {
    super(message)
    this.name = 'MalformedEnvelopeError'
  }
}

/** A caller's argument that the groups API refuses (empty content, bad channel, …) */
export class InvalidGroupArgumentError extends Error {
  static name = 'InvalidGroupArgumentError'

  constructor (message = 'Invalid argument') {
    super(message)
    this.name = 'InvalidGroupArgumentError'
  }
}

/** Only an admin may do this (remove a member) */
export class NotGroupAdminError extends Error {
  static name = 'NotGroupAdminError'

  constructor (message = 'Only a group admin may do this') {
    super(message)
    this.name = 'NotGroupAdminError'
  }
}

/** Only the author of a message may edit or delete it */
export class NotMessageAuthorError extends Error {
  static name = 'NotMessageAuthorError'

  constructor (message = 'Only the author of a message may edit or delete it') {
    super(message)
    this.name = 'NotMessageAuthorError'
  }
}

/** The envelope would exceed the size limit every member enforces */
export class EnvelopeTooLargeError extends Error {
  static name = 'EnvelopeTooLargeError'

  constructor (message = 'The message is too large for a group envelope') {
    super(message)
    this.name = 'EnvelopeTooLargeError'
  }
}

export class GroupsNotStartedError extends Error {
  static name = 'GroupsNotStartedError'

  constructor (message = 'The groups layer is not started') {
    super(message)
    this.name = 'GroupsNotStartedError'
  }
}

/** `anonymous: true` asked for, but this peer has no way to publish through an onion exit */
export class AnonymousPublishUnavailableError extends Error {
  static name = 'AnonymousPublishUnavailableError'

  constructor (message = 'This peer cannot publish anonymously (no onion route to an exit)') {
    super(message)
    this.name = 'AnonymousPublishUnavailableError'
  }
}

/** An exit that is a member refuses to publish an envelope its members would reject */
export class EnvelopeRejectedError extends Error {
  static name = 'EnvelopeRejectedError'

  constructor (message = 'The envelope is not valid for this group') {
    super(message)
    this.name = 'EnvelopeRejectedError'
  }
}
