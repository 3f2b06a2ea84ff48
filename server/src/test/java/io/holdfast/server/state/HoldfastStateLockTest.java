package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HoldfastStateLockTest {
  private final TestLog log = new TestLog();

  private static Result.Failure failure(Result r, ErrorCode code) {
    Result.Failure f = assertInstanceOf(Result.Failure.class, r);
    assertEquals(code, f.code(), f.message());
    return f;
  }

  @Test
  void acquireOfAFreeLockGrantsTheEntryIndexAsToken() {
    long a = log.open();
    log.checkpoint();
    long index = log.nextIndex();

    Result r = log.acquire("a-1", a, "fleet/aim_lock_config.conf", -1);

    assertEquals(new Result.Granted(index), r);
    LockRecord lock = log.state().lock("fleet/aim_lock_config.conf");
    assertEquals(a, lock.holderSessionId());
    assertEquals(index, lock.token());
    assertEquals("a-1", lock.grantRequestId());
    assertEquals(log.timeMs(), lock.acquiredAtMs());
    assertEquals(List.of("fleet/aim_lock_config.conf"), log.state().heldLocks(a));
    assertEquals(List.of(new StateEvent.LockGranted(index, "fleet/aim_lock_config.conf", a, index)), log.events());
  }

  @Test
  void tryAcquireOfAHeldLockIsNotGrantedAndDoesNotQueue() {
    long a = log.open();
    long b = log.open();
    log.acquireFree(a, "x");

    assertEquals(new Result.NotGranted(a), log.acquire("b-try", b, "x", 0));
    assertTrue(log.waiterSessions("x").isEmpty());
    assertTrue(log.events().isEmpty());
  }

  @Test
  void waitingAcquiresAreGrantedInFifoOrderWithIncreasingTokens() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long d = log.open();
    long token = log.acquireFree(a, "x");
    assertEquals(new Result.Queued(1), log.acquire("b-x", b, "x", -1));
    assertEquals(new Result.Queued(2), log.acquire("c-x", c, "x", 60_000));
    assertEquals(new Result.Queued(3), log.acquire("d-x", d, "x", -1));
    assertEquals(List.of(b, c, d), log.waiterSessions("x"));

    long holder = a;
    for (long next : new long[] {b, c, d}) {
      long index = log.nextIndex();
      assertEquals(new Result.Released(next), log.release(holder, "x", token));
      assertEquals(List.of(
          new StateEvent.LockReleased(index, "x", holder, token, EndReason.CLOSED),
          new StateEvent.LockGranted(index, "x", next, index)), log.events());
      LockRecord lock = log.state().lock("x");
      assertEquals(next, lock.holderSessionId());
      assertTrue(lock.token() > token, "tokens strictly increase: " + lock.token() + " after " + token);
      assertEquals(index, lock.token());
      holder = next;
      token = lock.token();
    }
    assertEquals(new Result.Released(0), log.release(d, "x", token));
    assertNull(log.state().lock("x"));
  }

  @Test
  void queuePositionsReportedToWaitersMoveUpAsTheQueueDrains() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long token = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    log.acquire("c-x", c, "x", -1);
    assertEquals(new Result.Queued(2), log.acquire("c-x", c, "x", -1));

    log.release(a, "x", token);

    assertEquals(new Result.Queued(1), log.acquire("c-x", c, "x", -1), "a retry reports the current place");
  }

  @Test
  void releaseByANonHolderIsNotHolderAndChangesNothing() {
    long a = log.open();
    long b = log.open();
    long token = log.acquireFree(a, "x");
    byte[] before = log.stateBytes();

    Result.Failure f = failure(log.release(b, "x", token), ErrorCode.NOT_HOLDER);
    assertEquals(token, f.currentToken());
    Result.Failure free = failure(log.release(b, "never-taken", 1), ErrorCode.NOT_HOLDER);
    assertEquals(0, free.currentToken());

    assertArrayEquals(before, log.stateBytes());
    assertEquals(a, log.state().lock("x").holderSessionId());
  }

  @Test
  void releaseWithAWrongTokenIsStaleTokenAndReportsTheCurrentToken() {
    long a = log.open();
    long old = log.acquireFree(a, "x");
    log.release(a, "x", old);
    long current = log.acquireFree(a, "x");
    byte[] before = log.stateBytes();

    Result.Failure f = failure(log.release(a, "x", old), ErrorCode.STALE_TOKEN);

    assertEquals(current, f.currentToken());
    assertArrayEquals(before, log.stateBytes());
    assertEquals(new Result.Released(0), log.release(a, "x", current));
  }

  @Test
  void reacquireByTheHolderReturnsTheSameToken() {
    long a = log.open();
    long token = log.acquireFree(a, "x");

    assertEquals(new Result.Granted(token), log.acquire(log.newRequestId(), a, "x", 0));
    assertEquals(new Result.Granted(token), log.acquire(log.newRequestId(), a, "x", -1));
    assertTrue(log.events().isEmpty(), "no new grant: " + log.events());
    assertEquals(token, log.state().lock("x").token());
  }

  @Test
  void retriedAcquireOfAGrantedLockReturnsTheSameGrantOnce() {
    long a = log.open();
    Acquire acquire = new Acquire("a-x", a, "x", -1);
    Result first = log.apply(acquire);
    byte[] before = log.stateBytes();

    assertEquals(first, log.apply(acquire));
    assertTrue(log.events().isEmpty());
    assertArrayEquals(before, log.stateBytes());
  }

  @Test
  void retriedAcquireAfterTheGrantWasReleasedDoesNotTakeTheLockAgain() {
    long a = log.open();
    long b = log.open();
    Acquire acquire = new Acquire("a-x", a, "x", -1);
    long token = assertInstanceOf(Result.Granted.class, log.apply(acquire)).token();
    log.release(a, "x", token);
    long tokenB = log.acquireFree(b, "x");

    Result.Failure f = failure(log.apply(acquire), ErrorCode.NOT_HOLDER);

    assertEquals(tokenB, f.currentToken());
    assertEquals(b, log.state().lock("x").holderSessionId());
    assertTrue(log.waiterSessions("x").isEmpty(), "the retry did not queue");
  }

  @Test
  void retriedQueuedAcquireDoesNotTakeASecondPlace() {
    long a = log.open();
    long b = log.open();
    long c = log.open();
    log.acquireFree(a, "x");
    Acquire queued = new Acquire("b-x", b, "x", 60_000);
    assertEquals(new Result.Queued(1), log.apply(queued));
    log.acquire("c-x", c, "x", -1);
    byte[] before = log.stateBytes();

    // A retry may carry a different remaining wait: it is the same request.
    assertEquals(new Result.Queued(1), log.apply(new Acquire("b-x", b, "x", 20_000)));
    assertEquals(new Result.Queued(1), log.apply(queued));

    assertEquals(List.of(b, c), log.waiterSessions("x"));
    assertArrayEquals(before, log.stateBytes());
  }

  @Test
  void retriedQueuedAcquireAfterItsGrantReportsTheGrant() {
    long a = log.open();
    long b = log.open();
    long token = log.acquireFree(a, "x");
    Acquire queued = new Acquire("b-x", b, "x", -1);
    log.apply(queued);
    long grantIndex = log.nextIndex();
    log.release(a, "x", token);

    assertEquals(new Result.Granted(grantIndex), log.apply(queued));
  }

  @Test
  void retriedReleaseActsOnceAndDoesNotReleaseALaterGrant() {
    long a = log.open();
    long b = log.open();
    long first = log.acquireFree(a, "x");
    Release release = new Release("a-rel", a, "x", first);
    assertEquals(new Result.Released(0), log.apply(release));
    long second = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", -1);
    byte[] before = log.stateBytes();

    assertEquals(new Result.Released(0), log.apply(release), "the retry answers as the first attempt did");

    assertTrue(log.events().isEmpty());
    assertArrayEquals(before, log.stateBytes());
    assertEquals(a, log.state().lock("x").holderSessionId());
    assertEquals(second, log.state().lock("x").token());
  }

  @Test
  void reusingARequestIdForADifferentCallIsRefused() {
    long a = log.open();
    long b = log.open();
    log.apply(new Acquire("r1", a, "x", 0));
    long token = log.state().lock("x").token();
    log.apply(new Acquire("r2", b, "y", 0));
    byte[] before = log.stateBytes();

    failure(log.apply(new Acquire("r1", a, "other", 0)), ErrorCode.REQUEST_ID_REUSED);
    failure(log.apply(new Acquire("r1", a, "x", -1)), ErrorCode.REQUEST_ID_REUSED);
    failure(log.apply(new Release("r1", a, "x", token)), ErrorCode.REQUEST_ID_REUSED);

    assertArrayEquals(before, log.stateBytes());
    // Request ids are per session: another session may use the same id.
    assertEquals(new Result.NotGranted(a), log.apply(new Acquire("r1", b, "x", 0)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "a b", "a//b", "a/../b", "a/./b", "../a", "a/", "/a", ".hidden",
      "-a", "é", "a\nb", "a*"})
  void badLockNamesAreInvalidArgument(String name) {
    long a = log.open();
    long token = log.acquireFree(a, "x");
    byte[] before = log.stateBytes();

    failure(log.acquire(log.newRequestId(), a, name, 0), ErrorCode.INVALID_ARGUMENT);
    failure(log.acquire(log.newRequestId(), a, name, -1), ErrorCode.INVALID_ARGUMENT);
    failure(log.release(a, name, token), ErrorCode.INVALID_ARGUMENT);

    assertArrayEquals(before, log.stateBytes());
  }

  @Test
  void lockNamesAreLimitedTo256Characters() {
    long a = log.open();
    String longest = "n".repeat(Names.MAX_LOCK_NAME);

    failure(log.acquire(log.newRequestId(), a, longest + "n", 0), ErrorCode.INVALID_ARGUMENT);
    assertInstanceOf(Result.Granted.class, log.acquire(log.newRequestId(), a, longest, 0));
  }

  @ParameterizedTest
  @ValueSource(strings = {"x", "_x", "0", "svc/db:primary", "a.b-c_d", "a/b/c", "a..b", "a/.b"})
  void wellFormedLockNamesAreAccepted(String name) {
    long a = log.open();
    assertInstanceOf(Result.Granted.class, log.acquire(log.newRequestId(), a, name, 0));
  }

  @Test
  void waitBelowMinusOneIsInvalidArgument() {
    long a = log.open();
    failure(log.acquire(log.newRequestId(), a, "x", -2), ErrorCode.INVALID_ARGUMENT);
    assertNull(log.state().lock("x"));
  }

  /**
   * S holds L with a 5 s max hold; W0 waits; W2 is idle. Returns {W0, W2}. A revoke of L to W2 in
   * an entry whose clock passes the max hold hands L on twice: the deadline to W0, the revoke to W2.
   */
  private long[] holderWithMaxHoldAndAWaiter() {
    long s = log.open(60_000);
    long w0 = log.open(60_000);
    long w2 = log.open(60_000);
    log.apply(new Acquire(log.newRequestId(), s, "L", -1, 0, 5_000, 0, 0));
    assertInstanceOf(Result.Queued.class, log.acquire(log.newRequestId(), w0, "L", -1));
    return new long[] {w0, w2};
  }

  @Test
  void aLockHandedOnTwiceByOneCommandGivesEachHolderItsOwnToken() {
    long[] w = holderWithMaxHoldAndAWaiter();
    long w0 = w[0];
    long w2 = w[1];
    log.setTimeMs(log.timeMs() + 6_000);

    Result.Revoked r = assertInstanceOf(Result.Revoked.class,
        log.apply(new Command.Revoke(log.newRequestId(), "L", "stuck", w2, "sre")));

    List<StateEvent.LockGranted> grants = log.events(StateEvent.LockGranted.class);
    assertEquals(List.of(w0, w2), grants.stream().map(StateEvent.LockGranted::sessionId).toList());
    assertTrue(grants.get(1).token() > grants.get(0).token(), grants.toString());
    assertEquals(w0, r.formerHolderSessionId());
    assertEquals(grants.get(1).token(), r.newToken());
    assertEquals(grants.get(1).token(), log.state().lock("L").token());
    // The former holder's token is stale now, and the next entry's tokens are newer still.
    failure(log.release(w0, "L", grants.get(0).token()), ErrorCode.NOT_HOLDER);
    long other = log.open();
    Result.Granted next = assertInstanceOf(Result.Granted.class, log.acquire(log.newRequestId(), other, "M", -1));
    assertTrue(next.token() > grants.get(1).token());
    assertTrue(log.state().lastRevision() >= grants.get(1).token());
  }

  /** A holder of two locks, each with a waiter; returns {holder, waiter of A, waiter of B}. */
  private long[] holderOfTwoLocksWithWaiters() {
    long holder = log.open();
    long wa = log.open();
    long wb = log.open();
    log.acquireFree(holder, "A");
    log.acquireFree(holder, "B");
    assertInstanceOf(Result.Queued.class, log.acquire(log.newRequestId(), wa, "A", -1));
    assertInstanceOf(Result.Queued.class, log.acquire(log.newRequestId(), wb, "B", -1));
    return new long[] {holder, wa, wb};
  }

  @Test
  void locksHandedOnTogetherByOneCommandGetTokensOfTheirOwn() {
    long[] s = holderOfTwoLocksWithWaiters();
    log.apply(new Command.CloseSession(log.newRequestId(), s[0]));

    List<StateEvent.LockGranted> grants = log.events(StateEvent.LockGranted.class);
    assertEquals(List.of(s[1], s[2]), grants.stream().map(StateEvent.LockGranted::sessionId).toList());
    assertTrue(grants.get(1).token() > grants.get(0).token(), "no two grants share a token: " + grants);
    assertEquals(grants.get(1).token(), log.state().lock("B").token());
    assertTrue(log.state().lastRevision() >= grants.get(1).token());
    long other = log.open();
    Result.Granted next = assertInstanceOf(Result.Granted.class, log.acquire(log.newRequestId(), other, "C", -1));
    assertTrue(next.token() > grants.get(1).token(), "the next entry's tokens are newer still");
  }

  @Test
  void locksHandedOnTogetherUnderRulesTwoReplayAsFirstApplied() {
    long[] s = holderOfTwoLocksWithWaiters();
    long index = log.nextIndex();
    log.applyUnder(2, log.term(), log.timeMs(), new Command.CloseSession(log.newRequestId(), s[0]));
    assertEquals(List.of(index, index), log.events(StateEvent.LockGranted.class).stream()
        .map(StateEvent.LockGranted::token).toList());
    assertEquals(index, log.state().lastRevision());
  }

  @Test
  void anEntryWrittenBeforeTheRuleReplaysAsItWasFirstApplied() {
    // The same history as above, in an entry from before apply rules were recorded: a node that
    // replays it after an upgrade must reach the state the others reached when they applied it.
    long w2 = holderWithMaxHoldAndAWaiter()[1];
    long index = log.nextIndex();

    log.applyUnder(0, log.term(), log.timeMs() + 6_000, new Command.Revoke(log.newRequestId(), "L", "stuck", w2, "sre"));

    assertEquals(List.of(index, index), log.events(StateEvent.LockGranted.class).stream()
        .map(StateEvent.LockGranted::token).toList());
    assertEquals(index, log.state().lastRevision());
  }

  @Test
  void aRevokeWithAnExpectedTokenActsOnlyOnThatGrant() {
    long holder = log.open();
    long next = log.open();
    long token = log.acquireFree(holder, "L");
    log.acquire(log.newRequestId(), next, "L", -1);

    // The operator looked at the grant with `token`; meanwhile the lock moved on to `next`.
    log.release(holder, "L", token);
    long nextToken = log.state().lock("L").token();
    Result stale = log.apply(new Command.Revoke(log.newRequestId(), "L", "stuck", 0, "sre", token));
    assertEquals(nextToken, failure(stale, ErrorCode.STALE_TOKEN).currentToken());
    assertEquals(next, log.state().lock("L").holderSessionId(), "the next holder keeps the lock");
    assertEquals(nextToken, log.state().lock("L").token());
    assertInstanceOf(Result.Failure.class, log.state().previewRevoke("L", 0, token), "the dry run says the same");

    String rid = log.newRequestId();
    Result.Revoked done = assertInstanceOf(Result.Revoked.class,
        log.apply(new Command.Revoke(rid, "L", "stuck", 0, "sre", nextToken)));
    assertEquals(next, done.formerHolderSessionId());
    // Its retry is answered from the first attempt, though the token it names is over now.
    assertEquals(done, log.apply(new Command.Revoke(rid, "L", "stuck", 0, "sre", nextToken)));
  }
}
