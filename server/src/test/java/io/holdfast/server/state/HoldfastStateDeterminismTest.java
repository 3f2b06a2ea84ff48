package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.RandomCommandLog.Generated;
import io.holdfast.server.state.RandomCommandLog.Step;
import io.holdfast.server.statemachine.CommandCodec;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The same log gives the same results, events and snapshot bytes on every replica. */
class HoldfastStateDeterminismTest {
  private static final int COMMANDS = 3_000;

  @ParameterizedTest
  @ValueSource(longs = {1, 7, 20240601})
  void replicasFedTheSameLogAgreeOnEveryResultAndOnTheSnapshotBytes(long seed) throws Exception {
    Generated log = RandomCommandLog.generate(seed, COMMANDS);
    HoldfastState direct = new HoldfastState();
    HoldfastState decoded = new HoldfastState();

    int n = 0;
    for (Step step : log.steps()) {
      LogEntry e = step.entry();
      List<StateEvent> directEvents = new ArrayList<>();
      Result directResult = direct.apply(e, directEvents::add);

      // The second replica reads each command back from its log encoding.
      CommandCodec.Decoded d = CommandCodec.decode(CommandCodec.encode(e.command(), e.leaderTimeMs()));
      assertEquals(e.command(), d.command(), "command codec round trip");
      assertEquals(e.leaderTimeMs(), d.leaderTimeMs());
      List<StateEvent> decodedEvents = new ArrayList<>();
      Result decodedResult = decoded.apply(new LogEntry(e.index(), e.term(), d.leaderTimeMs(), d.command()),
          decodedEvents::add);

      String at = "entry " + e + " (seed " + seed + ")";
      assertEquals(step.result(), directResult, at);
      assertEquals(directResult, decodedResult, at);
      assertEquals(step.events(), directEvents, at);
      assertEquals(directEvents, decodedEvents, at);
      if (++n % 250 == 0) {
        assertArrayEquals(SnapshotCodec.encode(direct.image()), SnapshotCodec.encode(decoded.image()), at);
      }
    }
    byte[] finalDirect = SnapshotCodec.encode(direct.image());
    assertArrayEquals(log.finalSnapshot(), finalDirect);
    assertArrayEquals(finalDirect, SnapshotCodec.encode(decoded.image()));
    assertTrue(direct.sessionCount() > 0, "the log ends with live sessions");
  }

  /**
   * Replacing every refused command by an empty checkpoint at the same index, term and time
   * yields the very same state: a refusal changes nothing, anywhere in a long random history.
   */
  @ParameterizedTest
  @ValueSource(longs = {3, 11})
  void refusedCommandsLeaveNoTraceInARandomHistory(long seed) {
    Generated log = RandomCommandLog.generate(seed, COMMANDS);
    HoldfastState shadow = new HoldfastState();
    int refused = 0;
    int n = 0;
    for (Step step : log.steps()) {
      LogEntry e = step.entry();
      boolean noOp = step.result() instanceof Result.Failure
          || step.result().equals(new Result.SessionExpired(false, List.of()));
      if (noOp) {
        refused++;
        List<StateEvent> events = new ArrayList<>();
        shadow.apply(new LogEntry(e.index(), e.term(), e.leaderTimeMs(), new Checkpoint(List.of())), events::add);
        // Only waiters whose deadline this entry's time passed may end.
        assertEquals(step.events(), events, "events of refused " + e + " -> " + step.result());
      } else {
        shadow.apply(e, ev -> { });
      }
      if (++n % 500 == 0) {
        // Rebuild the generator's replica up to here to compare mid-way, too.
        HoldfastState reference = replay(log.steps().subList(0, n));
        assertArrayEquals(SnapshotCodec.encode(reference.image()), SnapshotCodec.encode(shadow.image()),
            "after " + e);
      }
    }
    assertTrue(refused > COMMANDS / 20, "the log holds refusals: " + refused);
    assertArrayEquals(log.finalSnapshot(), SnapshotCodec.encode(shadow.image()));
  }

  /**
   * What must hold after every entry: a stored lock is held by a live session that knows it,
   * waiters are live and distinct, and tokens strictly increase (each one its granting entry's
   * revision or one past it) and never repeat across locks, across releases, expiries, hand-overs
   * and leader changes.
   */
  @ParameterizedTest
  @ValueSource(longs = {5, 99})
  void invariantsHoldAfterEveryEntryOfARandomHistory(long seed) {
    Generated log = RandomCommandLog.generate(seed, COMMANDS);
    HoldfastState state = new HoldfastState();
    Map<String, Long> lastToken = new HashMap<>();
    Set<Long> granted = new HashSet<>();
    for (Step step : log.steps()) {
      LogEntry e = step.entry();
      List<StateEvent> events = new ArrayList<>();
      state.apply(e, events::add);
      String at = "after " + e + " -> " + step.result();

      for (StateEvent ev : events) {
        // The entry's revision: its index, or past it once an earlier entry took extra revisions.
        assertEquals(events.get(0).index(), ev.index(), "one revision per entry; " + at);
        assertTrue(ev.index() >= e.index() && ev.index() <= state.lastRevision(), at);
        if (ev instanceof StateEvent.LockGranted g) {
          // Its entry's revision, or a revision of its own past it for every grant after the
          // entry's first (LockTable.grant).
          assertTrue(g.token() >= ev.index() && g.token() <= state.lastRevision(),
              "token " + g.token() + " is neither its entry's index nor a revision taken since; " + at);
          assertTrue(granted.add(g.token()), "token " + g.token() + " granted twice; " + at);
          Long previous = lastToken.put(g.lockName(), g.token());
          assertTrue(previous == null || previous < g.token(), "token went from " + previous + " to "
              + g.token() + " on " + g.lockName() + "; " + at);
        }
      }
      for (LockRecord lock : state.locks("")) {
        assertTrue(lock.isHeld(), "stored lock " + lock.name() + " is free; " + at);
        SessionRecord holder = state.session(lock.holderSessionId());
        assertTrue(holder != null, "holder of " + lock.name() + " is gone; " + at);
        assertTrue(holder.heldLocks.contains(lock.name()), at);
        assertTrue(lock.token() <= state.lastRevision(), at);
        Set<Long> seen = new HashSet<>();
        for (Waiter w : lock.waiters()) {
          SessionRecord ws = state.session(w.sessionId());
          assertTrue(ws != null, "waiter of " + lock.name() + " is gone; " + at);
          assertTrue(ws.waitingOn.contains(lock.name()), at);
          assertTrue(seen.add(w.sessionId()), "session queued twice on " + lock.name() + "; " + at);
          assertTrue(w.sessionId() != lock.holderSessionId(), "holder queued on its own lock; " + at);
          assertTrue(w.deadlineClockMs() == 0 || w.deadlineClockMs() >= state.clock().elapsedMs(),
              "overdue waiter still queued; " + at);
        }
      }
      for (SessionRecord s : state.sessions()) {
        for (String name : s.heldLocks) {
          assertEquals(s.id(), state.lock(name).holderSessionId(), at);
        }
        for (String name : s.waitingOn) {
          assertTrue(state.lock(name).waiterOf(s.id()) != null, at);
        }
      }
    }
  }

  /** Guards the generator: the histories above really contain what they are meant to test. */
  @Test
  void randomHistoryExercisesEveryOutcome() {
    Generated log = RandomCommandLog.generate(1, COMMANDS);
    Map<String, Integer> seen = new TreeMap<>();
    long term = -1;
    for (Step step : log.steps()) {
      Result r = step.result();
      String kind = r instanceof Result.Failure f ? "Failure." + f.code() : r.getClass().getSimpleName();
      if (r instanceof Result.SessionExpired x) {
        kind += "." + x.expired();
      } else if (r instanceof Result.WaitCancelled w) {
        kind += "." + w.wasGranted() + "." + w.released();
      }
      seen.merge(kind, 1, Integer::sum);
      for (StateEvent ev : step.events()) {
        if (ev instanceof StateEvent.WaitEnded w) {
          seen.merge("WaitEnded." + w.reason(), 1, Integer::sum);
        } else if (ev instanceof StateEvent.LockGranted && !(step.entry().command() instanceof Command.Acquire)) {
          seen.merge("HandOver", 1, Integer::sum);
        }
      }
      if (step.entry().term() != term) {
        seen.merge("Term", 1, Integer::sum);
        term = step.entry().term();
      }
    }
    for (String expected : List.of("SessionOpened", "SessionClosed", "SessionExpired.true", "SessionExpired.false",
        "Granted", "Queued", "NotGranted", "Released", "CheckpointApplied", "WaitCancelled.false.false",
        "WaitCancelled.true.true", "WaitCancelled.true.false", "Failure.SESSION_NOT_FOUND", "Failure.NOT_HOLDER",
        "Failure.STALE_TOKEN", "Failure.INVALID_ARGUMENT", "Failure.WAIT_NOT_FOUND", "Failure.REQUEST_ID_REUSED",
        "WaitEnded.TIMED_OUT", "WaitEnded.EXPIRED", "WaitEnded.CLOSED", "HandOver")) {
      assertTrue(seen.getOrDefault(expected, 0) > 0, expected + " never happened: " + seen);
    }
    assertTrue(seen.get("Term") >= 10, "leader changes: " + seen);
    assertFalse(log.steps().isEmpty());
  }

  private static HoldfastState replay(List<Step> steps) {
    HoldfastState s = new HoldfastState();
    steps.forEach(st -> s.apply(st.entry(), ev -> { }));
    return s;
  }
}
