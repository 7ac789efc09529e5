/** A payload, body or key of the wrong length was handed to the packet code */
export class PayloadSizeError extends Error {
  static name = 'PayloadSizeError'
  name = 'PayloadSizeError'
  constructor (message = 'Payload of the wrong size') { super(message) }
}

/** A route was asked for with too few or too many hops, or a hop without a usable key */
export class InvalidRouteError extends Error {
  static name = 'InvalidRouteError'
  name = 'InvalidRouteError'
  constructor (message = 'Invalid route') { super(message) }
}

/** Bytes that are not a packet or frame of this protocol */
export class InvalidPacketError extends Error {
  static name = 'InvalidPacketError'
  name = 'InvalidPacketError'
  constructor (message = 'Invalid packet') { super(message) }
}

/** A SURB that cannot be decoded or used */
export class InvalidSurbError extends Error {
  static name = 'InvalidSurbError'
  name = 'InvalidSurbError'
  constructor (message = 'Invalid reply block') { super(message) }
}

/** Not enough relays in the directory to build a route under the constraints */
export class NoRouteError extends Error {
  static name = 'NoRouteError'
  name = 'NoRouteError'
  constructor (message = 'Not enough usable relays for a route') { super(message) }
}

/** The destination is unknown to the directory (no verified descriptor with an onion key) */
export class UnknownDestinationError extends Error {
  static name = 'UnknownDestinationError'
  name = 'UnknownDestinationError'
  constructor (message = 'No verified descriptor for the destination') { super(message) }
}

/** No ack came back through any reply block after every retry */
export class DeliveryFailedError extends Error {
  static name = 'DeliveryFailedError'
  name = 'DeliveryFailedError'
  constructor (message = 'The message was not acknowledged after every retry') { super(message) }
}

/** The onion layer was used before start or after stop */
export class OnionNotStartedError extends Error {
  static name = 'OnionNotStartedError'
  name = 'OnionNotStartedError'
  constructor (message = 'The onion layer is not started') { super(message) }
}

/** A message too large for the fragment limit */
export class MessageTooLargeError extends Error {
  static name = 'MessageTooLargeError'
  name = 'MessageTooLargeError'
  constructor (message = 'Message too large') { super(message) }
}

/** A handler is already registered for this kind */
export class DuplicateHandlerError extends Error {
  static name = 'DuplicateHandlerError'
  name = 'DuplicateHandlerError'
  constructor (message = 'A handler is already registered for this kind') { super(message) }
}

/** No reply block left to answer with */
export class NoSurbError extends Error {
  static name = 'NoSurbError'
  name = 'NoSurbError'
  constructor (message = 'No reply block left') { super(message) }
}

/** The stream to the next hop holds as much unsent data as it may: the packet is dropped, not queued */
export class NextHopCongestedError extends Error {
  static name = 'NextHopCongestedError'
  name = 'NextHopCongestedError'
  constructor (message = 'The next hop does not take packets as fast as they come') { super(message) }
}
