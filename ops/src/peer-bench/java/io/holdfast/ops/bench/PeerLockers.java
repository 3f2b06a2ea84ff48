package io.holdfast.ops.bench;

/** The lock clients of one peer bench run, one per bench client, closed together. */
interface PeerLockers extends AutoCloseable {
  /** Bench client {@code c}'s locker, with its own session (ZooKeeper) or lease (etcd). */
  PeerLocker get(int c);

  /** Client instances (connections) the lockers are spread over. */
  int connections();

  @Override
  void close();

  /** One bench client: blocking lock and unlock, as the bench loop calls them. */
  interface PeerLocker {
    /** The session or lease id, for the hold history. */
    long sessionId();

    /**
     * Blocks until this client holds {@code name}; returns a fencing token that grows with each
     * holder of that lock (etcd: the lock response's revision; ZooKeeper: the lock node's sequence).
     */
    long lock(String name) throws Exception;

    /** Lets go of the lock taken by the last {@link #lock}. */
    void unlock() throws Exception;
  }

  /** The locker's session or lease is gone: the bench counts it as lost and stops that client. */
  final class SessionLostException extends Exception {
    SessionLostException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
