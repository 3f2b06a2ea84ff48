package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.TestLog;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** A command a follower passed on carries the leader's limits once the leader logs it. */
class LeaderLimitsTest {
  static final LeaderLimits LEADER = new LeaderLimits(5_000, 1_000, 10, 20, 30, 4_000, 2,
      new LeaderLimits.Times(1_000, 60_000, 30_000, 5_000));
  private final TestLog log = new TestLog();

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
    assertNull(LEADER.refusal(small, 1_100, state()));
    String entry = LEADER.refusal(small, 5_001, state());
    assertTrue(entry.contains("log entry of 5001 bytes"), entry);
    // As the leader answers it when asked directly: RESOURCE_EXHAUSTED, not a malformed request.
    assertTrue(entry.startsWith(LeaderLimits.LIMIT_REACHED), entry);
    String value = LEADER.refusal(new Command.Batch(List.of(new Command.Put("r", "k", new byte[1_001], -1, "", 0, 0))),
        1_200, state());
    assertTrue(value.contains("max-value-bytes"), value);
  }

  @Test
  void anOpenPassedOnIsCheckedAgainstTheLeadersSessionLimitAndState() {
    ClientInfo agent = new ClientInfo("agent", "host", 1, new TreeMap<>(), "anonymous");
    log.apply(new Command.OpenSession("first", 5_000, agent, "agent-7", 0));
    Command.OpenSession another = new Command.OpenSession("another", 5_000, agent, "", 0);
    assertNull(LEADER.refusal(another, 100, state()), "one live session, the leader's limit is 2");
    log.apply(new Command.OpenSession("second", 5_000, agent, "", 0));

    String refused = LEADER.refusal(another, 100, state());
    assertTrue(refused.startsWith(LeaderLimits.LIMIT_REACHED) && refused.contains("max-sessions"), refused);
    assertTrue(LEADER.refusal(new Command.Batch(List.of(new Command.CloseSession("c", 1), another)), 100, state())
        .contains("max-sessions"), "an open inside a batch is counted too");
    assertNull(LEADER.refusal(new Command.OpenSession("second", 5_000, agent, "", 0), 100, state()),
        "a retry of an open that went through adds no session");
    assertNull(LEADER.refusal(new Command.OpenSession("again", 5_000, agent, "agent-7", 0), 100, state()),
        "taking over its own ghost's key adds no session");
    assertNull(new LeaderLimits(5_000, 1_000, 10, 20, 30, 4_000, 0, LeaderLimits.Times.ANY).refusal(another, 100, state()), "0: no limit");
  }

  @Test
  void timesOutsideTheLeadersBoundsAreRefused() {
    ClientInfo agent = new ClientInfo("agent", "host", 1, new TreeMap<>(), "alice");
    assertTrue(LEADER.refusal(new Command.OpenSession("r", 86_400_000, agent, "", 0), 100, state())
        .contains("ttl_ms 86400000 is out of the leader's bounds [1000, 60000]"));
    assertTrue(LEADER.refusal(new Command.OpenSession("r", 999, agent, "", 0), 100, state()).contains("ttl_ms"));
    assertNull(LEADER.refusal(new Command.OpenSession("r", 60_000, agent, "", 0), 100, state()));
    assertTrue(LEADER.refusal(new Command.Acquire("r", 7, "fleet/a", 30_001, 0, 0, 0, 0), 100, state())
        .contains("max-wait-ms"));
    assertNull(LEADER.refusal(new Command.Acquire("r", 7, "fleet/a", -1, 0, 0, 0, 0), 100, state()), "-1: until granted");
    assertTrue(LEADER.refusal(new Command.Batch(List.of(new Command.Acquire("r", 7, "fleet/a", 0, 5_001, 0, 0, 0))), 100,
        state()).contains("max-lock-delay-ms"));
  }

  /** The test log's state, read as a leader reads its own. */
  private StateReader state() {
    return new StateReader() {
      @Override
      public <T> T read(java.util.function.Function<io.holdfast.server.state.HoldfastState, T> f) {
        return f.apply(log.state());
      }
    };
  }
}
