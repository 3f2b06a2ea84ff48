package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.LockDescription;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RenderingTest {
  @Test
  void aTimeTheClusterDidNotGiveIsJsonNullNotTheStringNull() {
    LockDescription held = new LockDescription("fleet/a", LockDescription.State.HELD, 7, "agent", "host-1", 42, 9,
        null, Duration.ofSeconds(5), List.of(new LockDescription.Waiter(8, "agent", "host-2", 43, null)),
        Duration.ZERO, Duration.ZERO, 0, "", "", 0, null, Duration.ZERO, "", Map.of(), "alice");
    String json = Rendering.compactJson(Rendering.lockJson(held));
    assertTrue(json.contains("\"acquired_at\":null") && json.contains("\"queued_at\":null"), json);
    assertTrue(!json.contains("\"null\""), json);
  }

  @Test
  void anAuditEntryThatNamesSomeOfItsLocksSaysHowManyMore() {
    io.holdfast.client.AuditRecord expired = new io.holdfast.client.AuditRecord(12, null, "EXPIRED", "", 7, "agent",
        "host-1", 42, 0, List.of("fleet/a", "fleet/b"), "no keepalive", "", 0, 150);
    assertTrue(Rendering.auditRow(expired).get(3).equals("fleet/a,fleet/b (+150 more)"), Rendering.auditRow(expired)
        .toString());
    String json = Rendering.compactJson(Rendering.auditJson(expired));
    assertTrue(json.contains("\"locks_not_listed\":150"), json);
  }
}
