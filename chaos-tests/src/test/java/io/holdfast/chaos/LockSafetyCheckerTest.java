package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LockSafetyCheckerTest {
  @Test
  void aCleanHandOverIsValid() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).release("w1", "L1", 20, 30, 5, "ok")
        .acquire("w2", "L1", 15, 35, 9).release("w2", "L1", 40, 50, 9, "ok")
        .acquire("w3", "L2", 0, 5, 7)
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void concurrentAcquiresMayCompleteInAnyOrder() {
    // both invoked before either returned: either grant may have come first
    History h = new Histories().acquire("w1", "L1", 0, 50, 9).acquire("w2", "L1", 10, 40, 5).build();
    assertTrue(LockSafetyChecker.check(h).valid());
  }

  @Test
  void aLeaseValidUntilTheNextGrantIsValid() {
    // w1's lease, revoked at its max hold, said valid at 20; w2's grant came back at 30.
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).leaseValid("w1", "L1", 20, 5)
        .acquire("w2", "L1", 5, 30, 9).leaseValid("w2", "L1", 40, 9)
        .leaseValid("w3", "L2", 50, 1)
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesALeaseThatSaysValidAfterANewerGrant() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .acquire("w2", "L1", 5, 30, 9)
        .leaseValid("w1", "L1", 35, 5)
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("said valid at 35"), v.toString());
  }

  @Test
  void catchesADuplicateToken() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).release("w1", "L1", 20, 30, 5, "ok")
        .acquire("w2", "L2", 40, 50, 5)
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("granted twice"), v.toString());
  }

  @Test
  void catchesATokenThatGoesBackInRealTime() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 9).release("w1", "L1", 20, 30, 9, "ok")
        .acquire("w2", "L1", 40, 50, 7)
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().get(0).contains("token order"), v.toString());
  }

  @Test
  void catchesTwoHoldersAtOnce() {
    // w2's grant returned at 25 while w1 still held (its release at 40 succeeded)
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .acquire("w2", "L1", 5, 25, 9)
        .release("w1", "L1", 40, 45, 5, "ok")
        .release("w2", "L1", 50, 55, 9, "ok")
        .build();
    Verdict v = LockSafetyChecker.check(h);
    assertFalse(v.valid());
    assertTrue(v.problems().stream().anyMatch(p -> p.contains("two holders")), v.toString());
  }

  @Test
  void aFailedReleaseProvesNoHold() {
    // w1's release failed (its session had expired): w1 may have lost the lock before w2 got it
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5)
        .acquire("w2", "L1", 5, 25, 9)
        .release("w1", "L1", 40, 45, 5, "fail")
        .release("w2", "L1", 50, 55, 9, "ok")
        .build();
    assertTrue(LockSafetyChecker.check(h).valid());
  }

  @Test
  void historiesSurviveAJsonRoundTrip(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 5).acquire("w2", "L1", 5, 25, 9)
        .release("w1", "L1", 40, 45, 5, "ok").release("w2", "L1", 50, 55, 9, "ok")
        .build();
    h.write(dir.resolve("history.jsonl"));
    History back = History.read(dir.resolve("history.jsonl"));
    org.junit.jupiter.api.Assertions.assertEquals(h.ops(), back.ops());
    assertFalse(LockSafetyChecker.check(back).valid());
  }
}
