/** One class per failure of the contacts layer; the control API maps them to statuses by `name` */

export class ContactCardError extends Error {
  static name = 'ContactCardError'

  constructor (message = 'Not a valid contact card') {
    super(message)
    this.name = 'ContactCardError'
  }
}

export class PrekeyBundleError extends Error {
  static name = 'PrekeyBundleError'

  constructor (message = 'The prekey bundle is not valid') {
    super(message)
    this.name = 'PrekeyBundleError'
  }
}

export class PrekeyBundleNotFoundError extends Error {
  static name = 'PrekeyBundleNotFoundError'

  constructor (message = 'No prekey bundle could be found for this contact') {
    super(message)
    this.name = 'PrekeyBundleNotFoundError'
  }
}

/** The initiator named a one-time or signed prekey this side does not hold (already used, or rotated out) */
export class UnknownPrekeyError extends Error {
  static name = 'UnknownPrekeyError'

  constructor (message = 'The message names a prekey this identity does not hold') {
    super(message)
    this.name = 'UnknownPrekeyError'
  }
}

/** A message that does not decrypt: tampered ciphertext or header, or the wrong session */
export class DecryptionError extends Error {
  static name = 'DecryptionError'

  constructor (message = 'The message does not decrypt in this session (tampered or foreign)') {
    super(message)
    this.name = 'DecryptionError'
  }
}

/** The message would need more skipped message keys than MAX_SKIP allows */
export class TooManySkippedMessagesError extends Error {
  static name = 'TooManySkippedMessagesError'

  constructor (message = 'Too many messages skipped in this chain') {
    super(message)
    this.name = 'TooManySkippedMessagesError'
  }
}

/** The message key is already used and wiped: a replay or a duplicate delivery */
export class DuplicateMessageError extends Error {
  static name = 'DuplicateMessageError'

  constructor (message = 'This message was already decrypted; its key is gone') {
    super(message)
    this.name = 'DuplicateMessageError'
  }
}

export class EnvelopeFormatError extends Error {
  static name = 'EnvelopeFormatError'

  constructor (message = 'Not a valid direct-message envelope') {
    super(message)
    this.name = 'EnvelopeFormatError'
  }
}

export class MessageFormatError extends Error {
  static name = 'MessageFormatError'

  constructor (message = 'Not a valid direct message') {
    super(message)
    this.name = 'MessageFormatError'
  }
}

export class ContactNotFoundError extends Error {
  static name = 'ContactNotFoundError'

  constructor (message = 'No such contact') {
    super(message)
    this.name = 'ContactNotFoundError'
  }
}

/** A card of this identity itself */
export class SelfContactError extends Error {
  static name = 'SelfContactError'

  constructor (message = 'That card is this identity\'s own') {
    super(message)
    this.name = 'SelfContactError'
  }
}

/** Neither the live nor the mailbox transport could take the message */
export class DeliveryError extends Error {
  static name = 'DeliveryError'

  constructor (message = 'The message could not be delivered') {
    super(message)
    this.name = 'DeliveryError'
  }
}

export class MessageNotFoundError extends Error {
  static name = 'MessageNotFoundError'

  constructor (message = 'No such message') {
    super(message)
    this.name = 'MessageNotFoundError'
  }
}
