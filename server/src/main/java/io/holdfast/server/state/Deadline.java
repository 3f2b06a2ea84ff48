package io.holdfast.server.state;

import java.util.Comparator;

/**
 * A deadline on the log clock for something the state must act on by itself: a queued acquire's
 * backstop ({@code requestId} set), a max hold time, or the end of a lock-delay.
 */
record Deadline(long clockMs, String lockName, long sessionId, String requestId) implements Comparable<Deadline> {
  private static final Comparator<Deadline> ORDER = Comparator
      .comparingLong(Deadline::clockMs)
      .thenComparing(Deadline::lockName)
      .thenComparingLong(Deadline::sessionId)
      .thenComparing(Deadline::requestId);

  @Override
  public int compareTo(Deadline o) {
    return ORDER.compare(this, o);
  }
}
