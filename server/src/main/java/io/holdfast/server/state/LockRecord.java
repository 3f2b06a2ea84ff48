package io.holdfast.server.state;

import java.util.ArrayDeque;

/**
 * A lock that is held or waited on; free locks without waiters are not stored. Invariant: a lock
 * with waiters is held (a freed lock passes straight to its first live waiter).
 */
public final class LockRecord {
  private final String name;
  long holderSessionId;
  String grantRequestId = "";
  long token;
  long acquiredAtMs;
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
