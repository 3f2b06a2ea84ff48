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
   * A timed wait shorter than this is not deferred: the linger (at most 10 ms) would take a
   * noticeable share of its budget, and a wait that runs out costs an entry of its own to cancel.
   */
  static final long SHORTEST_DEFERRED_WAIT_MS = 1_000;

  /**
   * Whether {@code command} is an acquire that may be deferred at all, from the command alone (so the
   * state is not locked for the others): a blocking or a long timed wait, not a try-lock.
   */
  static boolean mayDefer(Command command) {
    return command instanceof Command.Acquire a && (a.waitMs() < 0 || a.waitMs() >= SHORTEST_DEFERRED_WAIT_MS);
  }

  /**
   * An acquire that will queue behind other waiters whatever the next entries hold: it may wait for
   * company. Only where {@link #mayDefer} allows, and not an acquire by the holder's own session
   * (given its token back at once).
   */
  static boolean waitsBehindOthers(HoldfastState s, Command command) {
    if (!mayDefer(command)) {
      return false;
    }
    Command.Acquire a = (Command.Acquire) command;
    LockRecord lock = s.lock(a.lockName());
    return lock != null && lock.hasWaiters() && lock.holderSessionId() != a.sessionId();
  }
}
