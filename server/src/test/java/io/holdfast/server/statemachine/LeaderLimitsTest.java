package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** A command a follower passed on carries the leader's limits once the leader logs it. */
class LeaderLimitsTest {
  static final LeaderLimits LEADER = new LeaderLimits(5_000, 1_000, 10, 20, 30, 4_000);

  @Test
  void theFollowersLimitsAreReplacedByTheLeaders() {
    Command.Acquire a = (Command.Acquire) LEADER.relimit(new Command.Acquire("r", 7, "fleet/a", 1_000, 5, 6, 0, 0));
    assertEquals(10, a.maxLocksPerSession());
    assertEquals(20, a.maxWaitersPerLock());
    assertEquals(new Command.Acquire("r", 7, "fleet/a", 1_000, 5, 6, 10, 20), a, "nothing else changed");

    Command.Put p = (Command.Put) LEADER.relimit(new Command.Put("r", "k", new byte[] {1, 2}, 3, "fleet/a", 9, 0));
    assertEquals(4_000, p.maxKvBytes());
    assertArrayEquals(new byte[] {1, 2}, p.value());
    assertEquals("k", p.key());
    assertEquals(9, p.fenceToken());

    ClientInfo alice = new ClientInfo("agent", "host", 1, new TreeMap<>(), "alice");
    Command.OpenSession o = (Command.OpenSession) LEADER.relimit(new Command.OpenSession("r", 5_000, alice, "", 0));
    assertEquals(30, o.maxSessionsPerIdentity());
    ClientInfo anonymous = new ClientInfo("agent", "host", 1, new TreeMap<>(), "anonymous");
    Command.OpenSession unlimited = (Command.OpenSession) LEADER.relimit(
        new Command.OpenSession("r", 5_000, anonymous, "", 0));
    assertEquals(0, unlimited.maxSessionsPerIdentity(), "the anonymous identity is every unauthenticated client");

    Command.Batch b = (Command.Batch) LEADER.relimit(new Command.Batch(List.of(
        new Command.Acquire("r1", 7, "fleet/a", 0, 0, 0, 99, 99), new Command.CloseSession("r2", 7))));
    assertEquals(10, ((Command.Acquire) b.commands().get(0)).maxLocksPerSession());
    assertEquals(new Command.CloseSession("r2", 7), b.commands().get(1));
  }

  @Test
  void anEntryOrAValueLargerThanTheLeaderTakesIsRefused() {
    Command.Put small = new Command.Put("r", "k", new byte[1_000], -1, "", 0, 0);
    assertNull(LEADER.refusal(small, 1_100));
    assertTrue(LEADER.refusal(small, 5_001).contains("log entry of 5001 bytes"));
    String value = LEADER.refusal(new Command.Batch(List.of(new Command.Put("r", "k", new byte[1_001], -1, "", 0, 0))),
        1_200);
    assertTrue(value.contains("max-value-bytes"), value);
  }
}
