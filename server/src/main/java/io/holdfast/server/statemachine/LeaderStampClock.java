package io.holdfast.server.statemachine;

import java.util.function.LongSupplier;

/**
 * The time a leader writes into each entry it proposes. The log's clock counts the differences
 * between one term's stamps (all from this process) as elapsed time, and lock-delays, max holds,
 * timed waits and a new leader's session deadlines run on it. A wall clock stepped forward (NTP,
 * a VM resumed) would end all of those at once, so a stamp follows the wall clock but never
 * advances faster than the monotonic clock: it is the smallest of every wall reading plus the
 * monotonic time since that reading. A step back stalls the stamps until the wall catches up (the
 * log's clock ignores stamps that go back); after a step forward they stay behind the wall by the
 * step, which only display fields (acquired-at, audit times) show. Either lasts until this node
 * stops leading ({@link #reset}).
 */
final class LeaderStampClock {
  private final LongSupplier wallMs;
  private final LongSupplier nanos;
  /** The smallest wall-minus-monotonic offset seen: the wall clock at its most behind. */
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
    offsetMs = Math.min(offsetMs, wallMs.getAsLong() - monotonicMs);
    lastStampMs = Math.max(lastStampMs, monotonicMs + offsetMs);
    return lastStampMs;
  }
}
