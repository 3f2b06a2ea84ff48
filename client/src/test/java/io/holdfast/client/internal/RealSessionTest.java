package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
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
}
