package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MembershipCheckerTest {
  private static Op nemesis(long t, String f, String key, Map<String, Object> value) {
    return new Op(t, "nemesis", "info", f, key, value);
  }

  @Test
  void aSwapThatCouldNotBeMadeForWantOfALeaderIsCountedNotFailed() {
    History h = new History();
    h.add(nemesis(1, "member-added", "n6", Map.of("fault", 1)));
    h.add(nemesis(2, "member-removed", "n1", Map.of("fault", 1)));
    h.add(nemesis(3, "member-add-failed", "n7", Map.of("fault", 2, "error", "UNAVAILABLE: no leader")));
    Verdict v = MembershipChecker.check(h);
    assertTrue(v.valid(), v.toString());
    assertEquals("1 added, 1 removed, 1 not done", v.note());
  }

  @Test
  void aSwapTheClusterRefusedIsAFailure() {
    History h = new History();
    h.add(nemesis(1, "member-add-failed", "n6", Map.of("fault", 11,
        "error", "FAILED_PRECONDITION: n6 runs a build that knows apply rules up to 2 and the cluster writes 3")));
    Verdict v = MembershipChecker.check(h);
    assertFalse(v.valid(), v.toString());
    assertTrue(v.problems().get(0).contains("n6"), v.toString());
  }
}
