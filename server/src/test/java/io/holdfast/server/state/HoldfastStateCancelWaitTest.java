package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.CancelWait;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HoldfastStateCancelWaitTest {
  private final TestLog log = new TestLog();
  private long a;
  private long b;
  private long c;
  private long tokenA;

  /** a holds x; b then c wait for it. */
  @BeforeEach
  void queue() {
    a = log.open();
    b = log.open();
    c = log.open();
    tokenA = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    log.acquire("c-x", c, "x", 60_000);
  }

  private static void failure(Result r, ErrorCode code) {
    assertEquals(code, assertInstanceOf(Result.Failure.class, r).code(), r.toString());
  }

  @Test
  void cancellingAQueuedWaitRemovesItAndTheNextReleaseSkipsIt() {
    long index = log.nextIndex();

    Result r = log.apply(new CancelWait("b-cancel", b, "x", "b-x", true));

    assertEquals(new Result.WaitCancelled(false, false, 0), r);
    assertEquals(List.of(new StateEvent.WaitEnded(index, "x", b, "b-x", EndReason.CLOSED)), log.events());
    assertEquals(List.of(c), log.waiterSessions("x"));
    assertEquals(new Result.Released(c), log.release(a, "x", tokenA));
    assertTrue(log.state().heldLocks(b).isEmpty());
    // The cancelled acquire, retried, does not queue again.
    assertEquals(new Result.NotGranted(c), log.acquire("b-x", b, "x", -1));
    assertTrue(log.waiterSessions("x").isEmpty());
  }

  @Test
  void cancelWithoutAnAcquireRequestIdCancelsTheSessionsWait() {
    assertEquals(new Result.WaitCancelled(false, false, 0),
        log.apply(new CancelWait("c-cancel", c, "x", "", false)));
    assertEquals(List.of(b), log.waiterSessions("x"));
  }

  @Test
  void cancelAfterTheGrantWonTheRaceReleasesWhenAskedAndPassesTheLockOn() {
    long grantIndex = log.nextIndex();
    log.release(a, "x", tokenA);
    long cancelIndex = log.nextIndex();

    Result r = log.apply(new CancelWait("b-cancel", b, "x", "b-x", true));

    assertEquals(new Result.WaitCancelled(true, true, grantIndex), r);
    assertEquals(List.of(
        new StateEvent.LockReleased(cancelIndex, "x", b, grantIndex, EndReason.CLOSED),
        new StateEvent.LockGranted(cancelIndex, "x", c, cancelIndex)), log.events());
    assertEquals(c, log.state().lock("x").holderSessionId());
    assertTrue(log.state().heldLocks(b).isEmpty(), "b never holds a lock it does not know of");
  }

  @Test
  void cancelAfterTheGrantWonTheRaceKeepsTheLockWhenNotAskedToRelease() {
    long grantIndex = log.nextIndex();
    log.release(a, "x", tokenA);
    List<StateImage.LockImage> locksBefore = log.state().image().locks();

    Result r = log.apply(new CancelWait("b-cancel", b, "x", "b-x", false));

    assertEquals(new Result.WaitCancelled(true, false, grantIndex), r);
    assertTrue(log.events().isEmpty());
    assertEquals(b, log.state().lock("x").holderSessionId());
    assertEquals(grantIndex, log.state().lock("x").token());
    assertEquals(locksBefore, log.state().image().locks(), "c still waits behind b");
  }

  @Test
  void retriedCancelActsOnceAndDoesNotReleaseTheNextHolder() {
    log.release(a, "x", tokenA);
    CancelWait cancel = new CancelWait("b-cancel", b, "x", "b-x", true);
    Result first = log.apply(cancel);
    long tokenC = log.state().lock("x").token();

    assertEquals(first, log.apply(cancel));

    assertTrue(log.events().isEmpty());
    assertEquals(c, log.state().lock("x").holderSessionId());
    assertEquals(tokenC, log.state().lock("x").token());
  }

  @Test
  void cancelOfNothingIsWaitNotFoundAndChangesNothing() {
    byte[] before = log.stateBytes();

    // a holds x but through a different acquire; c waits, but under another request id.
    failure(log.apply(new CancelWait("a-cancel", a, "x", "never-sent", true)), ErrorCode.WAIT_NOT_FOUND);
    failure(log.apply(new CancelWait("c-cancel", c, "x", "b-x", true)), ErrorCode.WAIT_NOT_FOUND);
    failure(log.apply(new CancelWait("c-cancel-y", c, "y", "", true)), ErrorCode.WAIT_NOT_FOUND);

    assertArrayEquals(before, log.stateBytes());
    assertEquals(List.of(b, c), log.waiterSessions("x"));
    assertEquals(a, log.state().lock("x").holderSessionId());
  }
}
