package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.testing.LockHolderProcess;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.client.testing.ClusterExtension;
import io.holdfast.server.testing.ProcessCluster;
import java.time.Duration;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Sessions and locks through the client, on a real 3-node cluster with a stable leader. */
class LockingClusterTest {
  @RegisterExtension
  static final ClusterExtension CLUSTER = new ClusterExtension(Map.of(), "locking-test");
  static ProcessCluster cluster;
  static HoldfastClient client;

  @BeforeAll
  static void bind() {
    cluster = CLUSTER.cluster();
    client = CLUSTER.client();
  }

  @Test
  void waitersAreGrantedInFifoOrderWithIncreasingTokens() throws Exception {
    Session holder = client.newSession(Duration.ofSeconds(10));
    LockLease first = holder.tryLock("fifo/a").orElseThrow();
    List<Session> sessions = new ArrayList<>();
    List<CompletableFuture<LockLease>> waits = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Session s = client.newSession(Duration.ofSeconds(10));
      sessions.add(s);
      waits.add(s.lockAsync("fifo/a"));
      // Queue them one after another, so the FIFO order is defined.
      awaitWaiters("fifo/a", i + 1);
    }
    assertEquals(List.of(sessions.get(0).id(), sessions.get(1).id(), sessions.get(2).id()),
        client.describeLock("fifo/a").waitingSessionIds());

    long previous = first.token();
    first.close();
    for (int i = 0; i < 3; i++) {
      LockLease lease = waits.get(i).get(10, TimeUnit.SECONDS);
      assertEquals(sessions.get(i).id(), client.describeLock("fifo/a").holderSessionId(), "waiter " + i);
      for (int j = i + 1; j < 3; j++) {
        assertFalse(waits.get(j).isDone(), "waiter " + j + " must still wait while " + i + " holds the lock");
      }
      assertTrue(lease.token() > previous, "token " + lease.token() + " after " + previous);
      previous = lease.token();
      lease.close();
    }
    assertFalse(client.describeLock("fifo/a").held());
    holder.close();
    sessions.forEach(Session::close);
  }

  @Test
  void aLeaseTakenWithAMaxHoldIsNoLongerValidOnceTheClusterCouldHaveHandedItOn() throws Exception {
    // A long TTL: keepalive answers (which list the locks held) come only every 10 s, so the lease
    // must know its own limit.
    Session a = client.newSession(Duration.ofSeconds(30));
    Session b = client.newSession(Duration.ofSeconds(30));
    LockLease held = a.lockAsync("maxhold/a", LockOptions.tryOnce().withLockDelay(Duration.ZERO)
        .withMaxHold(Duration.ofMillis(1_500))).get(10, TimeUnit.SECONDS).orElseThrow();
    assertTrue(held.isValid());
    LockLease next = b.lockAsync("maxhold/a").get(15, TimeUnit.SECONDS);
    assertFalse(held.isValid(), "the cluster took the lock back and gave it to " + next + "; " + held
        + " must not still say it holds it");
    assertTrue(next.isValid());
    assertTrue(next.token() > held.token());
    next.close();
    a.close();
    b.close();
  }

  @Test
  void aGrantTheSessionAlreadyHeldKeepsItsOwnMaxHoldFromWhenItWasGranted() throws Exception {
    Session a = client.newSession(Duration.ofSeconds(30));
    Session b = client.newSession(Duration.ofSeconds(30));
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    // The session takes the lock with a 4 s max hold in a call this client did not make (another
    // thread's lease on it, since closed, as far as this client knows)...
    long token = LockServiceGrpc.newBlockingStub(cluster.channel(leader)).acquire(AcquireRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setSessionId(a.id()).setLockName("maxhold/again")
        .setMaxHoldMs(4_000).setLockDelayMs(0).build()).getToken();
    long grantedAt = System.nanoTime();
    // Long enough that counting the limit from this second call's send would outlast the grant.
    Thread.sleep(1_500);
    // ...and asks for it again with a longer one: the cluster answers with the same grant, whose
    // limit still counts from its own grant.
    LockLease again = a.lockAsync("maxhold/again", LockOptions.tryOnce().withMaxHold(Duration.ofSeconds(60)))
        .get(10, TimeUnit.SECONDS).orElseThrow();
    assertEquals(token, again.token(), "the same grant");
    assertTrue(again.isValid());
    LockLease next = b.lockAsync("maxhold/again").get(15, TimeUnit.SECONDS);
    assertTrue(next.token() > token);
    assertFalse(again.isValid(), "the cluster handed the lock on "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - grantedAt) + " ms after the grant; " + again
        + " must not still say it holds it");
    next.close();
    a.close();
    b.close();
  }

  @Test
  void aGrantMadeAfterAWaitCountsItsMaxHoldFromTheGrant() throws Exception {
    Session a = client.newSession(Duration.ofSeconds(30));
    Session b = client.newSession(Duration.ofSeconds(30));
    Session c = client.newSession(Duration.ofSeconds(30));
    LockLease first = a.tryLock("maxhold/waited").orElseThrow();
    // Waits 4 s for a lock it may then hold for 3 s: counted from the send, the lease would be
    // over before the grant came.
    var waiting = b.lockAsync("maxhold/waited", LockOptions.waitUpTo(Duration.ofSeconds(30))
        .withMaxHold(Duration.ofSeconds(3)).withLockDelay(Duration.ZERO));
    Thread.sleep(4_000);
    first.close();
    LockLease granted = waiting.get(15, TimeUnit.SECONDS).orElseThrow();
    long grantedAt = System.nanoTime();
    assertTrue(granted.isValid(), "the max hold counts from the grant: " + granted);
    // The cluster takes it back when its 3 s run out, and hands it to the next waiter.
    LockLease next = c.lockAsync("maxhold/waited").get(15, TimeUnit.SECONDS);
    assertTrue(next.token() > granted.token());
    assertFalse(granted.isValid(), "the cluster handed the lock on "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - grantedAt) + " ms after the grant; " + granted
        + " must not still say it holds it");
    next.close();
    a.close();
    b.close();
    c.close();
  }

  @Test
  void timedWaitReturnsEmptyAndLeavesNoPlaceInTheQueue() throws Exception {
    Session a = client.newSession(Duration.ofSeconds(10));
    Session b = client.newSession(Duration.ofSeconds(10));
    LockLease lease = a.tryLock("timed/a").orElseThrow();
    Optional<LockLease> none = b.lock("timed/a", Duration.ofMillis(400));
    assertTrue(none.isEmpty());
    assertEquals(List.of(), client.describeLock("timed/a").waitingSessionIds());
    assertTrue(b.tryLock("timed/a").isEmpty());
    lease.close();
    assertTrue(b.tryLock("timed/a").isPresent());
    a.close();
    b.close();
  }

  @Test
  void silentSessionLosesItsLockWithinTtlAndTheWaiterGetsAHigherToken() throws Exception {
    // A session opened by hand and never kept alive: node-7 frozen, as far as the cluster knows.
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    long ttlMs = 3_000;
    var sessions = SessionServiceGrpc.newBlockingStub(cluster.channel(leader));
    // Before the open is sent: the session's TTL starts when the open is applied, after this.
    long t0 = System.nanoTime();
    long silent = sessions.openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
        .setTtlMs(ttlMs).setClient(ClientIdentity.newBuilder().setName("node-7")).build()).getSessionId();
    long silentToken = LockServiceGrpc.newBlockingStub(cluster.channel(leader)).acquire(AcquireRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setSessionId(silent).setLockName("fleet/config").build())
        .getToken();
    assertEquals("node-7", client.describeLock("fleet/config").holderName());

    Session waiter = client.newSession(Duration.ofSeconds(10));
    LockLease lease = waiter.lock("fleet/config", Duration.ofSeconds(ttlMs / 1000 + 10)).orElseThrow();
    long grantedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    System.out.printf("silent holder (TTL %d ms): waiter granted %d ms after the holder's last sign of life%n",
        ttlMs, grantedAfterMs);
    assertTrue(grantedAfterMs <= ttlMs + 2_000, "granted " + grantedAfterMs + " ms after the last sign of life");
    // A few ms for the cluster's clock, which counts whole milliseconds.
    assertTrue(grantedAfterMs >= ttlMs - 5, "granted too early: " + grantedAfterMs + " ms");
    assertTrue(lease.token() > silentToken);
    lease.close();
    waiter.close();
  }

  @Test
  void killedHolderProcessLosesItsLockWithinTtlPlusTwoSeconds() throws Exception {
    long ttlMs = 3_000;
    Process holder = LockHolderProcess.start(String.join(",", cluster.endpoints()), "fleet/killed", ttlMs);
    try {
      long[] held = LockHolderProcess.awaitHolding(holder, Duration.ofSeconds(30));
      assertEquals(held[0], client.describeLock("fleet/killed").holderSessionId());
      Session waiter = client.newSession(Duration.ofSeconds(10));
      CompletableFuture<LockLease> wait = waiter.lockAsync("fleet/killed");
      awaitWaiters("fleet/killed", 1);
      holder.destroyForcibly(); // kill -9: no goodbye, no release
      long killedAt = System.nanoTime();
      LockLease lease = wait.get(ttlMs + 10_000, TimeUnit.MILLISECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      System.out.printf("killed holder process (TTL %d ms): lock moved %d ms after kill -9%n", ttlMs, ms);
      assertTrue(ms <= ttlMs + 2_000, "lock moved " + ms + " ms after the holder was killed");
      assertTrue(lease.token() > held[1]);
      lease.close();
      waiter.close();
    } finally {
      holder.destroyForcibly();
    }
  }

  @Test
  void releaseWithALostLeaseIsRefusedAndTypedErrorsReachTheApplication() throws Exception {
    Session s = client.newSession(Duration.ofSeconds(10));
    assertThrows(InvalidArgumentException.class, () -> s.tryLock("bad name"));
    assertThrows(InvalidArgumentException.class, () -> client.newSession(Duration.ofMillis(10)));
    LockLease lease = s.tryLock("typed/a").orElseThrow();
    s.close();
    assertFalse(lease.isValid());
    assertThrows(LockLostException.class, lease::close);
    assertThrows(SessionExpiredException.class, () -> s.tryLock("typed/b"));
  }

  @Test
  void aSessionTheClusterNoLongerKnowsEndsOnTheRefusedAcquire() throws Exception {
    // A long TTL: the next keepalive is many seconds away, so only the refused acquire can tell.
    Session s = client.newSession(Duration.ofSeconds(60));
    assertTrue(s.tryLock("refused/a").isPresent());
    client.admin().expireSession(s.id(), "test: ended behind the client's back", "test");
    assertThrows(SessionExpiredException.class, () -> s.tryLock("refused/b"));
    assertEquals(SessionState.EXPIRED, s.state());
    assertThrows(SessionExpiredException.class, () -> s.tryLock("refused/c"));
  }

  @Test
  void aCancelledLockAsyncLeavesTheQueueAndTheLockMovesOn() throws Exception {
    try (Session a = session(10); Session b = session(10); Session c = session(10)) {
      LockLease held = a.tryLock("given-up/a").orElseThrow();
      CompletableFuture<LockLease> wait = b.lockAsync("given-up/a");
      awaitWaiters("given-up/a", 1);

      wait.cancel(true);

      awaitCondition("b's wait withdrawn", () -> client.describeLock("given-up/a").waitingSessionIds().isEmpty());
      held.close();
      assertFalse(client.describeLock("given-up/a").held(), "the lock went to b, which had given up");
      assertTrue(c.tryLock("given-up/a").isPresent());
    }
  }

  @Test
  void cancelledTryLocksLeaveNoLockHeld() throws Exception {
    try (Session s = session(3)) {
      List<CompletableFuture<Optional<LockLease>>> tries = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        CompletableFuture<Optional<LockLease>> t = s.tryLockAsync("given-up/try-" + i);
        t.cancel(true);
        tries.add(t);
      }
      // Each was withdrawn, or its grant released: at once, or at the latest at a keepalive answer.
      awaitCondition("no given-up/try- lock held", () -> client.admin().locks("given-up/try-").stream()
          .noneMatch(LockDescription::held));
      assertTrue(tries.stream().allMatch(CompletableFuture::isCancelled));
    }
  }

  @Test
  void aGrantNoCallerHoldsIsReleasedByTheClient() throws Exception {
    try (Session a = session(10); Session b = session(3)) {
      a.tryLock("given-up/unasked").orElseThrow();
      // A revocation that names b, which never asked for the lock: nobody in b's process holds it.
      client.admin().revoke("given-up/unasked", "test: unasked successor", b.id(), false, "locking-test");
      assertEquals(b.id(), client.describeLock("given-up/unasked").holderSessionId());

      // b's keepalive answers list the lock; the client gives it back (keepalives every TTL/3 = 1 s).
      awaitCondition("b released the unasked grant", () -> !client.describeLock("given-up/unasked").held());
      assertTrue(b.isValid());
    }
  }

  @Test
  void twoWaitsOfOneSessionOnOneLockEndIndependently() throws Exception {
    try (Session a = session(10); Session b = session(10)) {
      LockLease held = a.tryLock("given-up/merged").orElseThrow();
      CompletableFuture<Optional<LockLease>> shortWait = b.lockAsync("given-up/merged", Duration.ofSeconds(2));
      awaitWaiters("given-up/merged", 1);
      CompletableFuture<LockLease> longWait = b.lockAsync("given-up/merged");
      Thread.sleep(300); // the long wait reaches the server well before the short one runs out

      // The server keeps one wait per session and lock: the short one's end ended both.
      assertTrue(shortWait.get(10, TimeUnit.SECONDS).isEmpty());
      Thread.sleep(300);
      assertFalse(longWait.isDone(), "the unbounded wait ended with the short one: " + longWait);
      awaitWaiters("given-up/merged", 1);
      held.close();
      LockLease lease = longWait.get(10, TimeUnit.SECONDS);
      assertEquals(b.id(), client.describeLock("given-up/merged").holderSessionId());
      lease.close();
    }
  }

  @Test
  void aWaitGivenUpLeavesTheGrantToAnotherWaitOfTheSameSession() throws Exception {
    try (Session a = session(10); Session b = session(3); Session c = session(10)) {
      LockLease held = a.tryLock("given-up/shared").orElseThrow();
      CompletableFuture<LockLease> first = b.lockAsync("given-up/shared");
      awaitWaiters("given-up/shared", 1);
      CompletableFuture<LockLease> second = b.lockAsync("given-up/shared");
      CompletableFuture<LockLease> third = c.lockAsync("given-up/shared");
      awaitWaiters("given-up/shared", 2);

      // The other wait of b still wants the lock: b keeps its place, ahead of c. (Withdrawn, b's
      // second wait would have to queue again, behind c.)
      first.cancel(true);
      Thread.sleep(300);
      held.close();

      LockLease lease = second.get(10, TimeUnit.SECONDS);
      assertTrue(lease.isValid());
      // Two keepalive answers later (every second), b still holds it: nothing gave it back.
      Thread.sleep(2_500);
      assertEquals(b.id(), client.describeLock("given-up/shared").holderSessionId());
      assertEquals(lease.token(), client.describeLock("given-up/shared").token());
      assertTrue(lease.isValid());
      assertFalse(third.isDone());
      lease.close();
      third.get(10, TimeUnit.SECONDS).close();
    }
  }

  @Test
  void aSessionsSecondLeaseOfALockKeepsItUntilBothAreClosed() throws Exception {
    try (Session b = session(10); Session c = session(10)) {
      LockLease one = b.tryLock("given-up/twice").orElseThrow();
      LockLease two = b.tryLock("given-up/twice").orElseThrow(); // the same grant, again
      assertEquals(one.token(), two.token());

      one.close();

      assertEquals(b.id(), client.describeLock("given-up/twice").holderSessionId(), "released with a lease open");
      assertTrue(c.tryLock("given-up/twice").isEmpty());
      two.close();
      assertTrue(c.tryLock("given-up/twice").isPresent());
    }
  }

  @Test
  void aReleaseSentAsSoonAsTheGrantArrivesReleasesTheLock() throws Exception {
    // The caller learns of its grant before the acquire has finished its own bookkeeping (callbacks
    // on one future run newest first). A release sent right then must still go to the cluster, and
    // the next acquire must get a grant, and a token, of its own: W1 once saw a token twice.
    Session s = session(10);
    Session other = session(10);
    long previous = 0;
    for (int i = 0; i < 20; i++) {
      long[] token = new long[1];
      s.lockAsync("released-at-once/a").thenCompose(lease -> {
        token[0] = lease.token();
        return lease.releaseAsync();
      }).get(10, TimeUnit.SECONDS);
      assertTrue(token[0] > previous, "round " + i + ": token " + token[0] + " after " + previous);
      previous = token[0];
      assertFalse(client.describeLock("released-at-once/a").held(), "round " + i + ": the release went out");
      // And nothing of this session's stands in another's way.
      other.tryLock("released-at-once/a").orElseThrow(() -> new AssertionError("another session can take it"))
          .close();
    }
    s.close();
    other.close();
  }

  static Session session(int ttlSeconds) {
    return client.newSession(Duration.ofSeconds(ttlSeconds));
  }

  static void awaitCondition(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("not within 10 s: " + what);
      }
      Thread.sleep(20);
    }
  }

  static void awaitWaiters(String lock, int n) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (client.describeLock(lock).waitingSessionIds().size() < n) {
      if (System.nanoTime() > end) {
        throw new AssertionError("lock " + lock + " never had " + n + " waiters");
      }
      Thread.sleep(10);
    }
  }
}
