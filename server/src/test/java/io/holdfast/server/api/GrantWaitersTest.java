package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.api.GrantWaiters.Outcome;
import io.holdfast.server.state.StateEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class GrantWaitersTest {
  private final List<Runnable> pool = new ArrayList<>();
  private final GrantWaiters waiters = new GrantWaiters(pool::add);

  @Test
  void aGrantIsAnsweredThroughThePoolNeverOnTheApplyThread() {
    CompletableFuture<Outcome> waiting = waiters.register(7, "a");
    waiters.onApplied(List.of(new StateEvent.LockGranted(12, "a", 7, 12)));
    assertFalse(waiting.isDone(), "apply holds the state lock: the answer must not run there");
    assertEquals(1, pool.size());

    pool.forEach(Runnable::run);
    assertEquals(new Outcome(Outcome.Kind.GRANTED, 12), waiting.join());
  }

  @Test
  void aWaitOfACallThatEndsIsLetGoOfSoCancelledCallsLeaveNothingBehind() {
    io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
    CompletableFuture<Outcome> waiting = waiters.register(7, "a", call);
    CompletableFuture<Outcome> other = waiters.register(7, "a");
    call.cancel(null); // the client cancelled its acquire
    pool.forEach(Runnable::run);
    pool.clear();
    assertFalse(waiters.isRegistered(7, "a", waiting), "still registered after its call ended");
    assertFalse(waiting.isDone(), "left to the call's own timer, which withdraws a timed wait");
    assertTrue(waiters.isRegistered(7, "a", other), "another call's wait on the same lock is untouched");
    waiters.onApplied(List.of(new StateEvent.LockGranted(12, "a", 7, 12)));
    pool.forEach(Runnable::run);
    pool.clear();
    assertFalse(waiting.isDone(), "a grant reaches only the waits still registered");
    assertEquals(new Outcome(Outcome.Kind.GRANTED, 12), other.join());

    io.grpc.Context.CancellableContext ended = io.grpc.Context.current().withCancellation();
    ended.cancel(null);
    CompletableFuture<Outcome> late = waiters.register(7, "a", ended);
    pool.forEach(Runnable::run);
    assertFalse(waiters.isRegistered(7, "a", late), "a call already ended registers nothing that stays");
  }

  @Test
  void aGrantReachesOnlyItsOwnSessionAndLock() {
    CompletableFuture<Outcome> other = waiters.register(8, "a");
    CompletableFuture<Outcome> otherLock = waiters.register(7, "b");
    waiters.onApplied(List.of(new StateEvent.LockGranted(12, "a", 7, 12)));
    pool.forEach(Runnable::run);
    assertFalse(other.isDone());
    assertFalse(otherLock.isDone());
  }

  @Test
  void aWaitThatApplyEndsNamesTheAcquireItBelongedTo() {
    // LockEndpoint ends the call whose own wait this was, and lets another call of the session
    // carry on if the session waits again (two acquires of one session share one wait).
    CompletableFuture<Outcome> waiting = waiters.register(7, "a");
    waiters.onApplied(List.of(new StateEvent.WaitEnded(30, "a", 7, "first", StateEvent.EndReason.CLOSED)));
    pool.forEach(Runnable::run);
    assertEquals(new Outcome(Outcome.Kind.CANCELLED, 0, "first"), waiting.join());
  }

  @Test
  void aSessionThatEndsEndsEveryWaitOfIts() {
    CompletableFuture<Outcome> a = waiters.register(7, "a");
    CompletableFuture<Outcome> b = waiters.register(7, "b");
    CompletableFuture<Outcome> someoneElse = waiters.register(9, "a");
    waiters.onApplied(List.of(new StateEvent.SessionEnded(20, 7, StateEvent.EndReason.EXPIRED)));
    pool.forEach(Runnable::run);
    assertEquals(Outcome.Kind.SESSION_ENDED, a.join().kind());
    assertEquals(Outcome.Kind.SESSION_ENDED, b.join().kind());
    assertFalse(someoneElse.isDone());
  }

  /** An entry of many expiries: each wait hears once, and a grant earlier in the entry is what its call hears. */
  @Test
  void anEntryEndingSeveralSessionsEndsEachOfTheirWaitsOnce() {
    CompletableFuture<Outcome> granted = waiters.register(7, "a");
    CompletableFuture<Outcome> ended7 = waiters.register(7, "b");
    CompletableFuture<Outcome> ended8 = waiters.register(8, "a");
    CompletableFuture<Outcome> alive = waiters.register(9, "a");
    waiters.onApplied(List.of(new StateEvent.LockGranted(40, "a", 7, 40),
        new StateEvent.SessionEnded(40, 7, StateEvent.EndReason.EXPIRED),
        new StateEvent.SessionEnded(40, 8, StateEvent.EndReason.EXPIRED)));
    assertEquals(3, pool.size(), "one answer per wait");
    pool.forEach(Runnable::run);
    assertEquals(new Outcome(Outcome.Kind.GRANTED, 40), granted.join());
    assertEquals(Outcome.Kind.SESSION_ENDED, ended7.join().kind());
    assertEquals(Outcome.Kind.SESSION_ENDED, ended8.join().kind());
    assertFalse(alive.isDone());
  }

  @Test
  void losingLeadershipTellsEveryWaiterToRetryThroughThePool() {
    CompletableFuture<Outcome> a = waiters.register(7, "a");
    waiters.onLeadershipLost();
    assertFalse(a.isDone(), "not on the thread that reported the lost leadership");
    assertEquals(1, pool.size());
    pool.forEach(Runnable::run);
    assertEquals(Outcome.Kind.RETRY, a.join().kind());
  }

  @Test
  void anUnregisteredWaitHearsNothing() {
    CompletableFuture<Outcome> a = waiters.register(7, "a");
    waiters.unregister(7, "a", a);
    waiters.onApplied(List.of(new StateEvent.LockGranted(12, "a", 7, 12)));
    pool.forEach(Runnable::run);
    assertFalse(a.isDone());
  }
}
