package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.statemachine.CommandCodec;
import io.holdfast.server.statemachine.ResultCodec;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The state machine alone, no network: the same command log gives the same results and
 * byte-identical snapshots on every instance, and a snapshot taken anywhere restores to a state
 * that carries on identically.
 */
class StateDeterminismTest {

  /** A seeded log of a few thousand commands, valid and invalid, over a few sessions and locks. */
  static List<LogEntry> randomLog(long seed, int n) {
    Random r = new Random(seed);
    List<LogEntry> log = new ArrayList<>();
    List<Long> sessions = new ArrayList<>();
    String[] locks = {"a", "b", "fleet/c", "fleet/d", "bad name"};
    long term = 1;
    long time = 1_000_000;
    for (long index = 1; index <= n; index++) {
      if (r.nextInt(200) == 0) {
        term++; // a leader change; the new leader's clock may be far off
        time += r.nextInt(20_000) - 10_000;
      }
      time += r.nextInt(300);
      String lock = locks[r.nextInt(locks.length)];
      long session = sessions.isEmpty() || r.nextInt(20) == 0 ? 1 + r.nextInt((int) index)
          : sessions.get(r.nextInt(sessions.size()));
      String rid = "r" + r.nextInt(400); // reused now and then, on purpose
      Command c = switch (r.nextInt(14)) {
        case 0 -> new Command.OpenSession(rid, 1_000 + r.nextInt(10_000),
            new ClientInfo("c" + r.nextInt(5), "h", r.nextInt(100), new TreeMap<>()),
            r.nextBoolean() ? "" : "key/" + r.nextInt(3));
        case 1 -> new Command.CloseSession(rid, session);
        case 2 -> new Command.ExpireSession(session, r.nextBoolean() ? session : index - 1 - r.nextInt(5));
        case 3, 4 -> new Command.Acquire(rid, session, lock, r.nextInt(4) - 1, r.nextInt(3) * 500, r.nextInt(3) * 700);
        case 5, 6 -> new Command.Release(rid, session, lock, index - 1 - r.nextInt(30));
        case 7 -> new Command.CancelWait(rid, session, lock, r.nextBoolean() ? "" : rid, r.nextBoolean());
        case 8 -> new Command.Revoke(rid, lock, r.nextInt(4) == 0 ? "" : "why", r.nextBoolean() ? 0 : session, "op");
        case 9 -> new Command.AdminExpireSession(rid, session, "dead host", "op");
        case 10 -> new Command.Put(rid, "cfg/" + r.nextInt(4), ("v" + index).getBytes(), r.nextInt(3) - 1,
            r.nextBoolean() ? "" : lock, index - 1 - r.nextInt(20));
        case 11 -> new Command.Delete(rid, "cfg/" + r.nextInt(4), r.nextInt(2) - 1, "", 0);
        default -> new Command.Checkpoint(sessions.isEmpty() ? List.of() : List.of(sessions.get(r.nextInt(sessions.size()))));
      };
      if (c instanceof Command.OpenSession) {
        sessions.add(index);
      }
      log.add(new LogEntry(index, term, time, c));
    }
    return log;
  }

  static List<byte[]> applyAll(HoldfastState s, List<LogEntry> log, boolean throughCodec) throws Exception {
    List<byte[]> results = new ArrayList<>();
    for (LogEntry e : log) {
      LogEntry entry = e;
      if (throughCodec) {
        CommandCodec.Decoded d = CommandCodec.decode(CommandCodec.encode(e.command(), e.leaderTimeMs()));
        entry = new LogEntry(e.index(), e.term(), d.leaderTimeMs(), d.command());
      }
      results.add(ResultCodec.encode(s.apply(entry, ev -> { })));
    }
    return results;
  }

  @Test
  void theSameLogGivesTheSameResultsAndByteIdenticalSnapshots() throws Exception {
    for (long seed = 1; seed <= 5; seed++) {
      List<LogEntry> log = randomLog(seed, 3_000);
      HoldfastState a = new HoldfastState();
      HoldfastState b = new HoldfastState();
      List<byte[]> ra = applyAll(a, log, false);
      List<byte[]> rb = applyAll(b, log, true);
      for (int i = 0; i < ra.size(); i++) {
        assertArrayEquals(ra.get(i), rb.get(i), "seed " + seed + ", result of entry " + (i + 1));
      }
      assertArrayEquals(SnapshotCodec.encode(a.image()), SnapshotCodec.encode(b.image()), "seed " + seed);
      assertTrue(a.sessionCount() > 0 || !a.locks("").isEmpty() || a.audit(0, "", 10).size() > 0,
          "the log exercised something");
    }
  }

  @Test
  void aSnapshotTakenAnywhereRestoresAndCarriesOnIdentically() throws Exception {
    List<LogEntry> log = randomLog(42, 4_000);
    HoldfastState original = new HoldfastState();
    HoldfastState restored = null;
    List<byte[]> afterOriginal = new ArrayList<>();
    List<byte[]> afterRestored = new ArrayList<>();
    int cut = 1_733;
    for (int i = 0; i < log.size(); i++) {
      byte[] r = ResultCodec.encode(original.apply(log.get(i), ev -> { }));
      if (i + 1 == cut) {
        byte[] snap = SnapshotCodec.encode(original.image());
        restored = new HoldfastState();
        restored.restore(SnapshotCodec.decode(snap));
        assertArrayEquals(snap, SnapshotCodec.encode(restored.image()), "round trip");
      } else if (i + 1 > cut) {
        afterOriginal.add(r);
        afterRestored.add(ResultCodec.encode(restored.apply(log.get(i), ev -> { })));
      }
    }
    for (int i = 0; i < afterOriginal.size(); i++) {
      assertArrayEquals(afterOriginal.get(i), afterRestored.get(i), "entry " + (cut + 1 + i));
    }
    assertArrayEquals(SnapshotCodec.encode(original.image()), SnapshotCodec.encode(restored.image()));
    assertEquals(original.lastAppliedIndex(), restored.lastAppliedIndex());
  }
}
