package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.AuditEntry;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.ExpireSessionRequest;
import io.holdfast.proto.v1.ListAuditRequest;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.ListMembersResponse;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.LockState;
import io.holdfast.proto.v1.Member;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.RevokeRequest;
import io.holdfast.proto.v1.RevokeResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's tools against a real 3-node cluster: revoke (with and without successor, dry
 * run), lock-delay and the ORPHANED state, max hold time, admin expiry, incarnation takeover, and
 * the audit log that records each. Sessions here are opened by hand and never kept alive, so a
 * short TTL means "the holder died".
 */
class AdminApiClusterTest {
  @TempDir
  static Path dir;
  static ProcessCluster cluster;
  static int leader;

  @BeforeAll
  static void start() {
    cluster = new ProcessCluster(3, dir, Map.of("checkpoint-interval-ms", "200",
        "lock-delay-defaults", "{delayed/: 1500, delayed/long/: 4000}")).start();
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

  static LockServiceGrpc.LockServiceBlockingStub locks() {
    return LockServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  static AdminServiceGrpc.AdminServiceBlockingStub admin() {
    return AdminServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  static long open(long ttlMs, String name, String exclusiveKey) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(leader)).openSession(OpenSessionRequest.newBuilder()
        .setRequestId(rid()).setTtlMs(ttlMs).setExclusiveKey(exclusiveKey)
        .setClient(ClientIdentity.newBuilder().setName(name).setHost("host-" + name).setPid(7)).build())
        .getSessionId();
  }

  static long open(String name) {
    return open(60_000, name, "");
  }

  static AcquireResponse acquire(AcquireRequest.Builder b) {
    return locks().acquire(b.setRequestId(rid()).build());
  }

  static AcquireResponse tryAcquire(long session, String lock) {
    return acquire(AcquireRequest.newBuilder().setSessionId(session).setLockName(lock));
  }

  static CompletableFuture<AcquireResponse> waitFor(long session, String lock) {
    CompletableFuture<AcquireResponse> f = CompletableFuture.supplyAsync(() ->
        acquire(AcquireRequest.newBuilder().setSessionId(session).setLockName(lock).setWaitMs(30_000)));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (describe(lock).getWaitersList().stream().noneMatch(w -> w.getSessionId() == session)) {
      if (System.nanoTime() > end) {
        throw new AssertionError("session " + session + " never queued on " + lock);
      }
      sleep(10);
    }
    return f;
  }

  static LockInfo describe(String lock) {
    return locks().describeLock(DescribeLockRequest.newBuilder().setLockName(lock).build()).getLock();
  }

  static List<AuditEntry> audit(String lock) {
    return admin().listAudit(ListAuditRequest.newBuilder().setLockName(lock).build()).getEntriesList();
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void revokeMovesTheLockOnWithAHigherTokenAndRecordsWhyAndFromWhom() throws Exception {
    long ghost = open("node-7");
    long next = open("node-8");
    long token = tryAcquire(ghost, "fleet/revoke").getToken();
    CompletableFuture<AcquireResponse> waiting = waitFor(next, "fleet/revoke");

    RevokeResponse dry = admin().revoke(RevokeRequest.newBuilder().setRequestId(rid()).setLockName("fleet/revoke")
        .setReason("node-7 is dead").setRequestedBy("sre-alice").setDryRun(true).build());
    assertTrue(dry.getDryRun());
    assertEquals(ghost, dry.getFormerHolderSessionId());
    assertEquals(next, dry.getGrantedToSessionId(), "the dry run names who would get the lock");
    LockInfo unchanged = describe("fleet/revoke");
    assertEquals(ghost, unchanged.getHolderSessionId(), "a dry run changes nothing");
    assertEquals(token, unchanged.getToken());
    assertTrue(audit("fleet/revoke").isEmpty());

    RevokeResponse r = admin().revoke(RevokeRequest.newBuilder().setRequestId(rid()).setLockName("fleet/revoke")
        .setReason("node-7 is dead").setRequestedBy("sre-alice").build());
    assertEquals(ghost, r.getFormerHolderSessionId());
    assertEquals(token, r.getFormerToken());
    assertEquals(next, r.getGrantedToSessionId());
    assertTrue(r.getNewToken() > token);
    AcquireResponse granted = waiting.get(10, TimeUnit.SECONDS);
    assertTrue(granted.getGranted());
    assertEquals(r.getNewToken(), granted.getToken());

    // Whatever the former holder still sends carries the old token and is refused.
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> locks().release(
        ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(ghost).setLockName("fleet/revoke")
            .setToken(token).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());

    List<AuditEntry> entries = audit("fleet/revoke");
    assertEquals(1, entries.size());
    AuditEntry e = entries.get(0);
    assertEquals("REVOKED", e.getKind());
    assertEquals("node-7 is dead", e.getReason());
    assertEquals("sre-alice", e.getRequestedBy());
    assertEquals(ghost, e.getSessionId());
    assertEquals("node-7", e.getClient().getName());
    assertEquals(token, e.getToken());
    assertEquals(next, e.getSuccessorSessionId());
  }

  @Test
  void revokeToANamedSuccessorSkipsTheQueue() throws Exception {
    long holder = open("a");
    long queued = open("b");
    long chosen = open("canary");
    tryAcquire(holder, "fleet/successor");
    CompletableFuture<AcquireResponse> waiting = waitFor(queued, "fleet/successor");
    RevokeResponse r = admin().revoke(RevokeRequest.newBuilder().setRequestId(rid()).setLockName("fleet/successor")
        .setReason("hand to the canary").setSuccessorSessionId(chosen).build());
    assertEquals(chosen, r.getGrantedToSessionId());
    LockInfo now = describe("fleet/successor");
    assertEquals(chosen, now.getHolderSessionId());
    assertEquals(queued, now.getWaiters(0).getSessionId(), "the queue keeps its place");
    assertFalse(waiting.isDone());

    StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> admin().revoke(
        RevokeRequest.newBuilder().setRequestId(rid()).setLockName("fleet/none").setReason("x").build()));
    assertEquals(Status.Code.NOT_FOUND, bad.getStatus().getCode());
    StatusRuntimeException noReason = assertThrows(StatusRuntimeException.class, () -> admin().revoke(
        RevokeRequest.newBuilder().setRequestId(rid()).setLockName("fleet/successor").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, noReason.getStatus().getCode());
  }

  @Test
  void aFollowerListsTheMembersFromItsOwnCopyWhenAStaleAnswerIsAskedFor() {
    int follower = (leader + 1) % 3;
    var stub = AdminServiceGrpc.newBlockingStub(cluster.channel(follower)).withDeadlineAfter(10, TimeUnit.SECONDS);
    ListMembersResponse stale = stub.listMembers(ListMembersRequest.newBuilder().setStaleOk(true).build());
    assertEquals(ProcessCluster.nodeId(follower), stale.getHeader().getMemberId(), "answered by the follower itself");
    assertEquals(List.of("n1", "n2", "n3"), stale.getMembersList().stream().map(Member::getId).sorted().toList());
    assertEquals(List.of(cluster.endpoint(0), cluster.endpoint(1), cluster.endpoint(2)), stale.getMembersList()
        .stream().sorted(java.util.Comparator.comparing(Member::getId)).map(Member::getClientAddress).toList());
    assertEquals(1, stale.getMembersList().stream().filter(Member::getLeader).count());
    // Without stale_ok the follower answers too, after a read barrier through the leader: the same list.
    assertEquals(stale.getMembersList(), stub.listMembers(ListMembersRequest.getDefaultInstance()).getMembersList());
  }

  @Test
  void lockDelayHoldsBackTheNextGrantOnlyAfterAnUncleanRelease() throws Exception {
    long delayMs = 2_000;
    // Clean release: no delay.
    long clean = open("clean");
    long other = open("other");
    AcquireResponse c = acquire(AcquireRequest.newBuilder().setSessionId(clean).setLockName("delay/clean")
        .setLockDelayMs(delayMs));
    CompletableFuture<AcquireResponse> w1 = waitFor(other, "delay/clean");
    long t0 = System.nanoTime();
    locks().release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(clean).setLockName("delay/clean")
        .setToken(c.getToken()).build());
    w1.get(10, TimeUnit.SECONDS);
    assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) < delayMs, "a clean release is not delayed");

    // Unclean: the holder's session expires; the lock sits ORPHANED for its delay.
    long ttlMs = 2_000;
    long dying = open(ttlMs, "dying", "");
    long started = System.nanoTime();
    AcquireResponse d = acquire(AcquireRequest.newBuilder().setSessionId(dying).setLockName("delay/unclean")
        .setLockDelayMs(delayMs));
    long waiter = open("waiter");
    CompletableFuture<AcquireResponse> w2 = waitFor(waiter, "delay/unclean");
    LockInfo orphaned = null;
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < end && !w2.isDone()) {
      LockInfo info = describe("delay/unclean");
      if (info.getState() == LockState.ORPHANED) {
        orphaned = info;
        break;
      }
      sleep(50);
    }
    assertTrue(orphaned != null, "the lock showed ORPHANED during its lock-delay");
    assertEquals(dying, orphaned.getFormerHolderSessionId());
    assertEquals("dying", orphaned.getFormerHolder().getName());
    assertEquals(d.getToken(), orphaned.getToken());
    assertEquals("EXPIRED", orphaned.getFreeReason());
    assertTrue(orphaned.getGrantableInMs() > 0 && orphaned.getGrantableInMs() <= delayMs);
    assertEquals(waiter, orphaned.getWaiters(0).getSessionId());

    AcquireResponse got = w2.get(15, TimeUnit.SECONDS);
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    assertTrue(ms >= ttlMs + delayMs - 200, "granted after " + ms + " ms: the delay was not honoured");
    assertTrue(ms <= ttlMs + delayMs + 2_500, "granted after " + ms + " ms");
    assertTrue(got.getToken() > d.getToken());
    assertEquals("EXPIRED", audit("").stream().filter(a -> a.getSessionId() == dying).findFirst().orElseThrow()
        .getKind());
  }

  @Test
  void aLockThatDoesNotAskGetsTheConfiguredLockDelayOfItsLongestPrefix() {
    long s = open("defaults");
    acquire(AcquireRequest.newBuilder().setSessionId(s).setLockName("delayed/a"));
    acquire(AcquireRequest.newBuilder().setSessionId(s).setLockName("delayed/long/b"));
    acquire(AcquireRequest.newBuilder().setSessionId(s).setLockName("plain/c"));
    acquire(AcquireRequest.newBuilder().setSessionId(s).setLockName("delayed/asks").setLockDelayMs(0));
    assertEquals(1_500, describe("delayed/a").getLockDelayMs());
    assertEquals(4_000, describe("delayed/long/b").getLockDelayMs());
    assertEquals(0, describe("plain/c").getLockDelayMs());
    assertEquals(0, describe("delayed/asks").getLockDelayMs(), "an explicit request wins over the default");
    StatusRuntimeException tooLong = assertThrows(StatusRuntimeException.class, () -> acquire(
        AcquireRequest.newBuilder().setSessionId(s).setLockName("delayed/x").setLockDelayMs(3_600_000)));
    assertEquals(Status.Code.INVALID_ARGUMENT, tooLong.getStatus().getCode());
    assertTrue(tooLong.getStatus().getDescription().contains("lock_delay_ms"));
  }

  @Test
  void maxHoldTimeRevokesTheLockAndSaysSo() throws Exception {
    long greedy = open("greedy");
    long patient = open("patient");
    AcquireResponse g = acquire(AcquireRequest.newBuilder().setSessionId(greedy).setLockName("hold/max")
        .setMaxHoldMs(1_000));
    long t0 = System.nanoTime();
    AcquireResponse got = waitFor(patient, "hold/max").get(15, TimeUnit.SECONDS);
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms < 1_000 + 2_000, "revoked after " + ms + " ms");
    assertTrue(got.getToken() > g.getToken());
    AuditEntry e = audit("hold/max").get(0);
    assertEquals("MAX_HOLD_EXCEEDED", e.getKind());
    assertEquals(greedy, e.getSessionId());
  }

  @Test
  void aNewIncarnationEndsItsGhostAtOnce() throws Exception {
    long ghost = open(120_000, "orchestrator", "orchestrator/node-7");
    long token = tryAcquire(ghost, "fleet/incarnation").getToken();
    long other = open("other");
    CompletableFuture<AcquireResponse> waiting = waitFor(other, "fleet/incarnation");

    long reborn = open(120_000, "orchestrator", "orchestrator/node-7");
    AcquireResponse moved = waiting.get(5, TimeUnit.SECONDS);
    assertTrue(moved.getGranted());
    assertTrue(moved.getToken() > token);
    StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> tryAcquire(ghost, "x/y"));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
    assertTrue(tryAcquire(reborn, "x/y").getGranted());
    assertTrue(audit("fleet/incarnation").stream().anyMatch(a -> a.getKind().equals("TAKEN_OVER")
        && a.getSessionId() == ghost));
  }

  @Test
  void adminExpiryEndsASessionAndReleasesEveryLock() {
    long dead = open("host-known-dead");
    tryAcquire(dead, "admin/a");
    tryAcquire(dead, "admin/b");
    var resp = admin().expireSession(ExpireSessionRequest.newBuilder().setRequestId(rid()).setSessionId(dead)
        .setReason("host powered off").setRequestedBy("sre-bob").build());
    assertEquals(List.of("admin/a", "admin/b"), resp.getReleasedLocksList());
    assertEquals(LockState.FREE, describe("admin/a").getState());
    AuditEntry e = audit("admin/b").get(0);
    assertEquals("ADMIN_EXPIRED", e.getKind());
    assertEquals("host powered off", e.getReason());
    assertEquals("sre-bob", e.getRequestedBy());
    StatusRuntimeException again = assertThrows(StatusRuntimeException.class, () -> admin().expireSession(
        ExpireSessionRequest.newBuilder().setRequestId(rid()).setSessionId(dead).setReason("again").build()));
    assertEquals(Status.Code.NOT_FOUND, again.getStatus().getCode());
  }
}
