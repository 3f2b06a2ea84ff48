package io.holdfast.client;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A session with the cluster: the owner of locks. It keeps itself alive (a keepalive every TTL/3
 * over one stream to the leader), follows the leader across failovers, and reports its state to
 * {@link SessionListener}s.
 *
 * <p>It keeps a conservative local deadline, {@link #validUntil()}: the send time of the last
 * acknowledged keepalive + TTL - a margin. The server cannot expire the session (and give its
 * locks away) before that, because it counts from when it received that keepalive. When the
 * deadline passes without a newer acknowledgement the session is {@link SessionState#EXPIRED} for
 * the application, and every lease it holds is invalid.
 *
 * <p>Closing the session releases its locks. Thread-safe.
 */
public interface Session extends AutoCloseable {
  long id();

  Duration ttl();

  SessionState state();

  /** When this session stops being trustworthy unless another keepalive is acknowledged. */
  Instant validUntil();

  /** True until the session expires or is closed. */
  boolean isValid();

  /** Completes when the session expires (not when it is closed). */
  CompletableFuture<Void> onExpired();

  void addListener(SessionListener listener);

  /** Blocks until the lock is granted (FIFO, queued on the server). */
  LockLease lock(String name) throws InterruptedException;

  /** Waits up to {@code wait}; empty if the lock was not granted in time. */
  Optional<LockLease> lock(String name, Duration wait) throws InterruptedException;

  /** Takes the lock only if it is free now. */
  Optional<LockLease> tryLock(String name);

  CompletableFuture<LockLease> lockAsync(String name);

  CompletableFuture<Optional<LockLease>> lockAsync(String name, Duration wait);

  CompletableFuture<Optional<LockLease>> tryLockAsync(String name);

  /** The general form: wait, lock-delay and max hold time as {@code options} say. */
  CompletableFuture<Optional<LockLease>> lockAsync(String name, LockOptions options);

  /** Closes the session on the server, releasing its locks. */
  @Override
  void close();

  CompletableFuture<Void> closeAsync();
}
