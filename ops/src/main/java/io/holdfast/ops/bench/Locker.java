package io.holdfast.ops.bench;

/**
 * One bench client of a lock service, as the closed loop drives it: a blocking lock that returns
 * the grant's fencing token, and an unlock. Holdfast's client and the peers' (etcd, ZooKeeper)
 * each have one, so every system is measured by the same loop.
 */
interface Locker {
  /** The session or lease id, for the hold history. */
  long sessionId();

  /** Blocks until this client holds {@code name}; returns a token that grows with each holder. */
  long lock(String name) throws Exception;

  /**
   * Lets go of the lock taken by the last {@link #lock}.
   *
   * @throws LostException if the service says the lock was no longer held: a safety failure in a
   *     closed loop whose session is alive
   */
  void unlock() throws Exception;

  /** The lock was gone when its holder let go of it. */
  final class LostException extends Exception {
    LostException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The locker's session or lease is gone: the loop counts it as lost and stops that client. */
  final class SessionLostException extends Exception {
    SessionLostException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
