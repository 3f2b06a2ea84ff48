package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LivenessCheckerTest {
  private static Histories mostlyOk(int ok, int failed, long from) {
    Histories h = new Histories();
    long t = from;
    for (int i = 0; i < ok; i++, t += 10) {
      h.acquire("w1", "L1", t, t + 1, 1000 + i).release("w1", "L1", t + 2, t + 3, 1000 + i, "ok");
    }
    for (int i = 0; i < failed; i++, t += 10) {
      h.acquireFailed("w2", "L1", t, t + 5);
    }
    return h;
  }

  @Test
  void recoveredRunIsValid() {
    // failures before the settle time do not count
    History h = mostlyOk(0, 50, 0).build();
    Histories more = mostlyOk(50, 2, 1_000);
    more.build().ops().forEach(h::add);
    Verdict v = LivenessChecker.checkRecovery(h, 100, 500, 0.95, 30);
    assertTrue(v.valid(), v.toString());
  }

  @Test
  void catchesAClusterThatDidNotRecover() {
    History h = mostlyOk(20, 20, 1_000).build();
    Verdict v = LivenessChecker.checkRecovery(h, 100, 500, 0.95, 30);
    assertFalse(v.valid(), v.toString());
  }

  @Test
  void aReleaseRefusedAfterItsMaxHoldRanOutIsNotAFailure() {
    long s = 1_000_000_000L;
    Histories h = mostlyOk(40, 0, 1_000);
    for (int i = 0; i < 20; i++) {
      long t = 2 * s + i * s;
      // a 300 ms max hold, released 500 ms after the acquire: the cluster had taken it back
      h.acquireWithMaxHold("w3", "L2", t, t + 10, 100 + i, 300).release("w3", "L2", t + s / 2, t + s / 2 + 5, 100 + i,
          "fail");
    }
    Verdict v = LivenessChecker.checkRecovery(h.build(), 100, 500, 0.95, 30);
    assertTrue(v.valid(), v.toString());
    // refused before its max hold could have run out: a failure
    Histories early = mostlyOk(40, 0, 1_000);
    for (int i = 0; i < 20; i++) {
      long t = 2 * s + i * s;
      early.acquireWithMaxHold("w3", "L2", t, t + 10, 100 + i, 3_000).release("w3", "L2", t + s / 2, t + s / 2 + 5,
          100 + i, "fail");
    }
    assertFalse(LivenessChecker.checkRecovery(early.build(), 100, 500, 0.95, 30).valid());
  }

  @Test
  void tooFewOperationsIsNotAPass() {
    History h = mostlyOk(5, 0, 1_000).build();
    assertFalse(LivenessChecker.checkRecovery(h, 100, 500, 0.95, 30).valid());
  }

  @Test
  void operationsThatNeverReturnCountAsFailures() {
    Histories b = mostlyOk(30, 0, 1_000);
    History h = b.build();
    for (int i = 0; i < 5; i++) {
      h.add(new Op(5_000 + i, "w" + (3 + i), "invoke", "acquire", "L1", Map.of()));
    }
    assertFalse(LivenessChecker.checkRecovery(h, 100, 500, 0.95, 30).valid());
  }

  @Test
  void catchesNodesThatDisagree() {
    Map<String, List<String>> same = new LinkedHashMap<>();
    same.put("n1", List.of("L1 FREE holder=0 token=7"));
    same.put("n2", List.of("L1 FREE holder=0 token=7"));
    assertTrue(LivenessChecker.checkTables(same).valid());
    Map<String, List<String>> differ = new LinkedHashMap<>(same);
    differ.put("n3", List.of("L1 HELD holder=4 token=7"));
    assertFalse(LivenessChecker.checkTables(differ).valid());
    Map<String, List<String>> silent = new LinkedHashMap<>(same);
    silent.put("n3", null);
    assertFalse(LivenessChecker.checkTables(silent).valid());
  }

  @Test
  void longestUnavailabilityIsTheWidestGapBetweenSuccesses() {
    History h = new Histories()
        .acquire("w1", "L1", 0, 10, 1).release("w1", "L1", 12, 20, 1, "ok")
        .acquire("w1", "L1", 30, 100, 2).release("w1", "L1", 110, 120, 2, "ok")
        .build();
    assertEquals(80, LivenessChecker.longestUnavailabilityNanos(h, 0, 130));
    assertEquals(100, LivenessChecker.longestUnavailabilityNanos(h, 0, 220));
  }

  @Test
  void catchesAKeyTheFinalReaderCouldNotTake() {
    History h = new Histories().acquire("final", "L1", 0, 10, 5).acquireFailed("final", "L2", 20, 30).build();
    assertTrue(LivenessChecker.checkFinalGrants(h, "final", List.of("L1")).valid());
    assertFalse(LivenessChecker.checkFinalGrants(h, "final", List.of("L1", "L2")).valid());
  }
}
