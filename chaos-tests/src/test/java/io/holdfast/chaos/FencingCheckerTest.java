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
}
