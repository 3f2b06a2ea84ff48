package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FencingCheckerTest {
  @Test
  void acceptedWritesBackedByGrantsAreValid() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).stored("fenced", "L1", 12, "w1", 5, true)
        .acquire("w2", "L1", 20, 30, 9).stored("fenced", "L1", 32, "w2", 9, true)
        .stored("fenced", "L1", 40, "w1", 5, false)
        .build();
    Verdict v = FencingChecker.checkFenced(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesAStoreThatAcceptedAnOlderToken() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .acquire("w2", "L1", 20, 30, 9).stored("fenced", "L1", 32, "w2", 9, true)
        .stored("fenced", "L1", 40, "w1", 5, true)
        .build();
    Verdict v = FencingChecker.checkFenced(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("token 5 after"), v.toString());
  }

  @Test
  void catchesAWriteWithoutAGrantBehindIt() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .stored("fenced", "L1", 12, "w2", 5, true) // w2 never held token 5
        .stored("fenced", "L2", 14, "w1", 5, true) // token 5 was for L1
        .stored("fenced", "L1", 16, "w1", 6, true) // no such grant
        .build();
    Verdict v = FencingChecker.checkFenced(h);
    assertFalse(v.valid());
    assertTrue(v.problems().size() == 3, v.toString());
  }

  @Test
  void catchesAStaleWriteUnderATokenThatDidNotAdvance() {
    // the server handed w2 the same token as w1 although w1's grant came first: w1's late write is stale
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .acquire("w2", "L1", 20, 30, 5).stored("fenced", "L1", 32, "w2", 5, true)
        .stored("fenced", "L1", 40, "w1", 5, true)
        .build();
    Verdict v = FencingChecker.checkFenced(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("stale write accepted"), v.toString());
  }

  @Test
  void catchesAWriteDecidedBeforeItsGrantReturned() {
    History h = new Histories().stored("fenced", "L1", 5, "w1", 5, true).acquire("w1", "L1", 0, 10, 5).build();
    assertFalse(FencingChecker.checkFenced(h).valid());
  }

  @Test
  void canaryFiresOnAStaleWrite() {
    History h = new Histories()
        .stored("unfenced", "L1", 10, "w2", 9, true)
        .stored("unfenced", "L1", 20, "w1", 5, true)
        .build();
    Verdict v = FencingChecker.checkCanary(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void canaryFailsWhenFaultsDidNotBite() {
    History h = new Histories()
        .stored("unfenced", "L1", 10, "w1", 5, true)
        .stored("unfenced", "L1", 20, "w2", 9, true)
        .stored("unfenced", "L2", 30, "w1", 3, true)
        .stored("fenced", "L1", 40, "w1", 1, false)
        .build();
    Verdict v = FencingChecker.checkCanary(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("did not bite"), v.toString());
  }

  @Test
  void theFencedStoreRefusesOlderTokensAndTheUnfencedOneDoesNot() {
    History h = new History();
    try (FencedStore store = new FencedStore(h)) {
      assertTrue(store.decide(true, "L1", 9, "w2", "a"));
      assertFalse(store.decide(true, "L1", 5, "w1", "b"));
      assertTrue(store.decide(true, "L1", 9, "w2", "c"));
      assertTrue(store.decide(true, "L2", 1, "w1", "d"));
      assertTrue(store.decide(false, "L1", 9, "w2", "a"));
      assertTrue(store.decide(false, "L1", 5, "w1", "b"));
    }
    assertTrue(FencingChecker.checkCanary(h).valid());
    assertTrue(FencingChecker.regressions(FencingChecker.decisions(h, "fenced")).isEmpty());
  }

  // ---------------------------------------------------------------- Holdfast's KV

  /** w1 granted token 5, paused; w2 granted 9 and wrote; w1 wakes and writes with 5. */
  private static Histories pausedHolder(String lateOutcome) {
    return new Histories()
        .acquire("w1", "L1", 0, 10, 5).nemesis("pause", "w1", 11, "held_key", "L1", "held_token", 5L)
        .acquire("w2", "L1", 20, 30, 9).kvWrite("w2", "L1", 32, 34, 9, "ok")
        .kvWrite("w1", "L1", 40, 42, 5, lateOutcome);
  }

  @Test
  void kvStaleWriteRefusedIsValid() {
    History h = pausedHolder("fail").kvRead("L1", 100, 9, "w2-9").build();
    assertTrue(FencingChecker.checkKv(h).valid(), FencingChecker.checkKv(h).toString());
    assertTrue(FencingChecker.checkKvFinal(h).valid(), FencingChecker.checkKvFinal(h).toString());
    Verdict paused = FencingChecker.checkKvPaused(h);
    assertTrue(paused.valid(), paused.toString());
    assertTrue(FencingChecker.checkKv(h).note().startsWith("1 KV writes accepted, 1 refused as stale"),
        FencingChecker.checkKv(h).toString());
  }

  @Test
  void kvCatchesAStaleWriteAccepted() {
    // the bad history: the paused holder's put with token 5 accepted after the put with 9 returned
    History h = pausedHolder("ok").kvRead("L1", 100, 5, "w1-5").build();
    Verdict v = FencingChecker.checkKv(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("with token 5 accepted after w2's put with token 9"), v.toString());
    Verdict fin = FencingChecker.checkKvFinal(h);
    assertFalse(fin.valid());
    assertTrue(fin.problems().get(0).contains("below the highest accepted token 9"), fin.toString());
    Verdict paused = FencingChecker.checkKvPaused(h);
    assertFalse(paused.valid());
    assertTrue(paused.problems().get(0).contains("was accepted"), paused.toString());
  }

  @Test
  void kvCatchesAStaleGrantEvenWithEqualOrderedTokens() {
    // a frozen token (the skip-fencing build): both grants carry token 1, so the token rule holds,
    // but w1's grant returned before w2's was invoked and w1's put came after w2's was accepted
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 1).acquire("w2", "L1", 20, 30, 1)
        .kvWrite("w2", "L1", 32, 34, 1, "ok").kvWrite("w1", "L1", 40, 42, 1, "ok")
        .build();
    Verdict v = FencingChecker.checkKv(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).startsWith("stale KV put accepted"), v.toString());
  }

  @Test
  void kvInfoWritesAreNeitherEvidenceNorForgotten() {
    // w1's put with 5 is unanswered (info) and overlaps nothing certain: it may have been applied.
    // An info put is no violation; a final value carrying its token is fine when it is >= the highest
    // accepted; a final value from a refused put, or with no put behind it, is not.
    Histories base = new Histories()
        .acquire("w1", "L1", 0, 10, 5).kvWrite("w1", "L1", 12, 14, 5, "info")
        .acquire("w2", "L1", 20, 30, 9).kvWrite("w2", "L1", 32, 34, 9, "info")
        .acquire("w3", "L1", 40, 50, 12).kvWrite("w3", "L1", 52, 54, 12, "fail");
    assertTrue(FencingChecker.checkKv(base.build()).valid());
    History maybeApplied = new Histories()
        .acquire("w1", "L1", 0, 10, 5).kvWrite("w1", "L1", 12, 14, 5, "ok")
        .acquire("w2", "L1", 20, 30, 9).kvWrite("w2", "L1", 32, 34, 9, "info")
        .kvRead("L1", 100, 9, "w2-9").build();
    assertTrue(FencingChecker.checkKvFinal(maybeApplied).valid(), FencingChecker.checkKvFinal(maybeApplied).toString());
    History fromRefused = new Histories()
        .acquire("w1", "L1", 0, 10, 5).kvWrite("w1", "L1", 12, 14, 5, "ok")
        .acquire("w3", "L1", 40, 50, 12).kvWrite("w3", "L1", 52, 54, 12, "fail")
        .kvRead("L1", 100, 12, "w3-12").build();
    assertFalse(FencingChecker.checkKvFinal(fromRefused).valid());
    History lost = new Histories()
        .acquire("w1", "L1", 0, 10, 5).kvWrite("w1", "L1", 12, 14, 5, "ok")
        .kvRead("L1", 100, 0, null).build();
    assertFalse(FencingChecker.checkKvFinal(lost).valid());
  }

  @Test
  void kvCatchesAnAcceptedPutWithoutAGrant() {
    History h = new Histories().acquire("w1", "L1", 0, 10, 5).kvWrite("w2", "L1", 12, 14, 5, "ok").build();
    Verdict v = FencingChecker.checkKv(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("matches no earlier ok acquire"), v.toString());
  }

  @Test
  void kvPausedCheckFailsWhenThePauseDidNotBite() {
    History h = pausedHolder(null).build(); // the late put never answered
    assertFalse(FencingChecker.checkKvPaused(h).valid());
  }
}
