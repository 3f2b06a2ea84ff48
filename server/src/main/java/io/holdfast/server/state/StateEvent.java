package io.holdfast.server.state;

/**
 * What an applied entry changed, for node-local observers (waiting RPCs, the leader's session
 * clock). Events are side effects of apply, never inputs to it.
 */
public sealed interface StateEvent {
  long index();

  record SessionOpened(long index, long sessionId, long ttlMs) implements StateEvent {}

  record SessionRenewed(long index, long sessionId, long ttlMs) implements StateEvent {}

  record SessionEnded(long index, long sessionId, EndReason reason) implements StateEvent {}

  record LockGranted(long index, String lockName, long sessionId, long token) implements StateEvent {}

  record LockReleased(long index, String lockName, long sessionId, long token, EndReason reason)
      implements StateEvent {}

  /** A key was written ({@code deleted} false) or deleted, at revision {@code index}. */
  /**
   * A put ({@code written}: the entry as this command wrote it, which a later command of the same
   * log entry may overwrite before watchers hear of it) or a delete ({@code written} null).
   */
  record KeyChanged(long index, String key, KvEntry written) implements StateEvent {
    public boolean deleted() {
      return written == null;
    }
  }

  record WaitEnded(long index, String lockName, long sessionId, String requestId, EndReason reason)
      implements StateEvent {}

  enum EndReason {
    /** Released, closed or cancelled by its owner. */
    CLOSED,
    /** The session's TTL ran out. */
    EXPIRED,
    /** A queued acquire's wait ran out. */
    TIMED_OUT,
    /** An operator revoked it, or the lock's max hold time ran out. */
    REVOKED,
    /** An operator ended the session. */
    ADMIN_EXPIRED,
    /** A new session with the same exclusive key replaced it. */
    TAKEN_OVER
  }
}
