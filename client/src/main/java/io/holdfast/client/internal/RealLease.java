package io.holdfast.client.internal;

import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.Session;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/** A lease on one grant; released once. */
final class RealLease implements LockLease {
  private final RealSession session;
  private final String name;
  private final long token;
  private final AtomicBoolean released = new AtomicBoolean();
  private volatile boolean lost;
  /**
   * Counted among its grant's claimants until its release is decided under the session's claims
   * lock, not from when {@code released} is set: two leases on one grant (a session that took a
   * lock it held) released at once must not both think the other is already gone.
   */
  private boolean claiming = true; // guarded by the session's claims lock

  /** No max-hold limit: the lease lasts as long as its session. */
  static final long NO_HOLD_LIMIT = Long.MIN_VALUE;
  /**
   * System.nanoTime past which the cluster may have taken the lock back for its max-hold time, or
   * NO_HOLD_LIMIT. The cluster counts from the grant: for a grant the acquire made, never before it
   * was first sent; for one the session already held, as long before as the answer says it was held.
   */
  private final long holdUntilNanos;

  RealLease(RealSession session, String name, long token) {
    this(session, name, token, NO_HOLD_LIMIT);
  }

  RealLease(RealSession session, String name, long token, long holdUntilNanos) {
    this.session = session;
    this.name = name;
    this.token = token;
    this.holdUntilNanos = holdUntilNanos;
  }

  long holdUntilNanos() {
    return holdUntilNanos;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long token() {
    return token;
  }

  @Override
  public Session session() {
    return session;
  }

  @Override
  public boolean isValid() {
    return !released.get() && !lost && session.isValid()
        && withinHold();
  }

  /** Whether its release began within its max hold; null until a release begins. */
  private volatile Boolean releaseBegunWithinHold;

  /** Whether its release began within its max hold (now, for a release not begun by close/releaseAsync). */
  boolean releaseBegunWithinHold() {
    Boolean b = releaseBegunWithinHold;
    return b != null ? b : withinHold();
  }

  /** Whether its max hold, if it was taken with one, has not run out yet (as isValid counts it). */
  boolean withinHold() {
    return holdUntilNanos == NO_HOLD_LIMIT || System.nanoTime() - holdUntilNanos < 0;
  }

  void markLost() {
    lost = true;
  }

  boolean lost() {
    return lost;
  }

  /** For a grant that reached no caller: marks it released; false if it already was. */
  boolean takeForGiveBack() {
    return released.compareAndSet(false, true);
  }

  /** Neither lost nor let go of: it still claims its grant. Hold the session's claims lock. */
  boolean active() {
    return !lost && claiming;
  }

  /** Its release (or give-back, or loss) is being decided: it no longer claims its grant. Hold the session's claims lock. */
  void letGo() {
    claiming = false;
  }

  @Override
  public void close() {
    if (startRelease()) {
      session.releaseAndWait(this);
    }
  }

  @Override
  public CompletableFuture<Void> releaseAsync() {
    try {
      return startRelease() ? session.release(this) : CompletableFuture.completedFuture(null);
    } catch (LockLostException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** True if a release is to be sent; false if one was before; throws if the lock was already lost. */
  private boolean startRelease() {
    if (!released.compareAndSet(false, true)) {
      return false;
    }
    releaseBegunWithinHold = withinHold();
    if (lost || !session.isValid()) {
      session.forget(this);
      throw new LockLostException("lock '" + name + "' (token " + token
          + ") was lost before release: its session " + session.id() + " is " + session.state());
    }
    return true;
  }

  @Override
  public String toString() {
    return "LockLease[" + name + ", token " + token + ", session " + session.id() + "]";
  }
}
