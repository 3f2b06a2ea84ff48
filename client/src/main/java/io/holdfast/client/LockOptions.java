package io.holdfast.client;

import java.time.Duration;

/**
 * How to acquire a lock: how long to wait, the lock-delay to ask for, and a max hold time.
 *
 * <pre>{@code
 * session.lockAsync("fleet/config", LockOptions.waitUpTo(Duration.ofSeconds(30))
 *     .withLockDelay(Duration.ofSeconds(15)).withMaxHold(Duration.ofMinutes(10)));
 * }</pre>
 *
 * @param maxWait null: until granted; zero: try once; otherwise up to this long
 * @param lockDelay null: the server's default for the name; otherwise how long the lock stays
 *     ORPHANED after an unclean release (expiry, revocation)
 * @param maxHold zero: no limit; otherwise the lock is revoked after this long
 */
public record LockOptions(Duration maxWait, Duration lockDelay, Duration maxHold) {
  public LockOptions {
    if (maxHold == null || maxHold.isNegative()) {
      throw new IllegalArgumentException("maxHold must be zero (no limit) or positive, got " + maxHold);
    }
    if (lockDelay != null && lockDelay.isNegative()) {
      throw new IllegalArgumentException("lockDelay must not be negative, got " + lockDelay);
    }
    if (maxWait != null && maxWait.isNegative()) {
      throw new IllegalArgumentException("maxWait must not be negative, got " + maxWait);
    }
  }

  public static LockOptions untilGranted() {
    return new LockOptions(null, null, Duration.ZERO);
  }

  public static LockOptions waitUpTo(Duration wait) {
    return new LockOptions(wait, null, Duration.ZERO);
  }

  public static LockOptions tryOnce() {
    return new LockOptions(Duration.ZERO, null, Duration.ZERO);
  }

  public LockOptions withLockDelay(Duration delay) {
    return new LockOptions(maxWait, delay, maxHold);
  }

  public LockOptions withMaxHold(Duration max) {
    return new LockOptions(maxWait, lockDelay, max);
  }
}
