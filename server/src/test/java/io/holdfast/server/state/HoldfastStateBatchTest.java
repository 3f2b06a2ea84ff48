package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.AdminExpireSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.statemachine.CommandCodec;
import io.holdfast.server.statemachine.ResultCodec;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Commands batched into one entry behave exactly as if each had an entry of its own: same results,
 * same state, and tokens, session ids and revisions that never repeat.
 */
class HoldfastStateBatchTest {

  private static Result apply(HoldfastState s, long index, List<Command> commands, List<StateEvent> events) {
    return s.apply(new LogEntry(index, 1, 1_700_000_000_000L, new Command.Batch(commands)), events::add);
  }

  @Test
  void commandsInOneEntryGetConsecutiveRevisionsAndTheNextEntryContinuesAfterThem() {
    HoldfastState s = new HoldfastState();
    List<StateEvent> events = new ArrayList<>();
    Result r = apply(s, 1, List.of(
        new OpenSession("o1", 10_000, TestLog.CLIENT),
        new OpenSession("o2", 10_000, TestLog.CLIENT),
        new OpenSession("o3", 10_000, TestLog.CLIENT)), events);

    List<Result> results = assertInstanceOf(Result.Batch.class, r).results();
    assertEquals(List.of(new Result.SessionOpened(1, 10_000), new Result.SessionOpened(2, 10_000),
        new Result.SessionOpened(3, 10_000)), results);
    assertEquals(1, s.lastAppliedIndex(), "the Raft position is the entry's");
    assertEquals(3, s.lastRevision());

    // Entry 2 holds two acquires: revisions 4 and 5, not 2, which session 2 already has.
    r = apply(s, 2, List.of(new Acquire("a1", 1, "x", 0), new Acquire("a2", 2, "y", 0)), events);
    assertEquals(List.of(new Result.Granted(4), new Result.Granted(5)), assertInstanceOf(Result.Batch.class, r).results());
    // A single command after a batch: the next revision, above its own index 3.
    Result single = s.apply(new LogEntry(3, 1, 1_700_000_000_000L, new Acquire("a3", 3, "z", 0)), events::add);
    assertEquals(new Result.Granted(6), single);
    assertEquals(3, s.lastAppliedIndex());
    assertEquals(6, s.lastRevision());
  }

  @Test
  void aGrantAndTheHoldersEndInOneEntryGiveTheNextHolderALargerToken() {
    // The case that rules out one token per entry: A is granted and expired by an admin in the
    // same entry, B takes over; a zombie A must hold an older token than B.
    HoldfastState s = new HoldfastState();
    List<StateEvent> events = new ArrayList<>();
    s.apply(new LogEntry(1, 1, 1_700_000_000_000L, new OpenSession("oa", 10_000, TestLog.CLIENT)), events::add);
    s.apply(new LogEntry(2, 1, 1_700_000_000_000L, new OpenSession("ob", 10_000, TestLog.CLIENT)), events::add);
    s.apply(new LogEntry(3, 1, 1_700_000_000_000L, new Acquire("hold", 2, "busy", 0)), events::add);
    s.apply(new LogEntry(4, 1, 1_700_000_000_000L, new Acquire("b-waits", 2, "x", -1)), events::add);

    List<Result> results = assertInstanceOf(Result.Batch.class, apply(s, 5, List.of(
        new Acquire("a-gets", 1, "y", 0),
        new Acquire("a-first", 1, "x2", 0),
        new Acquire("b-queues", 2, "x2", -1),
        new AdminExpireSession("kill-a", 1, "test", "op")), events)).results();

    long aToken = assertInstanceOf(Result.Granted.class, results.get(1)).token();
    assertInstanceOf(Result.Queued.class, results.get(2));
    LockRecord x2 = s.lock("x2");
    assertEquals(2, x2.holderSessionId(), "B took the lock over when A's session ended");
    assertTrue(x2.token() > aToken, "B's token " + x2.token() + " must exceed A's " + aToken);
  }

  @Test
  void aBatchInsideABatchIsRefusedAndChangesNothing() {
    HoldfastState s = new HoldfastState();
    List<StateEvent> events = new ArrayList<>();
    Result r = apply(s, 1, List.of(new Command.Batch(List.of(new OpenSession("o", 10_000, TestLog.CLIENT)))), events);
    Result.Failure f = assertInstanceOf(Result.Failure.class, assertInstanceOf(Result.Batch.class, r).results().get(0));
    assertEquals(ErrorCode.INVALID_ARGUMENT, f.code());
    assertEquals(0, s.sessionCount());
    assertTrue(events.isEmpty());
  }

  /**
   * The random log of {@link StateDeterminismTest}, applied once with an entry per command and
   * once grouped into batches of 1 to 9: every result, every event and the final state are the
   * same (the numbering included: command k gets revision k either way).
   */
  @Test
  void aBatchedLogGivesTheSameResultsAndStateAsTheSameCommandsOneByOne() throws Exception {
    for (long seed = 1; seed <= 4; seed++) {
      List<LogEntry> log = StateDeterminismTest.randomLog(seed, 3_000);
      Random groups = new Random(seed * 31);
      HoldfastState single = new HoldfastState();
      HoldfastState batched = new HoldfastState();
      List<StateEvent> singleEvents = new ArrayList<>();
      List<StateEvent> batchedEvents = new ArrayList<>();
      long entryIndex = 0;
      for (int i = 0; i < log.size(); ) {
        int n = Math.min(1 + groups.nextInt(9), log.size() - i);
        LogEntry first = log.get(i);
        List<Command> commands = new ArrayList<>();
        List<Result> one = new ArrayList<>();
        for (int k = 0; k < n; k++) {
          LogEntry e = log.get(i + k);
          commands.add(e.command());
          // One by one, each at its own index but with the batch's term and leader time.
          one.add(single.apply(new LogEntry(e.index(), first.term(), first.leaderTimeMs(), e.command()),
              singleEvents::add));
        }
        entryIndex++;
        byte[] bytes = CommandCodec.encode(n == 1 ? commands.get(0) : new Command.Batch(commands), first.leaderTimeMs());
        CommandCodec.Decoded d = CommandCodec.decode(bytes);
        Result b = batched.apply(new LogEntry(entryIndex, first.term(), d.leaderTimeMs(), d.command()),
            batchedEvents::add);
        List<Result> got = n == 1 ? List.of(b) : ((Result.Batch) ResultCodec.decode(ResultCodec.encode(b))).results();
        assertEquals(n, got.size());
        for (int k = 0; k < n; k++) {
          assertArrayEquals(ResultCodec.encode(one.get(k)), ResultCodec.encode(got.get(k)),
              "seed " + seed + ", command " + (i + k + 1));
        }
        i += n;
      }
      assertEquals(singleEvents, batchedEvents, "seed " + seed + ": the same events, numbered the same");
      assertEquals(single.lastRevision(), batched.lastRevision());
      assertArrayEquals(withoutRaftPosition(single.image()), withoutRaftPosition(batched.image()), "seed " + seed);
      assertTrue(batched.lastAppliedIndex() < single.lastAppliedIndex(), "fewer entries when batched");
    }
  }

  @Test
  void aSnapshotKeepsTheRevisionAheadOfTheIndexAndAnOlderBinaryCannotMistakeIt() throws Exception {
    HoldfastState s = new HoldfastState();
    apply(s, 1, List.of(new OpenSession("o1", 10_000, TestLog.CLIENT), new OpenSession("o2", 10_000, TestLog.CLIENT)),
        new ArrayList<>());
    byte[] snap = SnapshotCodec.encode(s.image());
    var proto = io.holdfast.server.statemachine.proto.Snapshot.parseFrom(snap);
    assertEquals(3, proto.getFormatVersion(), "a revision ahead of the index needs the newest format");
    HoldfastState restored = new HoldfastState();
    restored.restore(SnapshotCodec.decode(snap));
    assertEquals(2, restored.lastRevision());
    Result next = restored.apply(new LogEntry(2, 1, 1_700_000_000_000L, new OpenSession("o3", 10_000, TestLog.CLIENT)),
        e -> { });
    assertEquals(new Result.SessionOpened(3, 10_000), next, "session ids go on after the batch's, not at index 2");
  }

  private static byte[] withoutRaftPosition(StateImage i) {
    return SnapshotCodec.encode(new StateImage(0, 0, i.clockElapsedMs(), i.clockLastStampMs(), i.clockLastStampTerm(),
        i.clockWallMs(), i.sessions(), i.locks(), i.recentOpens(), i.adminRequests(), i.audit(), i.kv(),
        i.kvRequests(), i.fencingEpoch(), i.lastRevision()));
  }
}
