package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A keepalive stream costs the leader one renewal per session in flight, whatever the client sends. */
class KeepAliveStreamTest {
  /** gRPC's side of the call: what was sent, how many messages were asked for, whether it is ready. */
  static final class FakeCall extends ServerCallStreamObserver<KeepAliveResponse> {
    final List<KeepAliveResponse> sent = new ArrayList<>();
    int requested;
    boolean ready = true;
    Runnable onReady;
    Throwable error;

    @Override public boolean isCancelled() { return false; }
    @Override public void setOnCancelHandler(Runnable r) { }
    @Override public void setCompression(String c) { }
    @Override public boolean isReady() { return ready; }
    @Override public void setOnReadyHandler(Runnable r) { onReady = r; }
    @Override public void request(int n) { requested += n; }
    @Override public void setMessageCompression(boolean e) { }
    @Override public void disableAutoInboundFlowControl() { }
    @Override public void disableAutoRequest() { }
    @Override public void onNext(KeepAliveResponse v) { sent.add(v); }
    @Override public void onError(Throwable t) { error = t; }
    @Override public void onCompleted() { }
  }

  /** A leader whose renewals complete when the test says. */
  static final class FakeLeader implements KeepAliveStream.Leader {
    final List<Long> renewals = new ArrayList<>();
    final List<CompletableFuture<Boolean>> futures = new ArrayList<>();
    /** Ids this leader's applied state does not hold. */
    final java.util.Set<Long> unknown = new java.util.HashSet<>(java.util.Set.of(404L));
    final List<CompletableFuture<Void>> barriers = new ArrayList<>();
    /** Unknown sessions' keepalives allowed before the identity's rate refuses them. */
    int unknownBudget = Integer.MAX_VALUE;

    @Override public Throwable refusal(KeepAliveRequest req) {
      return req.getSessionId() == 666 ? Status.PERMISSION_DENIED.asRuntimeException() : null;
    }
    @Override public boolean mayExist(long sessionId) {
      return !unknown.contains(sessionId);
    }
    @Override public Throwable unknownRefusal() {
      return unknownBudget-- > 0 ? null : Status.RESOURCE_EXHAUSTED.withDescription("rate").asRuntimeException();
    }
    @Override public CompletableFuture<Void> confirmLeading() {
      CompletableFuture<Void> f = new CompletableFuture<>();
      barriers.add(f);
      return f;
    }
    @Override public CompletableFuture<KeepAliveResponse> renew(long sessionId, long seq) {
      renewals.add(sessionId);
      CompletableFuture<Boolean> f = new CompletableFuture<>();
      futures.add(f);
      return f.thenApply(renewed -> answer(sessionId, seq, renewed));
    }
    @Override public KeepAliveResponse notFound(long sessionId, long seq) {
      return answer(sessionId, seq, false);
    }
    static KeepAliveResponse answer(long sessionId, long seq, boolean renewed) {
      return KeepAliveResponse.newBuilder().setSessionId(sessionId).setSeq(seq).setAlive(renewed).build();
    }
    @Override public Throwable failure(Throwable e) {
      return Status.UNAVAILABLE.withCause(e).asRuntimeException();
    }
  }

  static KeepAliveRequest ka(long session, long seq) {
    return KeepAliveRequest.newBuilder().setSessionId(session).setSeq(seq).build();
  }

  @Test
  void keepalivesThatArriveDuringARenewalShareOneMoreRenewalStartedAfterTheLastOfThem() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    for (int seq = 1; seq <= 10_000; seq++) {
      stream.onNext(ka(7, seq));
    }
    stream.onNext(ka(8, 1));
    assertEquals(List.of(7L, 8L), leader.renewals, "one renewal per session in flight, not one per message");

    leader.futures.get(0).complete(true);
    assertEquals(List.of(1L), call.sent.stream().map(KeepAliveResponse::getSeq).toList(),
        "the renewal answers the keepalive it was started for");
    assertEquals(List.of(7L, 8L, 7L), leader.renewals, "and one more covers everything that came meanwhile");

    leader.futures.get(2).complete(true);
    assertEquals(List.of(1L, 10_000L), call.sent.stream().map(KeepAliveResponse::getSeq).toList());
    assertEquals(3, leader.renewals.size(), "nothing more was asked for");

    stream.onNext(ka(7, 10_001));
    assertEquals(4, leader.renewals.size(), "a later keepalive starts a renewal of its own");
    leader.futures.get(1).complete(false);
    assertEquals(8, call.sent.get(2).getSessionId());
    assertTrue(!call.sent.get(2).getAlive());
  }

  @Test
  void aClientThatDoesNotReadItsAnswersIsNotReadEither() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    KeepAliveStream stream = new KeepAliveStream(call, leader, 4);
    assertEquals(8, call.requested);
    call.ready = false; // the client's window is full of unread answers
    for (int seq = 1; seq <= 8; seq++) {
      stream.onNext(ka(7, seq));
    }
    assertEquals(8, call.requested, "no more messages asked for while the answers do not drain");
    call.onReady.run();
    assertEquals(8, call.requested, "still not ready");
    call.ready = true;
    call.onReady.run();
    assertEquals(16, call.requested, "read on once they drain, by both chunks held back");
  }

  @Test
  void aRefusalOrAFailedRenewalEndsTheStreamAndNothingIsAnsweredAfter() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    stream.onNext(ka(7, 1));
    stream.onNext(ka(7, 2));
    leader.futures.get(0).completeExceptionally(new IllegalStateException("not the leader"));
    assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(call.error).getCode());
    assertEquals(List.of(), call.sent);
    assertEquals(1, leader.renewals.size(), "no renewal after the stream ended");

    FakeCall other = new FakeCall();
    KeepAliveStream refused = new KeepAliveStream(other, leader, 64);
    refused.onNext(ka(666, 1));
    assertEquals(Status.Code.PERMISSION_DENIED, Status.fromThrowable(other.error).getCode());
    refused.onNext(ka(7, 2));
    assertEquals(1, leader.renewals.size());
  }

  @Test
  void aSessionTheLeaderDoesNotKnowIsAnsweredWithoutARenewalOnceItsLeadershipIsConfirmed() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    for (int seq = 1; seq <= 1_000; seq++) {
      stream.onNext(ka(404, seq));
    }
    assertEquals(List.of(), call.sent, "not answered before the leader knows it still leads");
    completeBarriers(leader);
    assertEquals(List.of(), leader.renewals, "no checkpoint entry for ids that name no session");
    assertEquals(1_000, call.sent.size());
    assertTrue(call.sent.stream().noneMatch(KeepAliveResponse::getAlive));
  }

  @Test
  void keepalivesForUnknownSessionsPastTheIdentitysRateEndTheStream() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    leader.unknownBudget = 5;
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    for (long id = 1_000; id < 1_010; id++) {
      leader.unknown.add(id);
    }
    for (long id = 1_000; id < 1_005; id++) {
      stream.onNext(ka(id, 1));
      stream.onNext(ka(7, id)); // known sessions cost nothing of it
    }
    assertEquals(null, call.error, "within the rate");
    stream.onNext(ka(1_005, 1));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, Status.fromThrowable(call.error).getCode());
    int renewals = leader.renewals.size();
    stream.onNext(ka(8, 1));
    assertEquals(renewals, leader.renewals.size(), "nothing after the stream ended");
  }

  private static void completeBarriers(FakeLeader leader) {
    for (int i = 0; i < leader.barriers.size(); i++) {
      leader.barriers.get(i).complete(null); // may start the next one
    }
  }

  /**
   * On a follower every session may exist (the leader decides), and each renewal is a read the
   * leader answers: a stream of made-up ids stops being read once enough are in flight, and is
   * read on as they are answered.
   */
  @Test
  void theStreamIsNotReadOnWhileTooManyRenewalsAreInFlight() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    int sent = 0;
    while (sent < call.requested && sent < 2 * KeepAliveStream.MAX_IN_FLIGHT) {
      stream.onNext(ka(100_000 + sent, 1));
      sent++;
    }
    assertTrue(leader.renewals.size() <= KeepAliveStream.MAX_IN_FLIGHT + 2 * 64,
        "renewals in flight are bounded: " + leader.renewals.size());
    assertTrue(call.requested < 2 * KeepAliveStream.MAX_IN_FLIGHT, "and the stream stopped being read: " + call.requested);
    int asked = call.requested;
    leader.futures.subList(0, 256).forEach(f -> f.complete(true)); // below the cap again
    assertTrue(call.requested > asked, "read on once answers come: " + call.requested);
  }

  @Test
  void unknownSessionsShareOneBarrierInFlightAndTheStreamWaitsWhenTooManyWait() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    for (long id = 1000; id < 1000 + 2 * KeepAliveStream.MAX_AWAITING_CONFIRMATION; id++) {
      leader.unknown.add(id);
    }
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    int sent = 0;
    long id = 1000;
    // Read on while fewer than the limit wait; each message is a session the leader does not know.
    while (sent < call.requested && sent < 2 * KeepAliveStream.MAX_AWAITING_CONFIRMATION) {
      stream.onNext(ka(id++, 1));
      sent++;
    }
    assertEquals(1, leader.barriers.size(), "one barrier in flight, begun with the first");
    assertTrue(call.requested >= KeepAliveStream.MAX_AWAITING_CONFIRMATION,
        "read on up to the limit: " + call.requested);
    assertTrue(call.requested <= KeepAliveStream.MAX_AWAITING_CONFIRMATION + 2 * 64,
        "and no further while they wait: " + call.requested);
    int askedBefore = call.requested;

    leader.barriers.get(0).complete(null);
    assertEquals(1, call.sent.size(), "the first barrier answers only the keepalive it began after");
    assertEquals(2, leader.barriers.size(), "one more barrier for all that came meanwhile");
    assertEquals(askedBefore + 2 * 64, call.requested,
        "read on once the waiting ones have a barrier of their own, every chunk held back");

    leader.barriers.get(1).complete(null);
    assertEquals(sent, call.sent.size(), "every keepalive answered");
    assertTrue(call.sent.stream().noneMatch(KeepAliveResponse::getAlive));
    assertEquals(2, leader.barriers.size(), "two barriers for " + sent + " keepalives");
    assertEquals(List.of(), leader.renewals);
  }

  @Test
  void aDeposedLeaderDoesNotDeclareASessionItNeverSawGone() {
    // The session was opened on the new leader; this one has not noticed it was replaced.
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    leader.unknown.add(77L);
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    stream.onNext(ka(77, 1));
    leader.barriers.get(0).completeExceptionally(new IllegalStateException("not the leader"));
    assertEquals(List.of(), call.sent, "no 'session not found' from a node that does not lead");
    assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(call.error).getCode(),
        "the stream ends with the leader's failure, so the client moves on");
  }

  @Test
  void aSessionAppliedByTheTimeLeadershipIsConfirmedIsRenewed() {
    FakeCall call = new FakeCall();
    FakeLeader leader = new FakeLeader();
    leader.unknown.add(78L);
    KeepAliveStream stream = new KeepAliveStream(call, leader, 64);
    stream.onNext(ka(78, 1));
    leader.unknown.remove(78L); // its open was committed before the barrier, applied after the first look
    leader.barriers.get(0).complete(null);
    assertEquals(List.of(78L), leader.renewals);
    leader.futures.get(0).complete(true);
    assertEquals(1, call.sent.size());
    assertTrue(call.sent.get(0).getAlive());
  }
}
