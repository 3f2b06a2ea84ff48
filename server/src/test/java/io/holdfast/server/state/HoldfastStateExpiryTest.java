package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.List;
import org.junit.jupiter.api.Test;

class HoldfastStateExpiryTest {
  private final TestLog log = new TestLog();

  @Test
  void expiryBasedOnTheCurrentRenewalEndsTheSessionAndHandsItsLocksOn() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long tokenX = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    log.acquireFree(c, "y");
    log.acquire("a-y", a, "y", -1);
    long expireIndex = log.nextIndex();

    Result r = log.apply(new ExpireSession(a, log.state().session(a).renewedIndex()));

    assertEquals(new Result.SessionExpired(true, List.of("x")), r);
    assertNull(log.state().session(a));
    assertEquals(b, log.state().lock("x").holderSessionId());
    assertEquals(expireIndex, log.state().lock("x").token());
    assertTrue(log.waiterSessions("y").isEmpty(), "the expired session's wait is gone");
    assertEquals(List.of(
        new StateEvent.WaitEnded(expireIndex, "y", a, "a-y", EndReason.EXPIRED),
        new StateEvent.LockReleased(expireIndex, "x", a, tokenX, EndReason.EXPIRED),
        new StateEvent.LockGranted(expireIndex, "x", b, expireIndex),
        new StateEvent.SessionEnded(expireIndex, a, EndReason.EXPIRED)), log.events());
  }

  @Test
  void expiryBasedOnARenewalThatACheckpointSupersededIsIgnored() {
    long a = log.open();
    long b = log.open();
    log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    long basis = log.state().session(a).renewedIndex();
    long checkpointIndex = log.nextIndex();
    assertEquals(new Result.CheckpointApplied(List.of()), log.checkpoint(a));
    assertEquals(checkpointIndex, log.state().session(a).renewedIndex());
    byte[] before = log.stateBytes();

    Result r = log.apply(new ExpireSession(a, basis));

    assertEquals(new Result.SessionExpired(false, List.of()), r);
    assertTrue(log.events().isEmpty());
    assertArrayEquals(before, log.stateBytes());
    assertNotNull(log.state().session(a));
    assertEquals(a, log.state().lock("x").holderSessionId());

    // An expiry computed from the checkpoint's renewal does take effect.
    assertEquals(new Result.SessionExpired(true, List.of("x")),
        log.apply(new ExpireSession(a, checkpointIndex)));
    assertEquals(b, log.state().lock("x").holderSessionId());
  }

  @Test
  void expiryOfAGoneSessionIsIgnored() {
    long a = log.open();
    long basis = log.state().session(a).renewedIndex();
    log.apply(new Command.CloseSession(log.newRequestId(), a));

    assertEquals(new Result.SessionExpired(false, List.of()), log.apply(new ExpireSession(a, basis)));
    assertEquals(new Result.SessionExpired(false, List.of()), log.apply(new ExpireSession(777, 0)));
    assertTrue(log.events().isEmpty());
  }

  @Test
  void checkpointRenewsOnlyLiveSessionsAndRecordsTheLogsTime() {
    long a = log.open();
    long b = log.open();
    log.apply(new Command.CloseSession(log.newRequestId(), b));
    log.advanceMs(700);
    long index = log.nextIndex();

    Result r = log.checkpoint(a, b, 999L);

    assertEquals(new Result.CheckpointApplied(List.of(b, 999L)), r);
    assertEquals(List.of(new StateEvent.SessionRenewed(index, a, 10_000)), log.events());
    SessionRecord s = log.state().session(a);
    assertEquals(index, s.renewedIndex());
    assertEquals(log.timeMs(), s.renewedAtMs());
    assertEquals(log.state().clock().elapsedMs(), s.renewedAtClockMs());
    assertEquals(700, s.renewedAtClockMs());
  }
}
