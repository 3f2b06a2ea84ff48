package io.holdfast.server.state;

/**
 * The closed set of failures the state machine and the front door report. Names match
 * {@code holdfast.v1.ErrorCode} one to one, so the API layer maps them by name.
 */
public enum ErrorCode {
  NOT_LEADER,
  NO_LEADER,
  SESSION_NOT_FOUND,
  SESSION_EXPIRED,
  NOT_HOLDER,
  STALE_TOKEN,
  INVALID_ARGUMENT,
  LOCK_NOT_FOUND,
  WAIT_NOT_FOUND,
  REQUEST_ID_REUSED,
  PERMISSION_DENIED,
  RESOURCE_EXHAUSTED,
  TIMEOUT,
  INTERNAL,
  REVISION_MISMATCH,
  /** The leader's queue for the log is full: nothing was logged, retry after a backoff. */
  BUSY
}
