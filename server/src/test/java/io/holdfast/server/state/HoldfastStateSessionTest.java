package io.holdfast.server.state;

import static io.holdfast.server.state.TestLog.CLIENT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.CancelWait;
import io.holdfast.server.state.Command.CloseSession;
import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class HoldfastStateSessionTest {
  private final TestLog log = new TestLog();

  private static Result.Failure failure(Result r, ErrorCode code) {
    Result.Failure f = assertInstanceOf(Result.Failure.class, r);
    assertEquals(code, f.code(), f.message());
    return f;
  }

  @Test
  void openSessionIdIsTheEntryIndexAndRecordsTheClient() {
    log.checkpoint();
    log.checkpoint();
    long index = log.nextIndex();

    Result r = log.apply(new OpenSession("open-1", 15_000, CLIENT));

    assertEquals(new Result.SessionOpened(index, 15_000), r);
    SessionRecord s = log.state().session(index);
    assertNotNull(s);
    assertEquals(15_000, s.ttlMs());
    assertEquals(CLIENT, s.client());
    assertEquals(log.timeMs(), s.createdAtMs());
    assertEquals(index, s.renewedIndex(), "opening counts as the first renewal");
    assertEquals(List.of(new StateEvent.SessionOpened(index, index, 15_000)), log.events());
  }

  @Test
  void retriedOpenWithSameRequestIdReturnsTheSameSessionAndOpensNoOther() {
    OpenSession open = new OpenSession("open-1", 10_000, CLIENT);
    Result first = log.apply(open);
    byte[] before = log.stateBytes();

    Result retry = log.apply(open);

    assertEquals(first, retry);
    assertEquals(1, log.state().sessionCount());
    assertTrue(log.events().isEmpty(), "a retry opens nothing: " + log.events());
    assertArrayEquals(before, log.stateBytes());
  }

  @Test
  void retriedOpenStillAnswersAfterOtherSessionsWereOpened() {
    OpenSession open = new OpenSession("open-1", 10_000, CLIENT);
    long first = assertInstanceOf(Result.SessionOpened.class, log.apply(open)).sessionId();
    log.open();
    log.open();

    assertEquals(new Result.SessionOpened(first, 10_000), log.apply(open));
    assertEquals(3, log.state().sessionCount());
  }

  @Test
  void reusingAnOpenRequestIdWithDifferentParametersIsRefusedAndChangesNothing() {
    log.apply(new OpenSession("open-1", 10_000, CLIENT));
    byte[] before = log.stateBytes();

    failure(log.apply(new OpenSession("open-1", 20_000, CLIENT)), ErrorCode.REQUEST_ID_REUSED);
    ClientInfo other = new ClientInfo("other", CLIENT.host(), CLIENT.pid(), new TreeMap<>());
    failure(log.apply(new OpenSession("open-1", 10_000, other)), ErrorCode.REQUEST_ID_REUSED);

    assertEquals(1, log.state().sessionCount());
    assertArrayEquals(before, log.stateBytes());
  }

  @Test
  void openWithBadTtlOrRequestIdIsInvalidArgument() {
    failure(log.apply(new OpenSession("open-1", 0, CLIENT)), ErrorCode.INVALID_ARGUMENT);
    failure(log.apply(new OpenSession("open-2", -5, CLIENT)), ErrorCode.INVALID_ARGUMENT);
    failure(log.apply(new OpenSession("", 10_000, CLIENT)), ErrorCode.INVALID_ARGUMENT);
    failure(log.apply(new OpenSession("r".repeat(Names.MAX_REQUEST_ID + 1), 10_000, CLIENT)),
        ErrorCode.INVALID_ARGUMENT);
    assertEquals(0, log.state().sessionCount());

    // A refused open does not burn its request id.
    assertInstanceOf(Result.SessionOpened.class, log.apply(new OpenSession("open-1", 10_000, CLIENT)));
  }

  @Test
  void closeEndsTheSessionAndFreesItsLocks() {
    long a = log.open();
    long tokenX = log.acquireFree(a, "x");
    long tokenY = log.acquireFree(a, "y");
    long closeIndex = log.nextIndex();

    Result r = log.apply(new CloseSession(log.newRequestId(), a));

    assertEquals(new Result.SessionClosed(List.of("x", "y")), r);
    assertNull(log.state().session(a));
    assertNull(log.state().lock("x"), "a free lock without waiters is not stored");
    assertNull(log.state().lock("y"));
    assertEquals(List.of(
        new StateEvent.LockReleased(closeIndex, "x", a, tokenX, EndReason.CLOSED),
        new StateEvent.LockReleased(closeIndex, "y", a, tokenY, EndReason.CLOSED),
        new StateEvent.SessionEnded(closeIndex, a, EndReason.CLOSED)), log.events());
  }

  @Test
  void closeHandsEachHeldLockToItsNextWaiterInTheSameEntry() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long tokenX = log.acquireFree(a, "x");
    long tokenY = log.acquireFree(a, "y");
    assertEquals(new Result.Queued(1), log.acquire("b-x", b, "x", -1));
    assertEquals(new Result.Queued(1), log.acquire("c-y", c, "y", 60_000));
    long closeIndex = log.nextIndex();

    log.apply(new CloseSession(log.newRequestId(), a));

    assertEquals(b, log.state().lock("x").holderSessionId());
    assertEquals(closeIndex, log.state().lock("x").token(), "the new token is the closing entry's index");
    assertEquals(c, log.state().lock("y").holderSessionId());
    assertEquals(closeIndex + 1, log.state().lock("y").token(), "a second grant of the entry takes a revision of its own");
    assertEquals(List.of(
        new StateEvent.LockReleased(closeIndex, "x", a, tokenX, EndReason.CLOSED),
        new StateEvent.LockGranted(closeIndex, "x", b, closeIndex),
        new StateEvent.LockReleased(closeIndex, "y", a, tokenY, EndReason.CLOSED),
        new StateEvent.LockGranted(closeIndex, "y", c, closeIndex + 1),
        new StateEvent.SessionEnded(closeIndex, a, EndReason.CLOSED)), log.events());
    // The waiters' retried acquires now report the grant.
    assertEquals(new Result.Granted(closeIndex), log.acquire("b-x", b, "x", -1));
    assertEquals(new Result.Granted(closeIndex + 1), log.acquire("c-y", c, "y", 60_000));
  }

  @Test
  void closeWithdrawsTheSessionsOwnQueuedWaits() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long token = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    log.acquire("c-x", c, "x", -1);
    long closeIndex = log.nextIndex();

    assertEquals(new Result.SessionClosed(List.of()), log.apply(new CloseSession(log.newRequestId(), b)));

    assertEquals(List.of(
        new StateEvent.WaitEnded(closeIndex, "x", b, "b-x", EndReason.CLOSED),
        new StateEvent.SessionEnded(closeIndex, b, EndReason.CLOSED)), log.events());
    assertEquals(List.of(c), log.waiterSessions("x"));
    assertEquals(new Result.Released(c), log.release(a, "x", token), "the closed session is not granted");
  }

  @Test
  void commandsForAnUnknownOrClosedSessionFailWithSessionNotFound() {
    long a = log.open();
    log.apply(new CloseSession(log.newRequestId(), a));
    byte[] before = log.stateBytes();

    for (long id : new long[] {a, 999}) {
      failure(log.apply(new CloseSession(log.newRequestId(), id)), ErrorCode.SESSION_NOT_FOUND);
      failure(log.apply(new Acquire(log.newRequestId(), id, "x", 0)), ErrorCode.SESSION_NOT_FOUND);
      failure(log.apply(new Acquire(log.newRequestId(), id, "x", -1)), ErrorCode.SESSION_NOT_FOUND);
      failure(log.apply(new Release(log.newRequestId(), id, "x", 1)), ErrorCode.SESSION_NOT_FOUND);
      failure(log.apply(new CancelWait(log.newRequestId(), id, "x", "", true)), ErrorCode.SESSION_NOT_FOUND);
    }
    assertArrayEquals(before, log.stateBytes());
    assertNull(log.state().lock("x"), "no lock record was created for a missing session");
  }

  /**
   * Every refusal leaves the state byte-for-byte as it was: checked against a state with held
   * locks, a queue, cached requests and several sessions, one failing command after another.
   */
  @Test
  void failingCommandsChangeNothing() {
    OpenSession openA = new OpenSession("open-a", 10_000, CLIENT);
    long a = ((Result.SessionOpened) log.apply(openA)).sessionId();
    long b = log.open();
    long c = log.open();
    long tokenX = log.acquireFree(a, "x");
    log.acquireFree(c, "y");
    log.acquire("b-x", b, "x", 30_000);
    log.apply(new Acquire("a-z", a, "z", 0));
    log.checkpoint(a, b);
    long renewedA = log.state().session(a).renewedIndex();

    List<Command> refused = List.of(
        new OpenSession("open-a", 20_000, CLIENT),
        new OpenSession("", 10_000, CLIENT),
        new OpenSession("open-new", 0, CLIENT),
        new CloseSession("close-1", 12345),
        new Acquire("acq-1", a, "bad name", 0),
        new Acquire("acq-2", a, "", 0),
        new Acquire("acq-3", a, "q", -2),
        new Acquire("", a, "q", 0),
        new Acquire("acq-4", 12345, "x", -1),
        new Acquire("a-z", a, "other-lock", 0),
        new Acquire("b-x", b, "x", 0),
        new Release("rel-1", b, "x", tokenX),
        new Release("rel-2", a, "x", tokenX + 1),
        new Release("rel-3", a, "not-held", 1),
        new Release("rel-4", a, "x/", tokenX),
        new Release("a-z", a, "z", 1),
        new CancelWait("cw-1", c, "x", "", true),
        new CancelWait("cw-2", b, "x", "some-other-acquire", true),
        new CancelWait("cw-3", a, "nothing-here", "", false));
    for (Command cmd : refused) {
      byte[] before = log.stateBytes();
      Result r = log.apply(cmd);
      assertInstanceOf(Result.Failure.class, r, cmd.toString());
      assertArrayEquals(before, log.stateBytes(), "state changed by " + cmd + " -> " + r);
      assertTrue(log.events().isEmpty(), "events from " + cmd + ": " + log.events());
    }

    // Ignored expiries are not failures, but they change nothing either.
    for (Command cmd : List.of(new ExpireSession(a, renewedA - 1), new ExpireSession(12345, 1))) {
      byte[] before = log.stateBytes();
      assertEquals(new Result.SessionExpired(false, List.of()), log.apply(cmd), cmd.toString());
      assertArrayEquals(before, log.stateBytes(), "state changed by " + cmd);
      assertTrue(log.events().isEmpty());
    }
  }
}
