package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.codahale.metrics.MetricRegistry;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.holdfast.server.raft.RaftCallException;
import io.holdfast.server.security.AccessPolicy;
import io.holdfast.server.security.Identity;
import io.holdfast.server.state.ErrorCode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * The session-ownership check in front of every write that names a session. Outside a call the
 * caller is {@link Identity#ANONYMOUS}, so a session "owned" by "anonymous" is the caller's own.
 */
class AccessOwnershipTest {
  private static final String ME = Identity.ANONYMOUS.name();
  private static final Context.Key<String> CALL = Context.key("test-call");

  private final Map<Long, String> owners = new HashMap<>();
  private final List<CompletableFuture<Void>> barriers = new ArrayList<>();
  private final List<Runnable> afterBarrier = new ArrayList<>();
  private final Access access = new Access(new AccessPolicy(List.of()), owners::get, () -> {
    CompletableFuture<Void> b = new CompletableFuture<>();
    barriers.add(b);
    return b;
  }, () -> this.refusal, afterBarrier::add, new ApiErrors(null, null), new MetricRegistry(), 256);
  /** Why this node would refuse a write unlogged (not the leader, say), or null. */
  private RuntimeException refusal;

  private final Recorder out = new Recorder();
  private final List<String> ran = new ArrayList<>();

  private void check(long session) {
    Context.current().withValue(CALL, "call-" + session).run(() ->
        access.withOwnSession(session, out, () -> ran.add(CALL.get() + " on " + Thread.currentThread().getName())));
  }

  @Test
  void aKnownSessionOfTheCallerGoesAheadAtOnceWithoutABarrier() {
    owners.put(5L, ME);
    check(5);
    assertEquals(List.of("call-5 on " + Thread.currentThread().getName()), ran);
    assertTrue(barriers.isEmpty());
    assertNull(out.error);
  }

  @Test
  void aKnownSessionOfAnotherIdentityIsRefused() {
    owners.put(5L, "orchestrator-b");
    check(5);
    assertTrue(ran.isEmpty());
    assertEquals(Status.Code.PERMISSION_DENIED, out.code());
    assertTrue(barriers.isEmpty());
  }

  @Test
  void anUnknownSessionIsLookedUpAgainAfterABarrierAndGoesAheadInTheCallsContext() {
    check(9);
    assertTrue(ran.isEmpty(), "nothing goes ahead for a session this node does not know yet");
    assertEquals(1, barriers.size());
    owners.put(9L, ME); // the open was committed but not yet applied here
    barriers.get(0).complete(null);
    assertTrue(ran.isEmpty(), "what follows the barrier runs on the executor, not the thread that completes it");
    afterBarrier.forEach(Runnable::run);
    assertEquals(List.of("call-9 on " + Thread.currentThread().getName()), ran);
    assertNull(out.error);
  }

  @Test
  void aGuessedIdThatAnotherIdentityOpensMeanwhileIsRefused() {
    check(9);
    owners.put(9L, "victim");
    barriers.get(0).complete(null);
    afterBarrier.forEach(Runnable::run);
    assertTrue(ran.isEmpty(), "the command must never reach the log with someone else's session");
    assertEquals(Status.Code.PERMISSION_DENIED, out.code());
  }

  @Test
  void aSessionStillUnknownAfterTheBarrierIsNotFoundAndNothingIsSubmitted() {
    check(9);
    barriers.get(0).complete(null);
    afterBarrier.forEach(Runnable::run);
    assertTrue(ran.isEmpty());
    assertEquals(Status.Code.NOT_FOUND, out.code());
    assertEquals(ErrorCode.SESSION_NOT_FOUND.name(), out.error.getTrailers().get(ApiErrors.ERROR_KEY));
    assertTrue(out.error.getStatus().getDescription().contains("session 9 not found"),
        out.error.getStatus().getDescription());
  }

  @Test
  void aFailedBarrierIsAnsweredAsRetryable() {
    check(9);
    barriers.get(0).completeExceptionally(new RaftCallException(ErrorCode.NO_LEADER, null, "no leader"));
    afterBarrier.forEach(Runnable::run);
    assertTrue(ran.isEmpty());
    assertEquals(Status.Code.UNAVAILABLE, out.code());
  }

  @Test
  void aNodeThatWouldRefuseTheWriteAnywaySaysSoWithoutWaitingForABarrier() {
    refusal = new RaftCallException(ErrorCode.NOT_LEADER, null, "not the leader");
    check(9);
    assertTrue(barriers.isEmpty(), "no read barrier through a leader for a write this node would not log");
    assertTrue(ran.isEmpty());
    assertEquals(Status.Code.UNAVAILABLE, out.code());
    assertEquals(ErrorCode.NOT_LEADER.name(), out.error.getTrailers().get(ApiErrors.ERROR_KEY));

    Recorder known = new Recorder();
    owners.put(5L, ME);
    access.withOwnSession(5, known, () -> ran.add("known"));
    assertEquals(List.of("known"), ran, "a known session goes on to the submit, which answers as before");
  }

  @Test
  void aWriteThatThrowsAfterTheBarrierIsStillAnswered() {
    access.withOwnSession(9, out, () -> {
      throw new RaftCallException(ErrorCode.NO_LEADER, null, "this node is shutting down");
    });
    owners.put(9L, ME);
    barriers.get(0).complete(null);
    afterBarrier.forEach(Runnable::run);
    assertEquals(Status.Code.UNAVAILABLE, out.code());
  }

  @Test
  void aRelayedKeepaliveForAnUnknownSessionPassesTheCheckButAnotherIdentitysDoesNot() {
    owners.put(5L, "orchestrator-b");
    assertNull(access.requireOwner(9, "agent"), "the leader answers an unknown session 'not alive'");
    assertEquals(Status.Code.PERMISSION_DENIED, access.requireOwner(5, "agent").getStatus().getCode());
    assertNull(access.requireOwner(5, "orchestrator-b"));
    owners.put(6L, "");
    assertNull(access.requireOwner(6, "agent"), "a session opened with auth off has no owner to check");
  }

  private static final class Recorder implements StreamObserver<Object> {
    StatusRuntimeException error;
    boolean completed;

    @Override
    public void onNext(Object value) {}

    @Override
    public void onError(Throwable t) {
      assertFalse(completed);
      error = (StatusRuntimeException) t;
    }

    @Override
    public void onCompleted() {
      completed = true;
    }

    Status.Code code() {
      return error == null ? null : error.getStatus().getCode();
    }
  }
}
