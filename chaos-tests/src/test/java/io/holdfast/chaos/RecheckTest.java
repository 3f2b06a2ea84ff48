package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Re-runs the history checkers on an old run: {@code -Dchaos.check=target/chaos/<run-id>}.
 * Skipped without the property. The node lock tables are not in the history, so that check is not
 * repeated; the last heal is taken from the nemesis entries.
 */
class RecheckTest {
  @Test
  void recheck() {
    String dir = System.getProperty("chaos.check");
    assumeTrue(dir != null && !dir.isBlank(), "no -Dchaos.check=<run-dir>");
    Path runDir = Path.of(dir);
    assumeTrue(Files.exists(runDir.resolve("history.jsonl")), "no history.jsonl in " + runDir);
    History h = History.read(runDir.resolve("history.jsonl"));
    // The run judged liveness from its final heal-all, written after every fault had ended.
    long lastHeal = h.ops().stream()
        .filter(op -> "nemesis".equals(op.proc()) && "heal-all".equals(op.f()))
        .mapToLong(Op::t).max()
        .orElseGet(() -> h.ops().stream().filter(op -> "nemesis".equals(op.proc())).mapToLong(Op::t).max().orElse(0));
    List<Verdict> verdicts = List.of(LockSafetyChecker.check(h), LinearizabilityChecker.check(h),
        SessionTtlChecker.check(h), FencingChecker.checkFenced(h),
        FencingChecker.checkCanary(h), FencingChecker.checkKv(h), FencingChecker.checkKvFinal(h),
        FencingChecker.checkKvPaused(h),
        LivenessChecker.checkRecovery(h, lastHeal, TimeUnit.MILLISECONDS.toNanos(ChaosRunTest.SETTLE_MS), 0.95, 30),
        LivenessChecker.checkFinalGrants(h, ChaosRunTest.FINAL_PROC, ChaosRunTest.KEYS), MembershipChecker.check(h));
    verdicts.forEach(System.out::println);
    for (Verdict v : verdicts) {
      assertTrue(v.valid(), v.toString());
    }
  }
}
