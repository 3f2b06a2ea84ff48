package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.holdfast.client.ClusterStatus;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The line `holdfast status` prints about apply rules during and after a rolling upgrade. */
class StatusRulesLineTest {
  static ClusterStatus member(String id, int writes, int knows) {
    return new ClusterStatus(id, "c", "FOLLOWER", "n1", "", 1, 1, 1, List.of(), Duration.ofSeconds(1),
        Duration.ofSeconds(60), "x", writes, knows);
  }

  @Test
  void namesTheMembersWhoseBuildKnowsMoreThanTheClusterWrites() {
    assertEquals("apply rules: 2; n1, n3 know 3 (the leader raises them once every voter does)",
        StatusCommand.applyRulesLine(Arrays.asList(member("n1", 2, 3), member("n2", 2, 2), member("n3", 2, 3), null)));
    assertEquals("apply rules: 3", StatusCommand.applyRulesLine(List.of(member("n1", 3, 3), member("n2", 3, 3))));
    // A member that has not applied the raise yet still says 2: the cluster writes the highest seen.
    assertEquals("apply rules: 3", StatusCommand.applyRulesLine(List.of(member("n1", 3, 3), member("n2", 2, 3))));
  }

  @Test
  void saysNothingWhenNoMemberReportsRules() {
    assertNull(StatusCommand.applyRulesLine(Arrays.asList(member("n1", 0, 0), null)));
  }
}
