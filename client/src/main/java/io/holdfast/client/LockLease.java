package io.holdfast.client;

import java.util.concurrent.CompletableFuture;

/**
 * A granted lock, held by a {@link Session}, with the fencing token of the grant. Hand
 * {@link #token()} to every resource you write under the lock; a resource that checks tokens (see
 * {@link FencingGuard}) then refuses anything from a holder whose lock has moved on.
 *
 * <p>{@link #close()} releases the lock. Thread-safe.
 */
public interface LockLease extends AutoCloseable {
  String name();

  /**
   * The fencing token: higher for every later grant of any lock, also after a restore from a backup
   * (epoch * 2^48 + the revision of the granting command, which is its entry's log index unless
   * several commands shared the entry; in epoch 0, just that revision).
   */
  long token();

  Session session();

  /**
   * True while this lease can be trusted: not released, not known lost (the session's keepalive
   * answers list the locks it holds, so a revocation shows within one keepalive interval), and the
   * session's conservative local deadline has not passed, nor, for a lock taken with a max hold,
   * the hold's (counted from when the acquire was first sent, less a margin; for a grant the session
   * already held and asked for again, from that grant, with its limit). Check it before acting on the lock; once
   * false it never becomes true again. Fencing, not this check, is what makes a late write safe.
   */
  boolean isValid();

  /**
   * Releases the lock. Retried through failovers for the client's retry budget. Should the
   * session's own deadline pass first (the cluster unreachable for its TTL), it returns then,
   * without an error: begun while the lease was valid, it raced nobody, and the lock is no longer
   * this session's either way (released, or freed at the session's deadline). Should the cluster
   * end the session meanwhile, or the lock be taken away, it throws {@link LockLostException}.
   *
   * @throws LockLostException if the lock was no longer held (session expired, or released or
   *     taken away meanwhile): whatever was done under it after that may have raced another holder
   */
  @Override
  void close();

  CompletableFuture<Void> releaseAsync();
}
