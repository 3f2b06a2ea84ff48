package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.LockState;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wire API against a real 3-node cluster, through raw gRPC stubs: status codes, trailers and
 * the refusal of bad input without any change of state.
 */
class LockApiClusterTest {
  @TempDir
  static Path dir;
  static ProcessCluster cluster;
  static int leader;

  @BeforeAll
  static void start() {
    cluster = new ProcessCluster(3, dir).start();
    leader = cluster.awaitLeader(Duration.ofSeconds(60));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static String rid() {
    return UUID.randomUUID().toString();
  }

  static SessionServiceGrpc.SessionServiceBlockingStub sessions(int node) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static LockServiceGrpc.LockServiceBlockingStub locks(int node) {
    return LockServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static long openSession(long ttlMs) {
    return sessions(leader).openSession(OpenSessionRequest.newBuilder().setRequestId(rid()).setTtlMs(ttlMs)
        .setClient(ClientIdentity.newBuilder().setName("test").setHost("localhost").setPid(1)).build())
        .getSessionId();
  }

  static AcquireResponse acquire(long session, String lock, long waitMs) {
    return locks(leader).acquire(AcquireRequest.newBuilder().setRequestId(rid()).setSessionId(session)
        .setLockName(lock).setWaitMs(waitMs).build());
  }

  /** An acquire by {@code session} waiting up to 20 s, once the lock's queue shows it. */
  static java.util.concurrent.CompletableFuture<AcquireResponse> queued(long session, String lock)
      throws InterruptedException {
    var pending = java.util.concurrent.CompletableFuture.supplyAsync(() -> acquire(session, lock, 20_000));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (describe(leader, lock).getWaitersCount() == 0 && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(session, describe(leader, lock).getWaiters(0).getSessionId());
    return pending;
  }

  static LockInfo describe(int node, String lock) {
    return locks(node).describeLock(DescribeLockRequest.newBuilder().setLockName(lock).build()).getLock();
  }

  static StatusRuntimeException failure(Function<Void, ?> call) {
    return assertThrows(StatusRuntimeException.class, () -> call.apply(null));
  }

  @Test
  void acquireReleaseAndFencingTokensIncrease() {
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    AcquireResponse a1 = acquire(s1, "jobs/a", 0);
    assertTrue(a1.getGranted());
    assertEquals(LockState.HELD, a1.getLock().getState());
    assertEquals(s1, a1.getLock().getHolderSessionId());
    assertEquals("test", a1.getLock().getHolder().getName());

    AcquireResponse tryOther = acquire(s2, "jobs/a", 0);
    assertFalse(tryOther.getGranted());

    locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s1).setLockName("jobs/a")
        .setToken(a1.getToken()).build());
    AcquireResponse a2 = acquire(s2, "jobs/a", 0);
    assertTrue(a2.getGranted());
    assertTrue(a2.getToken() > a1.getToken(), "tokens strictly increase: " + a1.getToken() + " then " + a2.getToken());

    // Every node, leader or not, answers a linearizable read with the new holder.
    for (int i = 0; i < 3; i++) {
      LockInfo info = describe(i, "jobs/a");
      assertEquals(s2, info.getHolderSessionId(), "node " + i);
      assertEquals(a2.getToken(), info.getToken(), "node " + i);
    }
  }

  /**
   * A cancel that names no acquire withdraws a queued wait but never releases a grant: a late retry
   * of it could otherwise release a grant the session got since, which carries no token to check.
   */
  @Test
  void aCancelNamingNoAcquireWithdrawsAWaitButReleasesNoGrant() throws Exception {
    long holder = openSession(30_000);
    long waiter = openSession(30_000);
    AcquireResponse held = acquire(holder, "jobs/anonymous-cancel", 0);
    assertTrue(held.getGranted());
    var pending = queued(waiter, "jobs/anonymous-cancel");
    io.holdfast.proto.v1.CancelWaitResponse withdrawn = locks(leader).cancelWait(
        io.holdfast.proto.v1.CancelWaitRequest.newBuilder().setRequestId(rid()).setSessionId(waiter)
            .setLockName("jobs/anonymous-cancel").build());
    assertFalse(withdrawn.getReleased());
    assertFalse(pending.get(20, TimeUnit.SECONDS).getGranted(), "the wait was withdrawn");
    assertEquals(0, describe(leader, "jobs/anonymous-cancel").getWaitersCount());

    io.holdfast.proto.v1.CancelWaitResponse onTheHolder = locks(leader).cancelWait(
        io.holdfast.proto.v1.CancelWaitRequest.newBuilder().setRequestId(rid()).setSessionId(holder)
            .setLockName("jobs/anonymous-cancel").build());
    assertFalse(onTheHolder.getReleased());
    LockInfo after = describe(leader, "jobs/anonymous-cancel");
    assertEquals(holder, after.getHolderSessionId(), "still held");
    assertEquals(held.getToken(), after.getToken());
  }

  /** A gauge of {@code node}'s, read from its admin port as Prometheus scrapes it. */
  static double gauge(int node, String name) throws Exception {
    var http = java.net.http.HttpClient.newHttpClient();
    String body = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(cluster.adminUrl(node) + "/metrics"))
        .build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    for (String line : body.split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(name.length() + 1).trim());
      }
    }
    throw new AssertionError("no " + name + " in /metrics");
  }

  /** Starts an acquire that waits up to {@code waitMs} on a call the returned context cancels. */
  static io.grpc.Context.CancellableContext waitingCall(long session, String lock, long waitMs) {
    io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
    call.run(() -> LockServiceGrpc.newStub(cluster.channel(leader)).acquire(AcquireRequest.newBuilder()
        .setRequestId(rid()).setSessionId(session).setLockName(lock).setWaitMs(waitMs).build(),
        new io.grpc.stub.StreamObserver<AcquireResponse>() {
          @Override
          public void onNext(AcquireResponse value) {
          }

          @Override
          public void onError(Throwable t) {
          }

          @Override
          public void onCompleted() {
          }
        }));
    return call;
  }

  @Test
  void aTimedAcquireItsClientCancelsLetsGoOfItsCallAndIsStillWithdrawnAtItsDeadline() throws Exception {
    long holder = openSession(30_000);
    long waiter = openSession(30_000);
    assertTrue(acquire(holder, "jobs/cancelled-wait", 0).getGranted());
    double timed = gauge(leader, "holdfast_lock_wait_timers");
    io.grpc.Context.CancellableContext call = waitingCall(waiter, "jobs/cancelled-wait", 3_000);
    long queuedAt = System.nanoTime();
    long end = queuedAt + TimeUnit.SECONDS.toNanos(10);
    while (describe(leader, "jobs/cancelled-wait").getWaitersCount() == 0 && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(waiter, describe(leader, "jobs/cancelled-wait").getWaiters(0).getSessionId());
    double abandoned = gauge(leader, "holdfast_lock_abandoned_waits");

    call.cancel(null);
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (gauge(leader, "holdfast_lock_abandoned_waits") < abandoned + 1 && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(abandoned + 1, gauge(leader, "holdfast_lock_abandoned_waits"), "the call was let go of");
    assertTrue(gauge(leader, "holdfast_lock_wait_timers") <= timed, "no timer holds the call");
    // No CancelWait from the client: the server withdraws the wait when its 3 s run out, before
    // apply's backstop (5 s later) would.
    end = queuedAt + TimeUnit.MILLISECONDS.toNanos(6_500);
    while (describe(leader, "jobs/cancelled-wait").getWaitersCount() > 0 && System.nanoTime() < end) {
      Thread.sleep(50);
    }
    LockInfo after = describe(leader, "jobs/cancelled-wait");
    assertEquals(0, after.getWaitersCount(), "withdrawn at its deadline");
    assertEquals(holder, after.getHolderSessionId());
    assertTrue(System.nanoTime() - queuedAt < TimeUnit.MILLISECONDS.toNanos(7_500), "before the backstop");
  }

  @Test
  void releaseByNonHolderOrWithStaleTokenIsRefusedAndChangesNothing() {
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    AcquireResponse a = acquire(s1, "jobs/refuse", 0);
    StatusRuntimeException notHolder = failure(v -> locks(leader).release(ReleaseRequest.newBuilder()
        .setRequestId(rid()).setSessionId(s2).setLockName("jobs/refuse").setToken(a.getToken()).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, notHolder.getStatus().getCode());
    assertEquals("NOT_HOLDER", notHolder.getTrailers().get(ApiErrors.ERROR_KEY));

    StatusRuntimeException stale = failure(v -> locks(leader).release(ReleaseRequest.newBuilder()
        .setRequestId(rid()).setSessionId(s1).setLockName("jobs/refuse").setToken(a.getToken() - 1).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, stale.getStatus().getCode());
    assertEquals("STALE_TOKEN", stale.getTrailers().get(ApiErrors.ERROR_KEY));
    assertEquals(Long.toString(a.getToken()), stale.getTrailers().get(ApiErrors.TOKEN_KEY));

    LockInfo after = describe(leader, "jobs/refuse");
    assertEquals(s1, after.getHolderSessionId());
    assertEquals(a.getToken(), after.getToken());
  }

  /**
   * A release resent after its first answer left the session's cache (its last 64): marked as a
   * resend, it is answered as released, since nothing took the grant away; unmarked, it is refused
   * as before. Once the cluster writes apply rules 3 (a new cluster raises them within seconds).
   */
  @Test
  void aResentReleaseWhoseAnswerIsNoLongerCachedIsAnsweredAsReleased() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (cluster.status(leader).getApplyRules() < 3) {
      assertTrue(System.nanoTime() < deadline, "the cluster never raised its apply rules to 3");
      Thread.sleep(200);
    }
    long s = openSession(30_000);
    AcquireResponse a = acquire(s, "jobs/resent", 0);
    ReleaseRequest release = ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s).setLockName("jobs/resent")
        .setToken(a.getToken()).build();
    locks(leader).release(release);
    for (int i = 0; i < 70; i++) {
      AcquireResponse own = acquire(s, "jobs/resent-churn", 0);
      locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s)
          .setLockName("jobs/resent-churn").setToken(own.getToken()).build());
    }
    StatusRuntimeException unmarked = failure(v -> locks(leader).release(release));
    assertEquals("NOT_HOLDER", unmarked.getTrailers().get(ApiErrors.ERROR_KEY));
    locks(leader).release(release.toBuilder().setResent(true).build());
    assertFalse(describe(leader, "jobs/resent").getHolderSessionId() != 0, "nobody holds it");
  }

  @Test
  void unknownSessionIsNotFoundAndBadInputIsInvalidArgument() {
    StatusRuntimeException unknown = failure(v -> acquire(987654321L, "jobs/x", 0));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
    assertEquals("SESSION_NOT_FOUND", unknown.getTrailers().get(ApiErrors.ERROR_KEY));

    long s = openSession(30_000);
    for (String bad : new String[] {"", "has space", "a//b", "../etc", "x".repeat(300), "trailing/"}) {
      StatusRuntimeException e = failure(v -> acquire(s, bad, 0));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), "lock name '" + bad + "'");
      assertTrue(e.getStatus().getDescription().contains("lock name"), e.getStatus().getDescription());
    }
    for (long ttl : new long[] {0, -5, 1, 1999, 300_001, Long.MAX_VALUE}) {
      StatusRuntimeException e = failure(v -> openSession(ttl));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), "ttl " + ttl);
      assertTrue(e.getStatus().getDescription().contains("ttl_ms"), e.getStatus().getDescription());
    }
  }

  @Test
  void followerAnswersWritesWithTheLeadersAddress() {
    int follower = (leader + 1) % 3;
    StatusRuntimeException e = failure(v -> sessions(follower).openSession(OpenSessionRequest.newBuilder()
        .setRequestId(rid()).setTtlMs(10_000).build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("NOT_LEADER", e.getTrailers().get(ApiErrors.ERROR_KEY));
    assertEquals(cluster.endpoint(leader), e.getTrailers().get(ApiErrors.LEADER_KEY));
  }

  @Test
  void waitingAcquireIsGrantedByTheServerWhenTheHolderReleases() throws Exception {
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    AcquireResponse a1 = acquire(s1, "jobs/wait", 0);
    // The second acquire is queued in the replicated state, not polling.
    var pending = queued(s2, "jobs/wait");
    locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s1).setLockName("jobs/wait")
        .setToken(a1.getToken()).build());
    AcquireResponse a2 = pending.get(10, TimeUnit.SECONDS);
    assertTrue(a2.getGranted());
    assertTrue(a2.getToken() > a1.getToken());
  }

  @Test
  void waitThatRunsOutReturnsNotGrantedAndLeavesTheQueue() {
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    acquire(s1, "jobs/timeout", 0);
    AcquireResponse r = acquire(s2, "jobs/timeout", 300);
    assertFalse(r.getGranted());
    assertEquals(0, describe(leader, "jobs/timeout").getWaitersCount());
  }

  @Test
  void aTryBySessionThatAlreadyWaitsIsAnsweredNotGrantedAndKeepsTheWait() throws Exception {
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    AcquireResponse a1 = acquire(s1, "jobs/try-while-queued", 0);
    var waiting = queued(s2, "jobs/try-while-queued");

    // It used to wait for a grant it had no registration for, until the caller's deadline.
    AcquireResponse tried = acquire(s2, "jobs/try-while-queued", 0);

    assertFalse(tried.getGranted());
    assertEquals(s2, describe(leader, "jobs/try-while-queued").getWaiters(0).getSessionId());
    locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s1)
        .setLockName("jobs/try-while-queued").setToken(a1.getToken()).build());
    assertTrue(waiting.get(10, TimeUnit.SECONDS).getGranted());
  }

  @Test
  void oneKeepaliveStreamAnswersEveryMessageBeyondTheFirstRequestChunk() throws Exception {
    // The server asks gRPC for keepalives in chunks; a chunk it forgot to ask for would stall the
    // stream after the first few, which a client with one message per TTL/3 would not notice.
    long s1 = openSession(30_000);
    long s2 = openSession(30_000);
    int n = 10 * SessionEndpoint.KEEPALIVE_REQUEST_CHUNK + 7;
    java.util.concurrent.LinkedBlockingQueue<io.holdfast.proto.v1.KeepAliveResponse> answers =
        new java.util.concurrent.LinkedBlockingQueue<>();
    java.util.concurrent.CompletableFuture<Void> ended = new java.util.concurrent.CompletableFuture<>();
    var out = SessionServiceGrpc.newStub(cluster.channel(leader)).keepAlive(
        new io.grpc.stub.StreamObserver<io.holdfast.proto.v1.KeepAliveResponse>() {
          @Override
          public void onNext(io.holdfast.proto.v1.KeepAliveResponse r) {
            answers.add(r);
          }

          @Override
          public void onError(Throwable t) {
            ended.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            ended.complete(null);
          }
        });
    // One at a time, as a client does: a keepalive that arrives while its session's renewal is in
    // flight is answered with a later one (KeepAliveStreamTest).
    java.util.Set<Long> seqs = new java.util.HashSet<>();
    for (int i = 0; i < n; i++) {
      long id = i % 3 == 2 ? 987654321L : (i % 3 == 0 ? s1 : s2);
      out.onNext(io.holdfast.proto.v1.KeepAliveRequest.newBuilder().setSessionId(id).setSeq(i).build());
      var r = answers.poll(30, TimeUnit.SECONDS);
      if (r == null) {
        throw new AssertionError("only " + i + " of " + n + " keepalives were answered");
      }
      assertEquals(i, r.getSeq());
      assertTrue(seqs.add(r.getSeq()), "one answer per keepalive");
      assertEquals(r.getSeq() % 3 != 2, r.getAlive(), "seq " + r.getSeq() + " (session " + r.getSessionId() + ")");
    }
    out.onCompleted();
    ended.get(10, TimeUnit.SECONDS);
    assertEquals(n, seqs.size());
  }

  private static int queuedOn(int node, String prefix) {
    return locks(node).listLocks(io.holdfast.proto.v1.ListLocksRequest.newBuilder().setPrefix(prefix).build())
        .getLocksList().stream().mapToInt(l -> l.getWaitersCount()).sum();
  }

  @Test
  void aReleaseGoesThroughWhileMoreThanAThousandAcquiresWaitOnTheSameConnection() throws Exception {
    // One process's sessions share a connection per node, and each may have up to
    // max-locks-per-session (1,000) acquires waiting; with a limit of 1,000 calls per connection
    // the release they wait for (or a keepalive) queued behind them and never went out.
    int locksHeld = 550;
    long holder = openSession(60_000);
    long[] waiters = {openSession(60_000), openSession(60_000)};
    long[] tokens = new long[locksHeld];
    for (int i = 0; i < locksHeld; i++) {
      tokens[i] = acquire(holder, "crowd/" + i, 0).getToken();
    }
    var async = LockServiceGrpc.newFutureStub(cluster.channel(leader));
    java.util.List<com.google.common.util.concurrent.ListenableFuture<AcquireResponse>> waits = new java.util.ArrayList<>();
    for (long w : waiters) {
      for (int i = 0; i < locksHeld; i++) {
        waits.add(async.withDeadlineAfter(120, TimeUnit.SECONDS).acquire(AcquireRequest.newBuilder()
            .setRequestId(rid()).setSessionId(w).setLockName("crowd/" + i).setWaitMs(100_000).build()));
      }
    }
    // Every acquire is queued before the release is sent: 1,100 calls outstanding on the connection.
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    int queued;
    while ((queued = queuedOn(leader, "crowd/")) < 2 * locksHeld && System.nanoTime() < end) {
      Thread.sleep(100);
    }
    assertEquals(2 * locksHeld, queued, "acquires queued before the release");
    locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(holder)
        .setLockName("crowd/0").setToken(tokens[0]).build());
    AcquireResponse granted = waits.get(0).get(30, TimeUnit.SECONDS);
    assertTrue(granted.getGranted());
    assertEquals(waiters[0], granted.getLock().getHolderSessionId());
    for (long s : new long[] {holder, waiters[0], waiters[1]}) {
      sessions(leader).closeSession(io.holdfast.proto.v1.CloseSessionRequest.newBuilder().setRequestId(rid())
          .setSessionId(s).build());
    }
  }

  @Test
  void theEndOfASessionsEarlierWaitDoesNotEndItsNextAcquireForTheSameLock() throws Exception {
    // Waits are per (session, lock). A withdrawal of the session's first acquire and a second
    // acquire sent together often share an entry: the withdrawal's event then reached the second
    // call, which answered "not granted" while its wait stayed queued with nobody to tell.
    long holder = openSession(60_000);
    long waiter = openSession(60_000);
    var async = LockServiceGrpc.newFutureStub(cluster.channel(leader));
    for (int round = 0; round < 20; round++) {
      String name = "same-session/" + round;
      long token = acquire(holder, name, 0).getToken();
      String first = rid();
      var r0 = async.withDeadlineAfter(60, TimeUnit.SECONDS).acquire(AcquireRequest.newBuilder().setRequestId(first)
          .setSessionId(waiter).setLockName(name).setWaitMs(-1).build());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (describe(leader, name).getWaitersCount() == 0 && System.nanoTime() < end) {
        Thread.sleep(5);
      }
      var cancel = async.withDeadlineAfter(10, TimeUnit.SECONDS).cancelWait(io.holdfast.proto.v1.CancelWaitRequest
          .newBuilder().setRequestId(rid()).setSessionId(waiter).setLockName(name).setAcquireRequestId(first).build());
      var r1 = async.withDeadlineAfter(60, TimeUnit.SECONDS).acquire(AcquireRequest.newBuilder().setRequestId(rid())
          .setSessionId(waiter).setLockName(name).setWaitMs(-1).build());
      cancel.get(10, TimeUnit.SECONDS);
      assertFalse(r0.get(10, TimeUnit.SECONDS).getGranted(), "the withdrawn acquire");
      // Either order is legal: the second acquire joined the first's wait and was withdrawn with it,
      // or it queued after the withdrawal and still waits. Never a queued wait that nobody awaits.
      Thread.sleep(50);
      boolean queued = describe(leader, name).getWaitersCount() == 1;
      if (r1.isDone()) {
        assertFalse(r1.get().getGranted());
        assertFalse(queued, "round " + round + ": the second acquire answered while its wait is still queued");
      } else {
        assertTrue(queued, "round " + round + ": the second acquire waits for nothing");
        locks(leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(holder).setLockName(name)
            .setToken(token).build());
        AcquireResponse granted = r1.get(10, TimeUnit.SECONDS);
        assertTrue(granted.getGranted());
        assertEquals(waiter, granted.getLock().getHolderSessionId());
      }
    }
  }

  @Test
  void aKeyListStopsAtItsSizeCapAndThePagesAfterItHoldTheRest() {
    var kv = io.holdfast.proto.v1.KvServiceGrpc.newBlockingStub(cluster.channel(leader));
    byte[] value = new byte[1_000_000];
    for (int i = 0; i < 6; i++) {
      value[0] = (byte) i;
      kv.withDeadlineAfter(10, TimeUnit.SECONDS).put(io.holdfast.proto.v1.PutRequest.newBuilder().setRequestId(rid())
          .setKey("pages/" + i).setValue(com.google.protobuf.ByteString.copyFrom(value)).build());
    }
    java.util.List<String> keys = new java.util.ArrayList<>();
    String after = "";
    int pages = 0;
    io.holdfast.proto.v1.ListResponse page;
    do {
      page = kv.withDeadlineAfter(10, TimeUnit.SECONDS).list(io.holdfast.proto.v1.ListRequest.newBuilder()
          .setPrefix("pages/").setStartAfter(after).build());
      long bytes = page.getKvsList().stream().mapToLong(e -> e.getValue().size()).sum();
      assertTrue(bytes <= KvEndpoint.MAX_LIST_RESPONSE_BYTES, bytes + " bytes in one page");
      assertTrue(page.getKvsCount() > 0);
      for (var e : page.getKvsList()) {
        keys.add(e.getKey());
        assertEquals(Integer.parseInt(e.getKey().substring(6)), e.getValue().byteAt(0));
      }
      after = keys.get(keys.size() - 1);
      pages++;
    } while (page.getMore());
    assertEquals(java.util.List.of("pages/0", "pages/1", "pages/2", "pages/3", "pages/4", "pages/5"), keys);
    assertEquals(2, pages, "6 MB of values in pages of at most 4 MiB");

    var one = kv.list(io.holdfast.proto.v1.ListRequest.newBuilder().setPrefix("pages/").setKeysOnly(true)
        .setLimit(2).setStartAfter("pages/3").build());
    assertEquals(java.util.List.of("pages/4", "pages/5"), one.getKvsList().stream().map(e -> e.getKey()).toList());
    assertFalse(one.getMore());
    var before = kv.list(io.holdfast.proto.v1.ListRequest.newBuilder().setPrefix("pages/").setKeysOnly(true)
        .setLimit(1).setStartAfter("a").build());
    assertEquals("pages/0", before.getKvs(0).getKey(), "a start before the prefix starts at the prefix");
    assertTrue(before.getMore());
  }
}
