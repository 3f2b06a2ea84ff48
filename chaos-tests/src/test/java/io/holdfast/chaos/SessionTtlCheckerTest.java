package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SessionTtlCheckerTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aTakeoverAfterTheTtlIsFine() {
    // w1's last acknowledged keepalive was sent at 2 s, TTL 6 s: w2 may have it from 8 s on
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .nemesis("pause", "w1", 3 * S, "held_key", "L1", "held_token", 5L)
        .acquire("w2", "L1", 4 * S, 8 * S + 200_000_000L, 9)
        .nemesis("resume", "w1", 14 * S)
        .release("w1", "L1", 15 * S, 15 * S + 10, 5, "fail")
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertTrue(v.valid(), v.toString());
    assertTrue(v.note().contains("1 takeovers"), v.toString());
  }

  @Test
  void catchesAGrantBeforeTheHolderCouldHaveExpired() {
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .acquire("w2", "L1", 4 * S, 5 * S, 9) // 3 s too early
        .release("w1", "L1", 6 * S, 6 * S + 10, 5, "fail")
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("3.00 s before"), v.toString());
  }

  @Test
  void aTakeoverAfterTheHoldersMaxHoldIsFine() {
    // w1's session was alive, but its grant asked for a 2 s max hold, which ran out by 3 s
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquireWithMaxHold("w1", "L1", 1 * S, 1 * S + 10, 5, 2_000)
        .acquire("w2", "L1", 2 * S, 3 * S + 50_000_000L, 9)
        .release("w1", "L1", 6 * S, 6 * S + 10, 5, "fail")
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertTrue(v.valid(), v.toString());
    h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquireWithMaxHold("w1", "L1", 1 * S, 1 * S + 10, 5, 2_000)
        .acquire("w2", "L1", 2 * S, 2 * S + 500_000_000L, 9) // before the max hold, with the session alive
        .release("w1", "L1", 6 * S, 6 * S + 10, 5, "fail")
        .build();
    assertFalse(SessionTtlChecker.check(h).valid());
  }

  @Test
  void aTakeoverAfterTheHoldersClientGaveUpIsFine() {
    // w1's client declared the session expired at 7.4 s (TTL less its margin) and closed it; w2
    // got the lock at 7.8 s; w1's loop, blocked in a release, noticed only at 9 s.
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .release("w1", "L1", 6 * S, 9 * S - 10, 5, "fail")
        .acquire("w2", "L1", 4 * S, 7 * S + 800_000_000L, 9)
        .sessionLost("w1", 9 * S, 7 * S + 400_000_000L)
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void aPausedWorkersClientGaveNothingUpWhileItWasStopped() {
    // w1 was stopped from 3 s to 14 s. Its client's own deadline (2 s + 6 s - 0.6 s = 7.4 s) passed
    // during the pause, so it could close nothing before it was continued: w2's grant at 7.6 s is
    // 0.4 s before w1's TTL ran out, and only a cluster could have ended the session.
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .nemesis("pause", "w1", 3 * S, "held_key", "L1", "held_token", 5L)
        .acquire("w2", "L1", 4 * S, 7 * S + 600_000_000L, 9)
        .nemesis("resume", "w1", 14 * S, "signalled_t", 14 * S - 10)
        .sessionLost("w1", 14 * S + 5, 7 * S + 400_000_000L)
        .release("w1", "L1", 15 * S, 15 * S + 10, 5, "fail")
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid(), v.toString());
    assertTrue(v.problems().get(0).contains("0.40 s before"), v.toString());
  }

  @Test
  void aGiveUpAfterTheTakeoverExcusesNothing() {
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .acquire("w2", "L1", 4 * S, 5 * S, 9) // 3 s too early, before w1's client gave up
        .sessionLost("w1", 9 * S, 7 * S + 400_000_000L)
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("3.00 s before"), v.toString());
  }

  @Test
  void aClientToldItsSessionIsGoneExcusesNoEarlyExpiry() {
    // The cluster ended w1's session at about 4 s and said so to its client at 4.2 s; w2's grant
    // returned at 4.5 s, 3.5 s before w1's keepalive at 2 s + TTL 6 s ran out.
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .acquire("w2", "L1", 3 * S, 4 * S + 500_000_000L, 9)
        .sessionLost("w1", 5 * S, 4 * S + 200_000_000L)
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("3.50 s before"), v.toString());
  }

  @Test
  void aReleaseBeforeTheGrantIsAHandOver() {
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .release("w1", "L1", 3 * S, 3 * S + 10, 5, "ok")
        .acquire("w2", "L1", 2 * S, 3 * S + 20, 9)
        .build();
    assertTrue(SessionTtlChecker.check(h).valid());
  }

  @Test
  void catchesAnOrphanReclaimedTooLate() {
    // paused holder's session could expire at 8 s; bound 4 s; the waiter got it only at 13 s
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .nemesis("pause", "w1", 3 * S, "held_key", "L1", "held_token", 5L)
        .acquire("prober", "L1", 3 * S, 13 * S, 9)
        .nemesis("resume", "w1", 14 * S)
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("re-granted 5.00 s after"), v.toString());
  }

  /** w1's open sent at 2 s and answered at 6 s; it takes L1 and is paused; the prober gets L1 at {@code regrantAt}. */
  private static History openAnsweredLate(long regrantAt) {
    return new Histories()
        .keepalive("w1", 6 * S, 2 * S, 6_000)
        .acquire("w1", "L1", 6 * S, 6 * S + 10, 5)
        .nemesis("pause", "w1", 6 * S + 20, "held_key", "L1", "held_token", 5L)
        .acquire("prober", "L1", 7 * S, regrantAt, 9)
        .nemesis("resume", "w1", 20 * S)
        .build();
  }

  @Test
  void anOrphansTimeCountsFromWhenItsLastKeepaliveWasAnswered() {
    // The open went out at 2 s, during a restart of the whole cluster, and was answered at 6 s: the
    // session may run until 12 s, so a re-grant at 13.5 s is within the 4 s bound (16 s). Counted
    // from the send it would look 3.5 s late (the chaos run of 2026-12-05, seed -5431630198449222281).
    Verdict ok = SessionTtlChecker.check(openAnsweredLate(13 * S + S / 2));
    assertTrue(ok.valid(), ok.toString());
    // The same re-grant at 16.5 s is late, by the same rule.
    Verdict v = SessionTtlChecker.check(openAnsweredLate(16 * S + S / 2));
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("re-granted 4.50 s after"), v.toString());
  }

  @Test
  void catchesAnOrphanNeverReclaimedWhileSomeoneWaited() {
    History h = new Histories()
        .keepalive("w1", 2 * S + 1, 2 * S, 6_000)
        .acquire("w1", "L1", 0, 1 * S, 5)
        .nemesis("pause", "w1", 3 * S, "held_key", "L1", "held_token", 5L)
        .acquireFailed("prober", "L1", 3 * S, 13 * S)
        .nemesis("resume", "w1", 14 * S)
        .build();
    Verdict v = SessionTtlChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("not re-granted"), v.toString());
  }
}
