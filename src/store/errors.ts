/**
 * Errors of the store layer. One class per failure; each carries the wire
 * status it travels as, so that a client sees the same error the store node
 * raised.
 */

import { StoreResponse } from './store.ts'

export abstract class StoreError extends Error {
  abstract readonly status: StoreResponse.Status
}

export class StoreRequestError extends StoreError {
  static name = 'StoreRequestError'
  readonly status = StoreResponse.Status.BAD_REQUEST

  constructor (message = 'The store request is malformed') {
    super(message)
    this.name = 'StoreRequestError'
  }
}

export class StoreMessageTooLargeError extends StoreError {
  static name = 'StoreMessageTooLargeError'
  readonly status = StoreResponse.Status.TOO_LARGE

  constructor (message = 'The store message is too large') {
    super(message)
    this.name = 'StoreMessageTooLargeError'
  }
}

export class MailboxProofRequiredError extends StoreError {
  static name = 'MailboxProofRequiredError'
  readonly status = StoreResponse.Status.UNAUTHORIZED

  constructor (message = 'A signature with the mailbox key over a fresh challenge is required') {
    super(message)
    this.name = 'MailboxProofRequiredError'
  }
}

export class StaleChallengeError extends StoreError {
  static name = 'StaleChallengeError'
  readonly status = StoreResponse.Status.STALE_CHALLENGE

  constructor (message = 'The challenge is unknown or expired: ask for a fresh one') {
    super(message)
    this.name = 'StaleChallengeError'
  }
}

export class WrongMailboxError extends StoreError {
  static name = 'WrongMailboxError'
  readonly status = StoreResponse.Status.WRONG_MAILBOX

  constructor (message = 'The key does not name this mailbox') {
    super(message)
    this.name = 'WrongMailboxError'
  }
}

export class MailboxQuotaError extends StoreError {
  static name = 'MailboxQuotaError'
  readonly status = StoreResponse.Status.QUOTA_EXCEEDED

  constructor (message = 'The mailbox is over its quota') {
    super(message)
    this.name = 'MailboxQuotaError'
  }
}

export class DepositRateLimitError extends StoreError {
  static name = 'DepositRateLimitError'
  readonly status = StoreResponse.Status.RATE_LIMITED

  constructor (message = 'Too many deposits from this peer: slow down') {
    super(message)
    this.name = 'DepositRateLimitError'
  }
}

/** The peer went on depositing through its rate errors: its store streams are refused for a while */
export class PeerCutOffError extends StoreError {
  static name = 'PeerCutOffError'
  readonly status = StoreResponse.Status.RATE_LIMITED

  constructor (message = 'This peer ignored the rate limit and is cut off for a while') {
    super(message)
    this.name = 'PeerCutOffError'
  }
}

/** The peer already holds as many store streams as one peer may */
export class TooManyStoreStreamsError extends StoreError {
  static name = 'TooManyStoreStreamsError'
  readonly status = StoreResponse.Status.RATE_LIMITED

  constructor (message = 'Too many store streams from this peer') {
    super(message)
    this.name = 'TooManyStoreStreamsError'
  }
}

export class StorageFullError extends StoreError {
  static name = 'StorageFullError'
  readonly status = StoreResponse.Status.STORAGE_FULL

  constructor (message = 'The store node is full') {
    super(message)
    this.name = 'StorageFullError'
  }
}

export class NotServingError extends StoreError {
  static name = 'NotServingError'
  readonly status = StoreResponse.Status.NOT_SERVING

  constructor (message = 'This node does not serve that request') {
    super(message)
    this.name = 'NotServingError'
  }
}

export class StoreInternalError extends StoreError {
  static name = 'StoreInternalError'
  readonly status = StoreResponse.Status.INTERNAL

  constructor (message = 'The store node failed') {
    super(message)
    this.name = 'StoreInternalError'
  }
}

/** A PUBLISH whose record its namespace's validator refused (forged, misfiled), or whose namespace this node does not keep */
export class RecordRejectedError extends StoreError {
  static name = 'RecordRejectedError'
  readonly status = StoreResponse.Status.INVALID_RECORD

  constructor (message = 'The store node refused the record') {
    super(message)
    this.name = 'RecordRejectedError'
  }
}

/** No responsible store node could be reached, or too few acknowledged */
export class NoStoreNodesError extends Error {
  static name = 'NoStoreNodesError'

  constructor (message = 'No store node could be reached') {
    super(message)
    this.name = 'NoStoreNodesError'
  }
}

export class QuorumNotReachedError extends Error {
  static name = 'QuorumNotReachedError'
  readonly errors: Error[]

  constructor (message: string, errors: Error[] = []) {
    super(message)
    this.name = 'QuorumNotReachedError'
    this.errors = errors
  }
}

const BY_STATUS: Partial<Record<StoreResponse.Status, new (message?: string) => StoreError>> = {
  [StoreResponse.Status.BAD_REQUEST]: StoreRequestError,
  [StoreResponse.Status.TOO_LARGE]: StoreMessageTooLargeError,
  [StoreResponse.Status.UNAUTHORIZED]: MailboxProofRequiredError,
  [StoreResponse.Status.STALE_CHALLENGE]: StaleChallengeError,
  [StoreResponse.Status.WRONG_MAILBOX]: WrongMailboxError,
  [StoreResponse.Status.QUOTA_EXCEEDED]: MailboxQuotaError,
  [StoreResponse.Status.RATE_LIMITED]: DepositRateLimitError,
  [StoreResponse.Status.STORAGE_FULL]: StorageFullError,
  [StoreResponse.Status.NOT_SERVING]: NotServingError,
  [StoreResponse.Status.INTERNAL]: StoreInternalError,
  [StoreResponse.Status.INVALID_RECORD]: RecordRejectedError
}

/** The error a non-OK response stands for */
export function errorFromResponse (status: StoreResponse.Status, message: string): StoreError {
  const ErrorClass = BY_STATUS[status] ?? StoreInternalError
  return new ErrorClass(message !== '' ? message : undefined)
}
