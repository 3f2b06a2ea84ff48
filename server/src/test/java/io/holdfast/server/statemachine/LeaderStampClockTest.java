package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LeaderStampClockTest {
  private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
  private final AtomicLong nanos = new AtomicLong(5_000_000_000L);
  private final LeaderStampClock clock = new LeaderStampClock(wall::get, nanos::get);

  private void pass(long ms) {
    wall.addAndGet(ms);
    nanos.addAndGet(ms * 1_000_000);
  }

  @Test
  void followsTheWallClockWhileItKeepsTime() {
    assertEquals(wall.get(), clock.nowMs());
    pass(1_234);
    assertEquals(wall.get(), clock.nowMs());
  }

  @Test
  void aWallClockSteppedForwardDoesNotMoveTheStampsFaster() {
    long first = clock.nowMs();
    pass(1_000);
    wall.addAndGet(3_600_000); // NTP steps the clock an hour ahead
    assertEquals(first + 1_000, clock.nowMs(), "the log's clock would end every lock-delay at once");
    pass(500);
    assertEquals(first + 1_500, clock.nowMs());
  }

  @Test
  void aWallClockSteppedBackNeitherStallsNorRewindsTheStamps() {
    long first = clock.nowMs();
    pass(1_000);
    assertEquals(first + 1_000, clock.nowMs());
    wall.addAndGet(-3_600_000); // an hour back: a stall would keep every lock-delay running for an hour
    assertEquals(first + 1_000, clock.nowMs(), "never back");
    pass(5_000);
    assertEquals(first + 6_000, clock.nowMs(), "time goes on at the monotonic clock's pace");
  }

  @Test
  void aBriefBogusWallReadingLeavesNoTrace() {
    long first = clock.nowMs();
    wall.addAndGet(-50_000);
    pass(100);
    clock.nowMs();
    wall.addAndGet(50_000);
    pass(100);
    assertEquals(first + 200, clock.nowMs());
  }

  @Test
  void aNewTermStartsFromTheWallClockAgain() {
    long first = clock.nowMs();
    wall.addAndGet(-3_600_000); // corrected an hour back while this node did not lead
    pass(1_000);
    clock.reset();
    assertEquals(wall.get(), clock.nowMs(), "not pinned an hour ahead for the whole term");
    pass(500);
    assertEquals(first - 3_600_000 + 1_500, clock.nowMs());
  }
}
