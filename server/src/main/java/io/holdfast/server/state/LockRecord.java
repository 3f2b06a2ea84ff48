package io.holdfast.server.state;

import java.util.ArrayDeque;

/**
 * A lock that is held, orphaned or waited on; free locks without waiters are not stored.
 * Invariant: a lock with waiters is held or orphaned (a freed lock passes straight to its first
 * live waiter unless its lock-delay holds it back).
 */
public final class LockRecord {
  private final String name;
  long holderSessionId;
  String grantRequestId = "";
  long token;
  long acquiredAtMs;
  /** Requested by the current grant: how long an unclean release keeps the lock orphaned. */
  long lockDelayMs;
  long maxHoldMs;
  /** Log clock at which the current grant is revoked (0: no max hold). */
  long holdDeadlineClockMs;
  // While orphaned (grantableAtClockMs != 0): who held it, with which token, freed how and when.
  long grantableAtClockMs;
  long formerHolderSessionId;
  ClientInfo formerHolder = ClientInfo.UNKNOWN;
  long freedAtMs;
  String freeReason = "";
  final ArrayDeque<Waiter> waiters = new ArrayDeque<>();

  LockRecord(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  public boolean isHeld() {
    return holderSessionId != 0;
  }

  /** Freed by expiry or revocation and inside its lock-delay: not grantable yet. */
  public boolean isOrphaned() {
    return holderSessionId == 0 && grantableAtClockMs != 0;
  }

  public long lockDelayMs() {
    return lockDelayMs;
  }

  public long maxHoldMs() {
    return maxHoldMs;
  }

  public long holdDeadlineClockMs() {
    return holdDeadlineClockMs;
  }

  public long grantableAtClockMs() {
    return grantableAtClockMs;
  }

  public long formerHolderSessionId() {
    return formerHolderSessionId;
  }

  public ClientInfo formerHolder() {
    return formerHolder;
  }

  public long freedAtMs() {
    return freedAtMs;
  }

  public String freeReason() {
    return freeReason;
  }

  void clearOrphan() {
    grantableAtClockMs = 0;
    formerHolderSessionId = 0;
    formerHolder = ClientInfo.UNKNOWN;
    freedAtMs = 0;
    freeReason = "";
  }

  public long holderSessionId() {
    return holderSessionId;
  }

  public String grantRequestId() {
    return grantRequestId;
  }

  public long token() {
    return token;
  }

  public long acquiredAtMs() {
    return acquiredAtMs;
  }

  public Iterable<Waiter> waiters() {
    return waiters;
  }

  public boolean hasWaiters() {
    return !waiters.isEmpty();
  }

  Waiter waiterOf(long sessionId) {
    for (Waiter w : waiters) {
      if (w.sessionId() == sessionId) {
        return w;
      }
    }
    return null;
  }

  int positionOf(long sessionId) {
    int i = 1;
    for (Waiter w : waiters) {
      if (w.sessionId() == sessionId) {
        return i;
      }
      i++;
    }
    return -1;
  }
}
