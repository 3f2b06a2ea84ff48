package io.holdfast.ops.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** How a W4 trial's unavailability is read off the loop's completion times. */
class FailoverWindowTest {
  private static final long MS = 1_000_000L;

  @Test
  void theElectionGapCountsEvenWhenAnAnswerArrivesJustAfterTheKill() {
    // completions at 0, 5, 10 ms; kill at 12 ms; the dying leader's answer lands at 14 ms; then
    // nothing until the new leader answers at 914 ms, and the loop goes on every 5 ms.
    TreeSet<Long> done = new TreeSet<>(List.of(0L, 5 * MS, 10 * MS, 14 * MS, 914 * MS, 919 * MS, 924 * MS));
    assertEquals(900.0, FailoverBench.longestGapMs(done, 10 * MS, 924 * MS), 1e-9);
    // The old reading, last completion before the kill to the first after it, said 4 ms.
    assertEquals(4.0, (done.ceiling(12 * MS) - done.floor(12 * MS)) / 1e6, 1e-9);
  }

  @Test
  void aCleanRecoveryIsTheGapAcrossTheKill() {
    TreeSet<Long> done = new TreeSet<>(List.of(10 * MS, 810 * MS, 815 * MS, 820 * MS));
    assertEquals(800.0, FailoverBench.longestGapMs(done, 10 * MS, 820 * MS), 1e-9);
  }
}
