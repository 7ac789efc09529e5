/** Bytes that are not a signed relay descriptor */
export class InvalidDescriptorError extends Error {
  static name = 'InvalidDescriptorError'
  name = 'InvalidDescriptorError'
  constructor (message = 'Invalid relay descriptor') { super(message) }
}

/** A descriptor whose signature does not verify under its peer key */
export class BadDescriptorSignatureError extends Error {
  static name = 'BadDescriptorSignatureError'
  name = 'BadDescriptorSignatureError'
  constructor (message = 'Relay descriptor signature does not verify') { super(message) }
}

/** A descriptor past its not-after time, or not yet valid */
export class ExpiredDescriptorError extends Error {
  static name = 'ExpiredDescriptorError'
  name = 'ExpiredDescriptorError'
  constructor (message = 'Relay descriptor expired or not yet valid') { super(message) }
}
