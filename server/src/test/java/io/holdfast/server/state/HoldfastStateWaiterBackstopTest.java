package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A queued acquire with wait W whose caller vanished is dropped by apply once the log's clock has
 * moved more than W + 5 s past the moment it queued.
 */
class HoldfastStateWaiterBackstopTest {
  /** The slack the design gives the front door to cancel on time before apply steps in. */
  private static final long SLACK_MS = 5_000;

  private final TestLog log = new TestLog();
  private long a;
  private long b;
  private long c;
  private long tokenA;

  @BeforeEach
  void holder() {
    a = log.open();
    b = log.open();
    c = log.open();
    tokenA = log.acquireFree(a, "x");
  }

  @Test
  void waiterIsDroppedOnlyOnceTheLogClockPassesItsWaitPlusSlack() {
    log.advanceMs(1_234);
    long queuedAt = log.state().clock().elapsedMs();
    assertEquals(new Result.Queued(1), log.acquire("b-x", b, "x", 2_000));
    Waiter w = log.state().lock("x").waiters().iterator().next();
    assertEquals(queuedAt + 2_000 + SLACK_MS, w.deadlineClockMs());

    log.advanceMs(2_000 + SLACK_MS);
    assertEquals(List.of(b), log.waiterSessions("x"), "exactly at the deadline it still waits");
    assertTrue(log.events().isEmpty());

    long index = log.nextIndex();
    log.advanceMs(1);

    assertEquals(List.of(new StateEvent.WaitEnded(index, "x", b, "b-x", EndReason.TIMED_OUT)), log.events());
    assertTrue(log.waiterSessions("x").isEmpty());
    assertEquals(a, log.state().lock("x").holderSessionId(), "the holder is not disturbed");
    assertTrue(log.state().session(b) != null, "only the wait ends, not the session");
    assertEquals(new Result.NotGranted(a), log.acquire("b-x", b, "x", 2_000), "a retry does not queue again");
    assertEquals(new Result.Released(0), log.release(a, "x", tokenA));
    assertNull(log.state().lock("x"));
  }

  @Test
  void overdueWaiterIsSkippedAtHandOver() {
    log.acquire("b-x", b, "x", 1_000);
    log.acquire("c-x", c, "x", -1);
    long index = log.nextIndex();

    // The release is the first entry past b's deadline.
    log.setTimeMs(log.timeMs() + 1_000 + SLACK_MS + 1);
    Result r = log.release(a, "x", tokenA);

    assertEquals(new Result.Released(c), r);
    assertEquals(List.of(
        new StateEvent.WaitEnded(index, "x", b, "b-x", EndReason.TIMED_OUT),
        new StateEvent.LockReleased(index, "x", a, tokenA, EndReason.CLOSED),
        new StateEvent.LockGranted(index, "x", c, index)), log.events());
    assertTrue(log.state().heldLocks(b).isEmpty());
  }

  @Test
  void waiterThatIsStillInTimeIsGrantedAtHandOver() {
    log.acquire("b-x", b, "x", 1_000);
    log.setTimeMs(log.timeMs() + 1_000 + SLACK_MS);

    assertEquals(new Result.Released(b), log.release(a, "x", tokenA));
  }

  @Test
  void waitersAreDroppedEachAtTheirOwnDeadline() {
    log.acquire("b-x", b, "x", 1_000);
    log.acquire("c-x", c, "x", 3_000);

    log.advanceMs(1_000 + SLACK_MS + 1);
    assertEquals(List.of(c), log.waiterSessions("x"));
    assertEquals(new Result.Queued(1), log.acquire("c-x", c, "x", 3_000), "c moved up");

    log.advanceMs(2_000);
    assertTrue(log.waiterSessions("x").isEmpty());
  }

  @Test
  void waiterWithoutATimeLimitIsNeverDropped() {
    log.acquire("b-x", b, "x", -1);

    log.advanceMs(10L * 3_600_000);

    assertEquals(List.of(b), log.waiterSessions("x"));
    assertEquals(new Result.Released(b), log.release(a, "x", tokenA));
  }

  @Test
  void timeAcrossALeaderChangeDoesNotCountTowardsTheDeadline() {
    log.acquire("b-x", b, "x", 1_000);

    // A new leader whose clock is an hour ahead.
    log.applyAt(log.term() + 1, log.timeMs() + 3_600_000, new Checkpoint(List.of()));
    assertEquals(List.of(b), log.waiterSessions("x"));

    log.advanceMs(1_000 + SLACK_MS);
    assertEquals(List.of(b), log.waiterSessions("x"));
    log.advanceMs(1);
    assertTrue(log.waiterSessions("x").isEmpty());
  }
}
