package io.holdfast.server.statemachine;

import java.util.function.LongSupplier;

/**
 * The time a leader writes into each entry it proposes. The log's clock counts the differences
 * between one term's stamps (all from this process) as elapsed time, and lock-delays, max holds,
 * timed waits and a new leader's session deadlines run on it. So within a term the stamps advance
 * with the monotonic clock alone, from the wall clock's reading at the term's first stamp: a wall
 * clock stepped forward (NTP, a VM resumed) would end all of those at once, and one stepped back
 * would stall them (a lock freed with a lock-delay would stay held by nobody for the whole step).
 * After a step the stamps differ from the wall by the step, which only display fields
 * (acquired-at, audit times) show, until this node stops leading ({@link #reset}).
 */
final class LeaderStampClock {
  private final LongSupplier wallMs;
  private final LongSupplier nanos;
  /** Wall minus monotonic at the term's first stamp; MAX_VALUE before it. */
  private long offsetMs = Long.MAX_VALUE;
  private long lastStampMs = Long.MIN_VALUE;

  LeaderStampClock(LongSupplier wallMs, LongSupplier nanos) {
    this.wallMs = wallMs;
    this.nanos = nanos;
  }

  static LeaderStampClock system() {
    return new LeaderStampClock(System::currentTimeMillis, System::nanoTime);
  }

  /** Forgets what it saw: for a new term, whose stamps the log's clock does not compare with these. */
  synchronized void reset() {
    offsetMs = Long.MAX_VALUE;
    lastStampMs = Long.MIN_VALUE;
  }

  synchronized long nowMs() {
    long monotonicMs = Math.floorDiv(nanos.getAsLong(), 1_000_000L);
    if (offsetMs == Long.MAX_VALUE) {
      offsetMs = wallMs.getAsLong() - monotonicMs;
    }
    lastStampMs = Math.max(lastStampMs, monotonicMs + offsetMs);
    return lastStampMs;
  }
}
