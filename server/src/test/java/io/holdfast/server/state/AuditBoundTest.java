package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An audit entry for a whole session keeps at most 100 lock names and counts the rest, from apply
 * rules 4 on: a thousand entries of thousand-lock sessions would otherwise hold hundreds of MB of
 * names on every node. An entry written under older rules replays as it was written.
 */
class AuditBoundTest {
  private static final int LOCKS = AuditEntry.LISTED_LOCKS + 50;

  @Test
  void anExpiredSessionsEntryNamesTheFirstHundredLocksAndCountsTheRest() throws Exception {
    TestLog log = new TestLog();
    List<String> held = holdMany(log);

    expire(log, LogEntry.RULES);
    AuditEntry e = lastAudit(log);
    assertEquals(held.subList(0, AuditEntry.LISTED_LOCKS), e.locks());
    assertEquals(50, e.locksNotListed());

    assertEquals(List.of(e), log.state().audit(0, held.get(LOCKS - 1), 10),
        "asked for a lock past the names it keeps, the entry that may have freed it is shown");
    assertEquals(List.of(e), log.state().audit(0, held.get(0), 10));
    assertEquals(List.of(), log.state().audit(0, "fleet/a-lock-before-them-all", 10));

    HoldfastState restored = new HoldfastState();
    restored.restore(SnapshotCodec.decode(SnapshotCodec.encode(log.state().image())));
    assertEquals(e, lastAudit(restored), "a snapshot keeps the count");
  }

  @Test
  void anEntryWrittenUnderRulesThreeStillNamesEveryLock() {
    TestLog log = new TestLog();
    List<String> held = holdMany(log);

    expire(log, 3);
    AuditEntry e = lastAudit(log);
    assertEquals(held, e.locks());
    assertEquals(0, e.locksNotListed());
  }

  private static List<String> holdMany(TestLog log) {
    long s = log.open();
    List<String> held = new ArrayList<>();
    for (int i = 0; i < LOCKS; i++) {
      String name = String.format("fleet/lock-%04d", i);
      log.acquireFree(s, name);
      held.add(name);
    }
    return held;
  }

  private static void expire(TestLog log, int rules) {
    SessionRecord s = log.state().sessions().iterator().next();
    Result r = log.applyUnder(rules, log.term(), log.timeMs() + 20_000, new ExpireSession(s.id(), s.renewedIndex()));
    assertEquals(LOCKS, ((Result.SessionExpired) r).releasedLocks().size());
  }

  private static AuditEntry lastAudit(TestLog log) {
    return lastAudit(log.state());
  }

  private static AuditEntry lastAudit(HoldfastState state) {
    List<AuditEntry> all = state.audit(0, "", 10);
    assertEquals(1, all.size(), all.toString());
    return all.get(0);
  }
}
