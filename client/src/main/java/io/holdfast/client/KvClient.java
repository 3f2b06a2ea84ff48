package io.holdfast.client;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The cluster's fenced key-value store, for config-sized values (1 MiB by default). Each key has a
 * revision, the revision of its last write (numbered like fencing tokens). Reads are linearizable. Obtained from
 * {@link HoldfastClient#kv()}.
 *
 * <p>The config-file pattern: the holder of a lock writes with its lease, so the store itself
 * refuses the write once the lock has moved on.
 *
 * <pre>{@code
 * try (LockLease lease = session.lock("fleet/aim_lock_config")) {
 *   long revision = client.kv().putFenced("fleet/aim_lock_config.conf", configBytes, lease);
 * } // a holder whose lock moved on gets StaleTokenException, and the value stays as it was
 * }</pre>
 *
 * <p>Writes (puts and deletes) are retried with one request id, so they act at most once. A write
 * still unanswered when the retry budget runs out throws {@link OutcomeUnknownException} if an
 * attempt may have been applied, and plain {@link ClusterUnavailableException} if none can have been.
 */
public interface KvClient {
  /** Writes {@code key} unconditionally; returns the new revision. */
  long put(String key, byte[] value);

  /**
   * Writes {@code key} only while {@code lease} is its lock's current grant (checked atomically
   * with the write); the stored value remembers the lock and token. The check is of the token, not
   * of who sends it: it stops a holder whose grant has ended, and any identity that may write the
   * key and read the lock could write under the current token. With ACL rules, give write access
   * to the key only to identities that take the lock.
   *
   * @throws StaleTokenException if the lock has moved on (released, expired, revoked); nothing changed
   */
  long putFenced(String key, byte[] value, LockLease lease);

  /**
   * Compare-and-set: writes {@code key} only if it is at {@code expectedRevision} (0: absent).
   *
   * @throws RevisionMismatchException otherwise; nothing changed
   * @throws IllegalArgumentException if {@code expectedRevision} is negative (an unconditional write is {@link #put})
   */
  long putIfRevision(String key, byte[] value, long expectedRevision);

  /**
   * The general write: CAS ({@code expectedRevision} -1: any) and fence (lock "" : none).
   *
   * @throws IllegalArgumentException if {@code expectedRevision} is below -1
   */
  CompletableFuture<Long> putAsync(String key, byte[] value, long expectedRevision, String fenceLock, long fenceToken);

  Optional<KeyValue> get(String key);

  CompletableFuture<Optional<KeyValue>> getAsync(String key);

  /** Deletes {@code key}; false if it was absent. */
  boolean delete(String key);

  /** Deletes {@code key} only while {@code lease} is its lock's current grant. */
  boolean deleteFenced(String key, LockLease lease);

  /**
   * Every key starting with {@code prefix}, in name order, values included. Read in pages (1,000
   * keys or 4 MiB each): each page is a linearizable read, but a list of several pages is not one
   * snapshot, so a key changed meanwhile may show its old or new state.
   */
  List<KeyValue> list(String prefix);

  /**
   * Whether {@code token} is still {@code lock}'s current token and the lock is held: the check a
   * resource outside Holdfast makes before acting on a holder's request.
   */
  boolean validateFence(String lock, long token);
}
