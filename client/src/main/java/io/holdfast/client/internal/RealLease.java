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

  RealLease(RealSession session, String name, long token) {
    this.session = session;
    this.name = name;
    this.token = token;
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
    return !released.get() && !lost && session.isValid();
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

  /** Neither lost nor released (nor being released): a caller may still be using it. */
  boolean active() {
    return !lost && !released.get();
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
