package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LinearizabilityCheckerTest {
  private static final long MS = 1_000_000L;

  @Test
  void aCleanHandOverIsLinearizable() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).release("w1", "L1", 20, 30, 5, "ok")
        .acquire("w2", "L1", 15, 35, 9).release("w2", "L1", 40, 50, 9, "ok")
        .acquire("w3", "L2", 0, 5, 7)
        .build();
    Verdict v = LinearizabilityChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void concurrentGrantsMayBeOrderedByTheirTokens() {
    // w2's acquire returned first but was invoked while w1's was open: w1 may have been granted first
    History h = new Histories()
        .acquire("w1", "L1", 0, 50, 5).release("w1", "L1", 51, 52, 5, "ok")
        .acquire("w2", "L1", 10, 40, 9).release("w2", "L1", 60, 70, 9, "ok")
        .build();
    assertFalse(LinearizabilityChecker.check(h).valid(), "w2 held from 40 while w1 held until 51");
    History fine = new Histories()
        .acquire("w1", "L1", 0, 50, 5).release("w1", "L1", 51, 52, 5, "ok")
        .acquire("w2", "L1", 10, 60, 9).release("w2", "L1", 61, 70, 9, "ok")
        .build();
    Verdict v = LinearizabilityChecker.check(fine);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesTwoOverlappingHolders() {
    // w1's session was renewed (keepalive sent at 15 ms, TTL 1 s): it cannot have expired by 25 ms
    History h = new Histories()
        .keepalive("w1", 16 * MS, 15 * MS, 1_000)
        .acquire("w1", "L1", 0, 10 * MS, 5)
        .acquire("w2", "L1", 5 * MS, 25 * MS, 9)
        .release("w1", "L1", 40 * MS, 45 * MS, 5, "fail")
        .release("w2", "L1", 50 * MS, 55 * MS, 9, "ok")
        .build();
    Verdict v = LinearizabilityChecker.check(h);
    assertFalse(v.valid(), v.toString());
    assertTrue(v.problems().get(0).contains("not linearizable on L1"), v.toString());
  }

  @Test
  void aTakeoverAfterTheHoldersSessionCouldHaveExpiredIsFine() {
    // the same, but w2's grant returned 1.1 s after w1's last keepalive: w1's session may have expired
    History h = new Histories()
        .keepalive("w1", 16 * MS, 15 * MS, 1_000)
        .acquire("w1", "L1", 0, 10 * MS, 5)
        .acquire("w2", "L1", 5 * MS, 1_115 * MS, 9)
        .release("w1", "L1", 1_140 * MS, 1_145 * MS, 5, "fail")
        .release("w2", "L1", 1_150 * MS, 1_155 * MS, 9, "ok")
        .build();
    Verdict v = LinearizabilityChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void aGrantMayPassOnOnceItsMaxHoldRanOut() {
    // w1's session was alive throughout, but its grant asked for a 500 ms max hold
    History h = new Histories()
        .keepalive("w1", 16 * MS, 15 * MS, 10_000)
        .acquireWithMaxHold("w1", "L1", 0, 10 * MS, 5, 500)
        .acquire("w2", "L1", 5 * MS, 450 * MS, 9)
        .release("w1", "L1", 600 * MS, 605 * MS, 5, "fail")
        .build();
    Verdict v = LinearizabilityChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesAGrantTakenBackBeforeItsMaxHold() {
    History h = new Histories()
        .keepalive("w1", 16 * MS, 15 * MS, 10_000)
        .acquireWithMaxHold("w1", "L1", 0, 10 * MS, 5, 500)
        .acquire("w2", "L1", 5 * MS, 300 * MS, 9)
        .release("w1", "L1", 600 * MS, 605 * MS, 5, "fail")
        .build();
    Verdict v = LinearizabilityChecker.check(h);
    assertFalse(v.valid(), v.toString());
  }

  @Test
  void aWaitedGrantsMaxHoldCountsFromWhenTheLockWasFree() {
    // w2 waited from 10 ms for w1's release (called at 3 s), with a 500 ms max hold; w3's grant
    // returned at 3.2 s, while w2 was alive and its hold could not have run out before 3.4 s
    Histories h = new Histories()
        .keepalive("w2", 3_010 * MS, 3_000 * MS, 10_000)
        .acquire("w1", "L1", 0, 5 * MS, 5)
        .acquireWithMaxHold("w2", "L1", 10 * MS, 3_050 * MS, 9, 500)
        .release("w1", "L1", 3_000 * MS, 3_005 * MS, 5, "ok")
        .acquire("w3", "L1", 3_100 * MS, 3_200 * MS, 12);
    Verdict v = LinearizabilityChecker.check(h.build());
    assertFalse(v.valid(), v.toString());
    // the same with w3's grant at 3.5 s: fine
    h = new Histories()
        .keepalive("w2", 3_010 * MS, 3_000 * MS, 10_000)
        .acquire("w1", "L1", 0, 5 * MS, 5)
        .acquireWithMaxHold("w2", "L1", 10 * MS, 3_050 * MS, 9, 500)
        .release("w1", "L1", 3_000 * MS, 3_005 * MS, 5, "ok")
        .acquire("w3", "L1", 3_100 * MS, 3_500 * MS, 12);
    v = LinearizabilityChecker.check(h.build());
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesATokenThatDoesNotIncrease() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 9).release("w1", "L1", 20, 30, 9, "ok")
        .acquire("w2", "L1", 40, 50, 9).release("w2", "L1", 60, 70, 9, "ok")
        .build();
    assertFalse(LinearizabilityChecker.check(h).valid());
  }

  @Test
  void catchesAReleaseByANonHolder() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .release("w2", "L1", 20, 30, 5, "ok")
        .build();
    assertFalse(LinearizabilityChecker.check(h).valid());
  }

  @Test
  void aTimedOutAcquireIsNotAGrant() {
    // if w1's timed-out acquire counted as a grant, w2 could not have taken the lock (w1 never released)
    History free = new Histories()
        .keepalive("w1", 1, 0, 10_000)
        .acquireFailed("w1", "L1", 0, 10)
        .acquire("w2", "L1", 20, 30, 5).release("w2", "L1", 40, 50, 5, "ok")
        .build();
    Verdict v = LinearizabilityChecker.check(free);
    assertTrue(v.valid(), v.toString());
    // ... and a release after it is a release by a non-holder
    History released = new Histories()
        .acquireFailed("w1", "L1", 0, 10)
        .release("w1", "L1", 20, 30, 5, "ok")
        .build();
    assertFalse(LinearizabilityChecker.check(released).valid());
  }

  @Test
  void anUnknownAcquireMayOrMayNotHaveHappened() {
    History never = new Histories()
        .acquireUnknown("w1", "L1", 0, 10)
        .acquire("w2", "L1", 20, 30, 5).release("w2", "L1", 40, 50, 5, "ok")
        .build();
    assertTrue(LinearizabilityChecker.check(never).valid());
    // it may even have been granted later: w2's release is then the only way w1 can have got it
    History later = new Histories()
        .acquireUnknown("w1", "L1", 0, 10)
        .acquire("w2", "L1", 20, 30, 5).release("w2", "L1", 40, 50, 5, "ok")
        .release("w1", "L1", 60, 70, -1, "info")
        .build();
    assertTrue(LinearizabilityChecker.check(later).valid());
  }

  @Test
  void runningOutOfBudgetFailsTheCheck() {
    Histories b = new Histories();
    for (int i = 0; i < 12; i++) {
      b.acquireUnknown("w" + i, "L1", i, 1_000 + i);
    }
    b.acquire("x", "L1", 2_000, 2_010, 100).release("x", "L1", 2_020, 2_030, 100, "ok");
    History h = b.build();
    assertTrue(LinearizabilityChecker.check(h).valid(), "decidable with the default budget");
    Verdict v = LinearizabilityChecker.check(h, 10);
    assertFalse(v.valid(), "budget exhaustion must not pass");
    assertTrue(v.problems().get(0).contains("could not decide"), v.toString());
  }

  /**
   * A long run of hand-offs (a broken build's spinning workers make histories like it): decided
   * either way within the default budget and the test JVM's heap. Each state the search remembered
   * used to hold a bit set over all of a key's operations, and each frame a copy of it.
   */
  @Test
  void aLongHistoryIsDecidedBothWays() {
    int handOffs = 20_000;
    Histories b = new Histories();
    long last = 0;
    for (int k = 0; k < handOffs; k++) {
      String w = "w" + (k % 4);
      long t = k * 10L * MS;
      // invoked while up to three earlier holders still held: the search has a window to order
      b.acquire(w, "L1", Math.max(0, t - 25 * MS), t + 2 * MS, k + 1).release(w, "L1", t + 5 * MS, t + 8 * MS, k + 1, "ok");
      last = t;
    }
    Verdict fine = LinearizabilityChecker.check(b.build());
    assertTrue(fine.valid(), fine.toString());

    // w0 took it again at the end and renewed its session; x's grant came while w0 still held
    String w = "w" + (handOffs % 4);
    long t = last + 100 * MS;
    b.keepalive(w, t + 3 * MS, t + 2 * MS, 10_000)
        .acquire(w, "L1", t, t + 2 * MS, handOffs + 1)
        .acquire("x", "L1", t + 10 * MS, t + 20 * MS, handOffs + 2);
    Verdict broken = LinearizabilityChecker.check(b.build());
    assertFalse(broken.valid(), broken.toString());
    assertTrue(broken.problems().get(0).contains("not linearizable on L1"), "decided, not out of budget: " + broken);
  }
}
