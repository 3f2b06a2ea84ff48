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
 * the application, and every lease it holds is invalid. Its locks are then left to the server's
 * deadline (the margin later) and their lock-delay, as a dead holder's are: the work under them has
 * that long to stop. {@link #close()}, once it has, lets them go at once. A session that held no
 * lock is closed on the server when it expires.
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

  /**
   * Completes when the session expires (not when it is closed). Called on a live session, the
   * future completes on the client's executor ({@link HoldfastClient.Builder#executor}), after the
   * listeners have been given the EXPIRED event, and its dependents run there: never on the
   * threads that keep sessions alive, so a dependent may block (e.g. to open a new session).
   * On the default executor, one thread for the whole client, a blocking dependent holds back the
   * events of every session meanwhile; give the client a pool ({@code executor}) if several
   * sessions' dependents may block. Called once the session has expired, it returns a completed
   * future.
   */
  CompletableFuture<Void> onExpired();

  void addListener(SessionListener listener);

  /** Blocks until the lock is granted (FIFO, queued on the server). */
  LockLease lock(String name) throws InterruptedException;

  /**
   * Waits up to {@code wait}; empty if the lock was not granted in time. {@link Duration#ZERO}
   * tries once, as {@link #tryLock} does.
   *
   * @throws IllegalArgumentException if {@code wait} is negative
   * @throws ClusterUnavailableException if no leader answered within the wait plus one call
   *     timeout (the acquire is then withdrawn)
   */
  Optional<LockLease> lock(String name, Duration wait) throws InterruptedException;

  /**
   * Takes the lock only if it is free now.
   *
   * @throws ClusterUnavailableException if no leader answered within one call timeout (the
   *     acquire is then withdrawn)
   */
  Optional<LockLease> tryLock(String name);

  CompletableFuture<LockLease> lockAsync(String name);

  /** As {@link #lock(String, Duration)}; a negative {@code wait} throws IllegalArgumentException here. */
  CompletableFuture<Optional<LockLease>> lockAsync(String name, Duration wait);

  CompletableFuture<Optional<LockLease>> tryLockAsync(String name);

  /** The general form: wait, lock-delay and max hold time as {@code options} say. */
  CompletableFuture<Optional<LockLease>> lockAsync(String name, LockOptions options);

  /** Closes the session on the server, releasing its locks; also after it expired (see above). */
  @Override
  void close();

  CompletableFuture<Void> closeAsync();
}
