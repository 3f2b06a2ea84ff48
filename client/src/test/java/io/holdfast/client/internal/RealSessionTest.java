package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.client.SessionState;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.CancelWaitRequest;
import io.holdfast.proto.v1.CancelWaitResponse;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.ReleaseResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A session's local deadline and its claims on a shared grant, against a fake node. */
class RealSessionTest {
  /** The clocks' share of the margin grows with the TTL: a fixed second would not cover an hour's drift. */
  @Test
  void theMarginGrowsWithTheTtl() {
    assertEquals(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(1_000 + 3_600),
        RealSession.marginNanos(Duration.ofHours(1)));
    assertEquals(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(1_000 + 10),
        RealSession.marginNanos(Duration.ofSeconds(10)));
    assertEquals(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50), RealSession.marginNanos(Duration.ofMillis(300)));
  }

  @Test
  void anAnswerThatArrivesAfterTheLocalDeadlineExpiresTheSessionInsteadOfReviving() throws Exception {
    ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(1);
    ScheduledExecutorService timers = Executors.newScheduledThreadPool(1);
    ExecutorService completions = Executors.newCachedThreadPool();
    try (FakeNode node = FakeNode.serve(new FakeSessions());
        Endpoints endpoints = new Endpoints(List.of(node.endpoint()))) {
      Caller caller = new Caller(endpoints, RetryPolicy.DEFAULT, scheduler, completions);
      // A connected channel: the session's first keepalive is then answered within milliseconds,
      // long before its watchdog first looks (100 ms).
      SessionServiceGrpc.newBlockingStub(endpoints.channel(node.endpoint())).openSession(OpenSessionRequest
          .newBuilder().setRequestId("warm-up").setTtlMs(4_000).setClient(ClientIdentity.getDefaultInstance()).build());
      Duration ttl = Duration.ofSeconds(4);
      // Opened a TTL ago (an open retried that long, a paused process): its deadline has passed,
      // and its first keepalive goes at once.
      RealSession s = new RealSession(1, ttl, System.nanoTime() - ttl.toNanos(), caller, timers,
          new OrderedDelivery(completions, completions), Duration.ofSeconds(2));
      assertFalse(s.isValid());
      Thread.sleep(500);
      assertFalse(s.isValid(), "once invalid, never valid again");
      assertEquals(SessionState.EXPIRED, s.state());
    } finally {
      scheduler.shutdownNow();
      timers.shutdownNow();
      completions.shutdownNow();
    }
  }

  @Test
  void anOpenAnsweredAfterItsTtlIsClosedAndNotHandedOut() throws Exception {
    long[] firstNanos = {0};
    FakeSessions slow = new FakeSessions() {
      @Override
      public void openSession(OpenSessionRequest req, StreamObserver<io.holdfast.proto.v1.OpenSessionResponse> out) {
        // An election that outlasts the TTL asked for: no leader for 800 ms, then the open goes through.
        synchronized (firstNanos) {
          if (firstNanos[0] == 0) {
            firstNanos[0] = System.nanoTime();
          }
        }
        if (System.nanoTime() - firstNanos[0] < TimeUnit.MILLISECONDS.toNanos(800)) {
          out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "NO_LEADER"));
          return;
        }
        super.openSession(req, out);
      }
    };
    try (FakeNode node = FakeNode.serve(slow);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint())
            .memberSync(Duration.ZERO).build()) {
      io.holdfast.client.ClusterUnavailableException e = org.junit.jupiter.api.Assertions.assertThrows(
          io.holdfast.client.ClusterUnavailableException.class, () -> client.newSession(Duration.ofMillis(500)));
      assertTrue(e.getMessage().contains("after the session's TTL"), e.getMessage());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (slow.closed.isEmpty() && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertEquals(List.of(1L), slow.closed, "the session opened too late is closed on the cluster");
      // A TTL the election does not outlast: the open is retried through it and handed out.
      Session s = client.newSession(Duration.ofSeconds(5));
      assertTrue(s.isValid());
    }
  }

  /** Grants every acquire of a lock the same grant, as a session re-taking a lock it holds gets; one release frees it. */
  static final class OneGrant extends LockServiceGrpc.LockServiceImplBase {
    final AtomicInteger releases = new AtomicInteger();

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(42).build());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      if (releases.incrementAndGet() > 1) {
        out.onError(FakeNode.error(Status.Code.FAILED_PRECONDITION, "NOT_HOLDER"));
        return;
      }
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /** Grants every acquire; the first send of each release is lost on the way back (UNAVAILABLE). */
  static final class LostFirstAnswer extends LockServiceGrpc.LockServiceImplBase {
    final List<String> releases = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(7).build());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      releases.add(req.getRequestId() + (req.getResent() ? " resent" : " first"));
      if (releases.size() == 1) {
        out.onError(Status.UNAVAILABLE.withDescription("connection reset").asRuntimeException());
        return;
      }
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /**
   * A release sent again says so, under the same request id: the cluster, should the first send
   * have been applied and its answer be gone, then answers from the lock's history rather than
   * refusing a release that went through.
   */
  @Test
  void aReleaseSentAgainIsMarkedResent() throws Exception {
    LostFirstAnswer locks = new LostFirstAnswer();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      s.tryLock("a").orElseThrow().close();
      assertEquals(2, locks.releases.size(), locks.releases.toString());
      String id = locks.releases.get(0).split(" ")[0];
      assertEquals(List.of(id + " first", id + " resent"), locks.releases);
    }
  }

  /**
   * Grants token 50 with the lock view and grant age the test sets, as a node answers after applying
   * the acquire, and after {@code answerAfterMs} (a wait).
   */
  static final class ViewedGrant extends LockServiceGrpc.LockServiceImplBase {
    volatile io.holdfast.proto.v1.LockState state = io.holdfast.proto.v1.LockState.HELD;
    volatile long viewToken = 50;
    volatile long viewMaxHoldMs;
    volatile long ageAtCallMs;
    volatile long answerAfterMs;

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      if (answerAfterMs > 0) {
        try {
          Thread.sleep(answerAfterMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(50).setGrantAgeAtCallMs(ageAtCallMs)
          .setLock(io.holdfast.proto.v1.LockInfo.newBuilder().setName(req.getLockName()).setState(state)
              .setHolderSessionId(state == io.holdfast.proto.v1.LockState.HELD ? req.getSessionId() : 0)
              .setToken(viewToken).setMaxHoldMs(viewMaxHoldMs))
          .build());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /**
   * The max hold of a grant counts from that grant, as the answer describes it: a grant the session
   * held already carries its own limit and age, one made after a wait counts from then, and a grant
   * the answer does not show held is not valid.
   */
  @Test
  void aLeasesMaxHoldFollowsTheGrantTheAnswerDescribes() throws Exception {
    ViewedGrant locks = new ViewedGrant();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(30))) {
      io.holdfast.client.LockOptions askedFor60s = io.holdfast.client.LockOptions.tryOnce()
          .withMaxHold(Duration.ofSeconds(60));
      locks.viewMaxHoldMs = 60_000;
      LockLease fresh = s.lockAsync("a", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertTrue(fresh.isValid(), "a grant this call made has its whole limit ahead");
      fresh.close();

      // The same grant asked for again, held for 59.5 s of its 60: less than the margin is left.
      locks.ageAtCallMs = 59_500;
      LockLease retaken = s.lockAsync("a", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertFalse(retaken.isValid(), "the limit counts from the grant, not from this call");
      retaken.close();

      // Held 1 s of a 4 s limit, though this call asked for 60 s: the grant's own limit holds.
      locks.ageAtCallMs = 1_000;
      locks.viewMaxHoldMs = 4_000;
      LockLease shorter = s.lockAsync("a", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertTrue(shorter.isValid());
      Thread.sleep(3_000);
      assertFalse(shorter.isValid(), "past the grant's own 4 s limit, less the second it was held");
      shorter.close();

      // The answer shows the grant already ended (revoked for its hold before the answer was read).
      locks.ageAtCallMs = 0;
      locks.viewMaxHoldMs = 60_000;
      locks.state = io.holdfast.proto.v1.LockState.ORPHANED;
      LockLease ended = s.lockAsync("a", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertFalse(ended.isValid(), "a grant the answer shows ended is not valid");

      // A grant made 1.5 s after the call was applied (it waited), with a 2 s limit: the limit
      // counts from the grant, so the lease is valid when it comes, until about 1.8 s after the grant.
      locks.state = io.holdfast.proto.v1.LockState.HELD;
      locks.viewMaxHoldMs = 2_000;
      locks.ageAtCallMs = -1_500;
      locks.answerAfterMs = 1_500;
      LockLease waited = s.lockAsync("w", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertTrue(waited.isValid(), "a grant's limit counts from the grant, not from before the wait");
      Thread.sleep(2_000);
      assertFalse(waited.isValid(), "past the grant's 2 s limit");
      waited.close();
      locks.answerAfterMs = 0;

      // A grant made 1,000 s after the call: the client times all of that on its own clock, so
      // the margin grows with it (a millisecond a second), not only with the 2 s limit.
      locks.ageAtCallMs = -1_000_000;
      long before = System.nanoTime();
      RealLease late = (RealLease) s.lockAsync("late", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      long countedMs = TimeUnit.NANOSECONDS.toMillis(late.holdUntilNanos() - before);
      assertTrue(countedMs <= 1_002_000 - 200 - 1_002 + 500, "counted " + countedMs + " ms from before the send");
      late.close();
      locks.ageAtCallMs = 0;
      locks.viewMaxHoldMs = 60_000;

      // A view of another grant (token 41), or of a free lock: the node read the lock after
      // applying this grant, so this grant ended already.
      locks.viewToken = 41;
      LockLease older = s.lockAsync("b", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertFalse(older.isValid(), "a grant the answer shows replaced is not valid");
      locks.viewToken = 0;
      locks.state = io.holdfast.proto.v1.LockState.FREE;
      LockLease dropped = s.lockAsync("c", askedFor60s).get(10, TimeUnit.SECONDS).orElseThrow();
      assertFalse(dropped.isValid(), "a grant the answer shows free (revoked, the lock then dropped) is not valid");
    }
  }

  /** A client whose calls time out after 500 ms and are retried for 30 s: the retry budget, far above a 2-3 s TTL. */
  private static HoldfastClient withA30sBudget(FakeNode node) {
    return HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO)
        .callTimeout(Duration.ofMillis(500))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(200),
            Duration.ofSeconds(30))).build();
  }

  /**
   * One lock, as the cluster keeps it for one session: an acquire while the session holds it gets the
   * same grant back, a release of the grant frees it, and the next grant has a higher token. While
   * {@code silent}, releases are taken in and never answered (applied or not, the client cannot tell).
   */
  static final class UnansweredRelease extends LockServiceGrpc.LockServiceImplBase {
    final List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile boolean silent;
    /** Acquires queue and are never answered (a wait), until this is cleared. */
    volatile boolean acquiresWait;
    private long held;
    private long next = 9;

    @Override
    public synchronized void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      if (acquiresWait) {
        calls.add("acquire (waits)");
        return;
      }
      if (held == 0) {
        held = next++;
      }
      calls.add("acquire -> " + held);
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(held).build());
      out.onCompleted();
    }

    @Override
    public synchronized void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      calls.add("release " + req.getToken() + (req.getResent() ? " resent" : "") + (silent ? " (no answer)" : ""));
      if (silent) {
        return;
      }
      if (req.getToken() != held) {
        out.onError(FakeNode.error(Status.Code.FAILED_PRECONDITION, "NOT_HOLDER"));
        return;
      }
      held = 0;
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }

    @Override
    public synchronized void cancelWait(CancelWaitRequest req, StreamObserver<CancelWaitResponse> out) {
      calls.add("cancel " + req.getRequestId() + (silent ? " (no answer)" : ""));
      if (silent) {
        return;
      }
      out.onNext(CancelWaitResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /**
   * A release that went unanswered may still land. Taking the lock again before it has been
   * answered would get the same grant back, which the late release would then end under a lease
   * that says it is valid: so the session sends that release again first, and then gets a grant
   * of its own.
   */
  @Test
  void aLockIsNotTakenAgainWhileItsLastReleaseIsUnanswered() throws Exception {
    UnansweredRelease locks = new UnansweredRelease();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO)
            .callTimeout(Duration.ofMillis(300))
            .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(100),
                Duration.ofSeconds(1))).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      LockLease first = s.tryLock("a").orElseThrow();
      assertEquals(9, first.token());
      locks.silent = true;
      org.junit.jupiter.api.Assertions.assertThrows(io.holdfast.client.ClusterUnavailableException.class, first::close);
      assertTrue(s.isValid());

      // Still unreachable: the lock is not asked for, rather than handed back as it was.
      org.junit.jupiter.api.Assertions.assertThrows(io.holdfast.client.ClusterUnavailableException.class,
          () -> s.tryLock("a"));
      assertEquals(1, locks.calls.stream().filter(c -> c.startsWith("acquire")).count(), locks.calls.toString());

      locks.silent = false;
      LockLease second = s.tryLock("a").orElseThrow();
      assertEquals(10, second.token(), "a grant of its own, after the release: " + locks.calls);
      assertTrue(second.isValid());
      int acquire = locks.calls.lastIndexOf("acquire -> 10");
      assertEquals("release 9 resent", locks.calls.get(acquire - 1), locks.calls.toString());
    }
  }

  /**
   * The same for a withdrawal (which releases a grant it finds): an acquire given up on whose
   * withdrawal went unanswered. Its grant, if the wait won the race, would be given back to the
   * next acquire of the lock and then ended by the late withdrawal; it is sent again first.
   */
  @Test
  void aLockIsNotTakenAgainWhileAWithdrawalFromItIsUnanswered() throws Exception {
    UnansweredRelease locks = new UnansweredRelease();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO)
            .callTimeout(Duration.ofMillis(300))
            .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(100),
                Duration.ofSeconds(1))).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      locks.acquiresWait = true;
      locks.silent = true;
      CompletableFuture<LockLease> waiting = s.lockAsync("a");
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (!locks.calls.contains("acquire (waits)") && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      waiting.cancel(true);
      end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (locks.calls.stream().noneMatch(c -> c.startsWith("cancel")) && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      String withdrawal = locks.calls.stream().filter(c -> c.startsWith("cancel")).findFirst().orElseThrow()
          .replace(" (no answer)", "");
      Thread.sleep(2_000); // its budget (1 s) runs out unanswered

      locks.acquiresWait = false;
      locks.silent = false;
      LockLease lease = s.tryLock("a").orElseThrow();
      assertTrue(lease.isValid());
      int acquire = locks.calls.lastIndexOf("acquire -> 9");
      assertEquals(withdrawal, locks.calls.get(acquire - 1), "sent again, under its own id, first: " + locks.calls);
    }
  }

  /**
   * A session past its own deadline with a lock is not closed on the cluster then: that would free
   * the lock at once, skipping its lock-delay, while its holder, told only now, may still be
   * finishing. The cluster's deadline frees it. Closed by its owner afterwards, it goes at once;
   * and a session that held nothing is closed on the cluster as before.
   */
  @Test
  void aSessionPastItsDeadlineWithALockIsLeftToTheClustersDeadline() throws Exception {
    OneGrant locks = new OneGrant();
    FakeSessions sessions = new FakeSessions();
    try (FakeNode node = FakeNode.serve(sessions, locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build()) {
      Session holder = client.newSession(Duration.ofSeconds(2));
      Session idle = client.newSession(Duration.ofSeconds(2));
      LockLease lease = holder.tryLock("a").orElseThrow();
      sessions.silenced.add(holder.id());
      sessions.silenced.add(idle.id());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      // Expired by their watchdogs, which look every 100 ms: invalid a moment before that.
      while ((holder.state() != SessionState.EXPIRED || idle.state() != SessionState.EXPIRED)
          && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      assertEquals(SessionState.EXPIRED, holder.state());
      assertFalse(lease.isValid());
      Thread.sleep(500);
      assertEquals(List.of(idle.id()), sessions.closed, "only the session without a lock was closed");

      holder.close();
      assertEquals(List.of(idle.id(), holder.id()), sessions.closed, "its owner's close lets its lock go");
      holder.close();
      assertEquals(2, sessions.closed.size(), "once");

      // One its owner never closes is closed with the client.
      Session forgotten = client.newSession(Duration.ofSeconds(2));
      forgotten.tryLock("b").orElseThrow();
      sessions.silenced.add(forgotten.id());
      end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (forgotten.isValid() && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      Thread.sleep(300);
      assertEquals(2, sessions.closed.size());
      client.close();
      assertEquals(List.of(idle.id(), holder.id(), forgotten.id()), sessions.closed);
    }
  }

  /** Grants every acquire and never answers a release, as a cluster that cannot be reached. */
  static final class SilentReleases extends LockServiceGrpc.LockServiceImplBase {
    final AtomicInteger sends = new AtomicInteger();

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(9).build());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      sends.incrementAndGet();
    }
  }

  /**
   * A release that cannot get through ends with the session: begun while the session was valid, it
   * raced nobody, and once the session has expired the lock is not its any more. Before, close()
   * kept its caller for the whole retry budget (30 s here) and then threw "unavailable".
   */
  @Test
  void aReleaseStillUnansweredWhenTheSessionExpiresEndsThenWithoutAnError() throws Exception {
    SilentReleases locks = new SilentReleases();
    FakeSessions sessions = new FakeSessions();
    try (FakeNode node = FakeNode.serve(sessions, locks);
        HoldfastClient client = withA30sBudget(node);
        Session s = client.newSession(Duration.ofSeconds(2))) {
      LockLease lease = s.tryLock("a").orElseThrow();
      sessions.silenced.add(s.id());
      long start = System.nanoTime();
      lease.close();
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertEquals(SessionState.EXPIRED, s.state());
      assertTrue(tookMs < 10_000, "close() returned " + tookMs + " ms after it began: with the session, not the budget");
      assertTrue(locks.sends.get() >= 1, "the release was sent");
      assertFalse(lease.isValid());
      // Settled: no more resends (an attempt times out after 500 ms).
      int sent = locks.sends.get();
      Thread.sleep(1_500);
      assertTrue(locks.sends.get() <= sent + 1, "resends went on: " + sent + " then " + locks.sends.get());
    }
  }

  /**
   * The same unanswered release begun after the lease's max hold ran out: the cluster may have
   * handed the lock on by then, so the session's deadline ends it as lost, not cleanly.
   */
  @Test
  void aReleaseBegunPastTheMaxHoldDoesNotEndCleanlyWithTheSession() throws Exception {
    SilentReleases locks = new SilentReleases();
    FakeSessions sessions = new FakeSessions();
    try (FakeNode node = FakeNode.serve(sessions, locks);
        HoldfastClient client = withA30sBudget(node);
        Session s = client.newSession(Duration.ofSeconds(2))) {
      LockLease lease = s.lockAsync("a", io.holdfast.client.LockOptions.tryOnce().withMaxHold(Duration.ofMillis(300)))
          .get(10, TimeUnit.SECONDS).orElseThrow();
      Thread.sleep(500);
      assertFalse(lease.isValid(), "past its max hold");
      sessions.silenced.add(s.id());
      org.junit.jupiter.api.Assertions.assertThrows(io.holdfast.client.LockLostException.class, lease::close);
      assertEquals(SessionState.EXPIRED, s.state());
      assertTrue(locks.sends.get() >= 1, "the release was sent");
    }
  }

  /**
   * The same unanswered release when the cluster says it ended the session (an operator expired
   * it): that is no local deadline, and the lock may have gone to another holder while this one
   * still thought it valid, so the release reports the lock lost.
   */
  @Test
  void aReleaseStillUnansweredWhenTheClusterEndsTheSessionReportsTheLockLost() throws Exception {
    SilentReleases locks = new SilentReleases();
    java.util.concurrent.atomic.AtomicBoolean forget = new java.util.concurrent.atomic.AtomicBoolean();
    FakeSessions sessions = new FakeSessions() {
      @Override
      protected void onKeepAlive(int stream, io.holdfast.proto.v1.KeepAliveRequest r,
          StreamObserver<io.holdfast.proto.v1.KeepAliveResponse> out) {
        if (!forget.get()) {
          answer(r, out);
          return;
        }
        synchronized (out) {
          out.onNext(io.holdfast.proto.v1.KeepAliveResponse.newBuilder().setSessionId(r.getSessionId())
              .setSeq(r.getSeq()).setAlive(false).setError(io.holdfast.proto.v1.ErrorCode.SESSION_NOT_FOUND).build());
        }
      }
    };
    try (FakeNode node = FakeNode.serve(sessions, locks);
        HoldfastClient client = withA30sBudget(node);
        Session s = client.newSession(Duration.ofSeconds(3))) {
      LockLease lease = s.tryLock("a").orElseThrow();
      forget.set(true);
      long start = System.nanoTime();
      org.junit.jupiter.api.Assertions.assertThrows(io.holdfast.client.LockLostException.class, lease::close);
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(locks.sends.get() >= 1, "the release was sent before the cluster's answer ended the session");
      assertEquals(SessionState.EXPIRED, s.state());
      assertTrue(tookMs < 10_000, "close() ended " + tookMs + " ms after it began");
    }
  }

  @Test
  void twoLeasesOnOneGrantReleasedAtOnceSendOneRelease() throws Exception {
    OneGrant locks = new OneGrant();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      LockLease first = s.tryLock("a").orElseThrow();
      LockLease second = s.tryLock("a").orElseThrow();
      assertEquals(first.token(), second.token());

      // Both releases start (each lease marked released) before either decides whether it is the
      // last claimant of the grant: held at the session's claims lock until both wait there.
      Field f = RealSession.class.getDeclaredField("claims");
      f.setAccessible(true);
      Object claims = f.get(s);
      List<CompletableFuture<Void>> releasing = new java.util.concurrent.CopyOnWriteArrayList<>();
      List<Thread> threads = List.of(new Thread(() -> releasing.add(first.releaseAsync())),
          new Thread(() -> releasing.add(second.releaseAsync())));
      synchronized (claims) {
        threads.forEach(Thread::start);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!threads.stream().allMatch(t -> t.getState() == Thread.State.BLOCKED)) {
          assertTrue(System.nanoTime() < end, "both releases reach the claims lock");
          Thread.sleep(1);
        }
      }
      for (Thread t : threads) {
        t.join(10_000);
      }
      for (CompletableFuture<Void> r : releasing) {
        assertSame(null, r.get(10, TimeUnit.SECONDS), "neither release reports the lock lost");
      }
      assertEquals(1, locks.releases.get(), "the grant is released once, by the last lease to let go");
    }
  }

  /**
   * Holds every waiting acquire until the test grants it; answers a try at once (a new grant).
   * Records the withdrawals it is sent.
   */
  static final class HeldAcquires extends LockServiceGrpc.LockServiceImplBase {
    final List<ServerCallStreamObserver<AcquireResponse>> waiting = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<String> withdrawals = new java.util.concurrent.CopyOnWriteArrayList<>();
    final AtomicInteger releases = new AtomicInteger();
    final AtomicInteger tokens = new AtomicInteger(6);

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      if (req.getWaitMs() == 0) {
        out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(tokens.incrementAndGet()).build());
        out.onCompleted();
        return;
      }
      waiting.add((ServerCallStreamObserver<AcquireResponse>) out);
    }

    /** Grants the one waiting call whose client has not cancelled it. */
    void grantTheLiveWait() {
      List<ServerCallStreamObserver<AcquireResponse>> live = waiting.stream().filter(o -> !o.isCancelled()).toList();
      assertEquals(1, live.size(), "one acquire still waits");
      live.get(0).onNext(AcquireResponse.newBuilder().setGranted(true).setToken(tokens.incrementAndGet()).build());
      live.get(0).onCompleted();
    }

    @Override
    public void cancelWait(CancelWaitRequest req, StreamObserver<CancelWaitResponse> out) {
      withdrawals.add("CancelWait(acquire_request_id='" + req.getAcquireRequestId() + "')");
      out.onNext(CancelWaitResponse.getDefaultInstance());
      out.onCompleted();
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
      releases.incrementAndGet();
      out.onNext(ReleaseResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  /**
   * Two acquires of one lock share the session's one wait on it; the first gives up, so the wait is
   * the second's to withdraw. Granted, and released from the grant's own callback: that release
   * ends the wait too. A withdrawal sent as well would race it, and on the server a withdrawal
   * under no request id releases whatever grant the session has: applied first, it would make the
   * release fail (NOT_HOLDER, reported as a lost lock).
   */
  @Test
  void aReleaseOfAGrantFromASharedWaitIsNotRacedByAWithdrawal() throws Exception {
    HeldAcquires locks = new HeldAcquires();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      CompletableFuture<LockLease> first = s.lockAsync("a");
      CompletableFuture<LockLease> second = s.lockAsync("a");
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (locks.waiting.size() < 2) {
        assertTrue(System.nanoTime() < end, "both acquires reach the node");
        Thread.sleep(1);
      }
      first.cancel(true);
      while (locks.waiting.stream().noneMatch(ServerCallStreamObserver::isCancelled)) {
        assertTrue(System.nanoTime() < end, "the given-up acquire's call is cancelled");
        Thread.sleep(1);
      }
      assertEquals(List.of(), locks.withdrawals, "the wait is left to the acquire that shares it");

      CompletableFuture<Void> released = second.thenCompose(LockLease::releaseAsync);
      locks.grantTheLiveWait();
      assertSame(null, released.get(10, TimeUnit.SECONDS));
      // A withdrawal sent with that release holds back the session's next acquire of the lock until
      // it is answered: so, once this try is granted, any such withdrawal has reached the node.
      s.tryLock("a").orElseThrow().close();
      assertEquals(2, locks.releases.get(), "the grant and the try's grant are released");
      assertEquals(List.of(), locks.withdrawals, "no withdrawal raced the release");
    }
  }

  /** Runs {@code test} with a session's own executors, tearing them down after. */
  private interface WithExecutors {
    void run(ScheduledExecutorService scheduler, ScheduledExecutorService timers, ExecutorService completions)
        throws Exception;
  }

  private static void withExecutors(WithExecutors test) throws Exception {
    ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(1);
    ScheduledExecutorService timers = Executors.newScheduledThreadPool(1);
    ExecutorService completions = Executors.newCachedThreadPool();
    try {
      test.run(scheduler, timers, completions);
    } finally {
      scheduler.shutdownNow();
      timers.shutdownNow();
      completions.shutdownNow();
    }
  }

  /** Stops {@code timers} (a paused process's keepalives and watchdog) until the executor is shut down. */
  private static void standStill(ScheduledExecutorService timers) {
    timers.execute(() -> {
      try {
        Thread.sleep(Long.MAX_VALUE);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  /**
   * A grant whose answer comes after the session's local deadline (the process paused, say, before
   * its watchdog could look) is not handed out: the cluster may have ended the session and granted
   * the lock on meanwhile. Nobody had that grant, so the session is closed on the cluster (the grant
   * freed at once) rather than left to the cluster's deadline.
   */
  @Test
  void aGrantThatComesAfterTheSessionsDeadlineIsNotHandedOut() throws Exception {
    ViewedGrant locks = new ViewedGrant();
    locks.answerAfterMs = 1_500;
    FakeSessions sessions = new FakeSessions();
    withExecutors((scheduler, timers, completions) -> {
      try (FakeNode node = FakeNode.serve(sessions, locks);
          Endpoints endpoints = new Endpoints(List.of(node.endpoint()))) {
        Caller caller = new Caller(endpoints, RetryPolicy.DEFAULT, scheduler, completions);
        // Valid for about 900 ms (a 1 s TTL less its margin), and neither renewed nor watched.
        RealSession s = new RealSession(1, Duration.ofSeconds(1), System.nanoTime(), caller, timers,
            new OrderedDelivery(completions, completions), Duration.ofSeconds(5));
        standStill(timers);
        CompletableFuture<java.util.Optional<LockLease>> granted = s.tryLockAsync("a");
        java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
            java.util.concurrent.ExecutionException.class, () -> granted.get(10, TimeUnit.SECONDS));
        org.junit.jupiter.api.Assertions.assertInstanceOf(io.holdfast.client.SessionExpiredException.class,
            e.getCause(), e.toString());
        assertFalse(s.isValid());
        assertEquals(SessionState.EXPIRED, s.state());
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (sessions.closed.isEmpty() && System.nanoTime() < end) {
          Thread.sleep(10);
        }
        assertEquals(List.of(1L), sessions.closed, "closed: the grant nobody had is freed at once");
      }
    });
  }

  /**
   * An acquire given up on just after its grant came (a blocking lock() interrupted as the grant
   * arrived on another thread): nobody will have the lease, so the grant is released.
   */
  @Test
  void anAcquireAbandonedAfterItsGrantCameGivesTheGrantBack() throws Exception {
    UnansweredRelease locks = new UnansweredRelease();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      CompletableFuture<java.util.Optional<LockLease>> acquiring = s.tryLockAsync("a");
      LockLease lease = acquiring.get(5, TimeUnit.SECONDS).orElseThrow();
      ((RealSession) s).abandon(acquiring);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (!locks.calls.contains("release 9") && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertTrue(locks.calls.contains("release 9"), locks.calls.toString());
      assertFalse(lease.isValid());
    }
  }

  /**
   * The monotonic clock stands still while the machine or VM is suspended; the cluster's clocks do
   * not. A session whose deadline has passed on the wall clock is over, whatever the monotonic says.
   */
  @Test
  void aSessionPastItsDeadlineOnTheWallClockIsOverThoughTheMonotonicClockStoodStill() throws Exception {
    withExecutors((scheduler, timers, completions) -> {
      try (FakeNode node = FakeNode.serve(new FakeSessions());
          Endpoints endpoints = new Endpoints(List.of(node.endpoint()))) {
        Caller caller = new Caller(endpoints, RetryPolicy.DEFAULT, scheduler, completions);
        Duration ttl = Duration.ofSeconds(4);
        // Opened just now by the monotonic clock, a TTL ago by the wall clock: a resume from suspend.
        RealSession s = new RealSession(1, ttl, System.nanoTime(), System.currentTimeMillis() - ttl.toMillis(),
            caller, timers, new OrderedDelivery(completions, completions), Duration.ofSeconds(2));
        assertFalse(s.isValid());
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (s.state() != SessionState.EXPIRED && System.nanoTime() < end) {
          Thread.sleep(10);
        }
        assertEquals(SessionState.EXPIRED, s.state(), "the watchdog ends it");
        assertTrue(s.validUntil().isBefore(java.time.Instant.now().plusMillis(1)), s.validUntil().toString());
      }
    });
  }

  /**
   * After a pause, a fixed-rate keepalive's missed runs come back to back, maybe before the
   * watchdog's: one sent past the local deadline would renew on the cluster a session the client
   * gives up, and keep its locks another TTL. It is not sent; the session expires instead.
   */
  @Test
  void noKeepaliveIsSentPastTheLocalDeadline() throws Exception {
    AtomicInteger keepalives = new AtomicInteger();
    FakeSessions sessions = new FakeSessions() {
      @Override
      protected void onKeepAlive(int stream, io.holdfast.proto.v1.KeepAliveRequest r,
          StreamObserver<io.holdfast.proto.v1.KeepAliveResponse> out) {
        keepalives.incrementAndGet();
        answer(r, out);
      }
    };
    withExecutors((scheduler, timers, completions) -> {
      try (FakeNode node = FakeNode.serve(sessions);
          Endpoints endpoints = new Endpoints(List.of(node.endpoint()))) {
        Caller caller = new Caller(endpoints, RetryPolicy.DEFAULT, scheduler, completions);
        Duration ttl = Duration.ofSeconds(4);
        RealSession s = new RealSession(1, ttl, System.nanoTime() - ttl.toNanos(), caller, timers,
            new OrderedDelivery(completions, completions), Duration.ofSeconds(2));
        standStill(timers);
        s.sendKeepAlive(); // as the catch-up run would, before the watchdog
        Thread.sleep(500);
        assertEquals(0, keepalives.get(), "no keepalive reached the cluster");
        assertFalse(s.isValid());
      }
    });
  }

  /**
   * A tryLock behind this session's own release of the lock, unanswered and retried for the whole
   * retry budget (30 s here), still ends within its call timeout (500 ms), as unavailable rather
   * than "held by someone else".
   */
  @Test
  void aTryLockBehindThisSessionsOwnUnansweredReleaseEndsAtItsDeadline() throws Exception {
    UnansweredRelease locks = new UnansweredRelease();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = withA30sBudget(node);
        Session s = client.newSession(Duration.ofSeconds(60))) {
      LockLease first = s.tryLock("a").orElseThrow();
      locks.silent = true;
      first.releaseAsync();
      long t0 = System.nanoTime();
      org.junit.jupiter.api.Assertions.assertThrows(io.holdfast.client.ClusterUnavailableException.class,
          () -> s.tryLock("a"));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms < 5_000, "ended after " + ms + " ms: its deadline, not the release's 30 s budget");
    }
  }

  /** Answers the first {@code busy} acquires BUSY (a leader shedding load), then grants; counts the acquires. */
  static final class BusyThenGrant extends LockServiceGrpc.LockServiceImplBase {
    final AtomicInteger acquires = new AtomicInteger();
    final int busy;

    BusyThenGrant(int busy) {
      this.busy = busy;
    }

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      if (acquires.incrementAndGet() <= busy) {
        out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "BUSY"));
        return;
      }
      out.onNext(AcquireResponse.newBuilder().setGranted(true).setToken(5).build());
      out.onCompleted();
    }
  }

  /**
   * A leader that sheds load (BUSY) is still the leader: the call is retried there after a backoff,
   * not taken to another node as if an election were on.
   */
  @Test
  void aBusyLeaderIsAskedAgainNotLeft() throws Exception {
    BusyThenGrant leader = new BusyThenGrant(2);
    BusyThenGrant other = new BusyThenGrant(0);
    try (FakeNode a = FakeNode.serve(new FakeSessions(), leader);
        FakeNode b = FakeNode.serve(new FakeSessions(), other);
        HoldfastClient client = HoldfastClient.builder().endpoints(a.endpoint(), b.endpoint())
            .memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      LockLease lease = s.tryLock("a").orElseThrow();
      assertEquals(5, lease.token());
      assertEquals(3, leader.acquires.get(), "asked again on the busy leader");
      assertEquals(0, other.acquires.get(), "never sent elsewhere");
    }
  }

  /**
   * A release still unanswered when its owner closes the session ends cleanly: the close releases
   * the lock, and a release that then hears SESSION_NOT_FOUND (or nothing) did not lose it.
   */
  @Test
  void aReleaseUnansweredWhenTheSessionIsClosedEndsCleanly() throws Exception {
    UnansweredRelease locks = new UnansweredRelease();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = withA30sBudget(node)) {
      Session s = client.newSession(Duration.ofSeconds(60));
      LockLease lease = s.tryLock("a").orElseThrow();
      locks.silent = true;
      CompletableFuture<Void> releasing = lease.releaseAsync();
      Thread.sleep(300); // sent, and unanswered
      s.close();
      releasing.get(5, TimeUnit.SECONDS); // not LockLostException, nor the 30 s retry budget
    }
  }

  /**
   * Keepalives refused for this client's identity (a credential rotated to another identity, an
   * ACL changed) will be refused again: the session ends at once, saying why, instead of
   * reconnecting until its TTL runs out.
   */
  @Test
  void keepalivesRefusedForThisClientEndTheSessionSayingWhy() throws Exception {
    FakeSessions refusing = new FakeSessions() {
      @Override
      public StreamObserver<io.holdfast.proto.v1.KeepAliveRequest> keepAlive(
          StreamObserver<io.holdfast.proto.v1.KeepAliveResponse> out) {
        out.onError(FakeNode.error(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED"));
        return new StreamObserver<>() {
          @Override
          public void onNext(io.holdfast.proto.v1.KeepAliveRequest r) {}

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        };
      }
    };
    try (FakeNode node = FakeNode.serve(refusing);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build()) {
      Session s = client.newSession(Duration.ofSeconds(15)); // first keepalive after 5 s
      s.onExpired().get(8, TimeUnit.SECONDS); // its own deadline would be 13.5 s away
      assertEquals(SessionState.EXPIRED, s.state());
    }
  }
}
