package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.server.state.Command.Checkpoint;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogClockTest {
  private final LogClock clock = new LogClock();

  @Test
  void firstStampStartsTheClockAtZero() {
    clock.advance(3, 1_000_000, 0);
    assertEquals(0, clock.elapsedMs());
    assertEquals(1_000_000, clock.wallMs());
  }

  @Test
  void advancesByTheDifferenceBetweenStampsOfOneTerm() {
    clock.advance(1, 1_000, 0);
    clock.advance(1, 1_250, 0);
    assertEquals(250, clock.elapsedMs());
    clock.advance(1, 1_250, 0);
    assertEquals(250, clock.elapsedMs());
    clock.advance(1, 2_000, 0);
    assertEquals(1_000, clock.elapsedMs());
    assertEquals(2_000, clock.wallMs());
  }

  @Test
  void doesNotJumpWhenANewTermsClockIsFarAhead() {
    clock.advance(1, 1_000, 0);
    clock.advance(1, 1_500, 0);

    clock.advance(2, 1_000_000_000, 0);
    assertEquals(500, clock.elapsedMs(), "the first stamp of a term only sets the new base");
    assertEquals(1_000_000_000, clock.wallMs(), "display time follows the newest stamp");

    clock.advance(2, 1_000_000_200, 0);
    assertEquals(700, clock.elapsedMs());
  }

  @Test
  void neverGoesBackwardsWhenStampsDoWithinATerm() {
    clock.advance(1, 1_000, 0);
    clock.advance(1, 2_000, 0);
    clock.advance(1, 1_500, 0);
    assertEquals(1_000, clock.elapsedMs());
    clock.advance(1, 1_800, 0);
    assertEquals(1_000, clock.elapsedMs(), "time lost to a backwards step is not counted twice");
    clock.advance(1, 2_100, 0);
    assertEquals(1_100, clock.elapsedMs());
    assertEquals(2_100, clock.wallMs());
  }

  @Test
  void newTermWithAnEarlierClockNeitherRewindsNorStallsTheClock() {
    clock.advance(1, 5_000, 0);
    clock.advance(1, 6_000, 0);

    clock.advance(2, 3_000, 0);
    assertEquals(1_000, clock.elapsedMs());
    assertEquals(6_000, clock.wallMs(), "display time never runs backwards");

    clock.advance(2, 3_500, 0);
    assertEquals(1_500, clock.elapsedMs(), "the new leader's clock counts from its own first stamp");
    assertEquals(6_000, clock.wallMs());
  }

  @Test
  void applyDrivesTheClockFromEntryStamps() {
    TestLog log = new TestLog();
    long t0 = log.timeMs();
    log.apply(new Checkpoint(List.of()));
    log.applyAt(1, t0 + 400, new Checkpoint(List.of()));
    log.applyAt(1, t0 + 300, new Checkpoint(List.of()));
    log.applyAt(2, t0 + 90_000, new Checkpoint(List.of()));
    log.applyAt(2, t0 + 90_100, new Checkpoint(List.of()));

    assertEquals(500, log.state().clock().elapsedMs());
    assertEquals(t0 + 90_100, log.state().clock().wallMs());
  }

  @Test
  void whatANewLeaderCarriesIsAddedAtItsTermsFirstStampOnly() {
    clock.advance(1, 1_000, 0);
    clock.advance(1, 1_500, 0);
    clock.advance(2, 9_000_000, 700);
    assertEquals(1_200, clock.elapsedMs(), "the gap the new leader measured is counted");
    clock.advance(2, 9_000_100, 700);
    assertEquals(1_300, clock.elapsedMs(), "and only once: later entries of the term count their stamps");
  }

  /**
   * Leaderships shorter than a checkpoint interval each write one stamp, which only sets a base: the
   * log's clock stood still for as long as they went on, and a dead holder's session with it.
   */
  @Test
  void shortLeadershipsStillMoveTheClockUnderRulesFour() {
    TestLog log = new TestLog();
    long dead = log.open(2_000);
    long t = log.timeMs();
    for (long term = 2; term < 12; term++) {
      t += 5_000; // each leader's own clock, unrelated to the last one's
      log.applyCarrying(LogEntry.RULES, term, t, 300, new Checkpoint(List.of()));
    }
    assertEquals(0, log.state().ttlLeftMs(dead), "ten failovers of 300 ms each outlast a TTL of 2 s");

    TestLog old = new TestLog();
    long alive = old.open(2_000);
    long u = old.timeMs();
    for (long term = 2; term < 12; term++) {
      u += 5_000;
      old.applyCarrying(3, term, u, 300, new Checkpoint(List.of()));
    }
    assertEquals(2_000, old.state().ttlLeftMs(alive), "under rules 3 the carry is not counted (and never was)");
  }
}
