package io.holdfast.server.raft;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LockRecord;

/**
 * What the batcher may know of a command before it is logged, read from applied state (see
 * {@link CommandBatcher}). Hints only: the leader's applied state trails its log by the entries in
 * flight, and a wrong answer costs speed, never correctness, since apply decides.
 */
final class BatchHints {
  private BatchHints() {}

  /** A release that a waiter is queued behind: it may open an extra entry. */
  static boolean handsOver(HoldfastState s, Command command) {
    if (!(command instanceof Command.Release r)) {
      return false;
    }
    LockRecord lock = s.lock(r.lockName());
    return lock != null && lock.hasWaiters();
  }

  /**
   * An acquire that will queue behind other waiters whatever the next entries hold: it may wait for
   * company. Not a try-lock (answered at once), nor an acquire by the holder's own session (given
   * its token back at once).
   */
  static boolean waitsBehindOthers(HoldfastState s, Command command) {
    if (!(command instanceof Command.Acquire a) || a.waitMs() == 0) {
      return false;
    }
    LockRecord lock = s.lock(a.lockName());
    return lock != null && lock.hasWaiters() && lock.holderSessionId() != a.sessionId();
  }
}
