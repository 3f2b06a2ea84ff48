package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.GetResponse;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.LockServiceGrpc;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** Where session events and the futures a session's end settles run, and what a refusing executor changes. */
class SessionEventsTest {
  static HoldfastClient.Builder client(FakeNode node) {
    return HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO);
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, "timed out waiting until " + what);
      Thread.sleep(10);
    }
  }

  /** A get that needs one retry: the first attempt of each call finds no leader. */
  static final class GetAfterAnElection extends KvServiceGrpc.KvServiceImplBase {
    final AtomicInteger attempts = new AtomicInteger();

    @Override
    public void get(GetRequest req, StreamObserver<GetResponse> out) {
      if (attempts.incrementAndGet() % 2 == 1) {
        out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "NO_LEADER"));
        return;
      }
      out.onNext(GetResponse.newBuilder().setFound(false).build());
      out.onCompleted();
    }
  }

  @Test
  void continuationsOfOnExpiredThatBlockStopNeitherOtherSessionsRenewalsNorCallRetries() throws Exception {
    FakeSessions sessions = new FakeSessions();
    CountDownLatch release = new CountDownLatch(1);
    try (FakeNode node = FakeNode.serve(sessions, new GetAfterAnElection());
        HoldfastClient client = client(node).build()) {
      try {
        Session a = client.newSession(Duration.ofSeconds(1));
        Session b = client.newSession(Duration.ofSeconds(1));
        Session healthy = client.newSession(Duration.ofSeconds(1));
        CountDownLatch blocking = new CountDownLatch(1);
        for (Session s : List.of(a, b)) {
          // What an application might do: start over, and wait for something that takes a while.
          s.onExpired().thenRun(() -> {
            blocking.countDown();
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
        }
        sessions.silenced.addAll(List.of(a.id(), b.id()));
        assertTrue(blocking.await(10, TimeUnit.SECONDS), "an expired session's continuation runs, and blocks");
        await(() -> a.state() == SessionState.EXPIRED && b.state() == SessionState.EXPIRED, "both expired");

        Instant before = healthy.validUntil();
        Thread.sleep(3_000); // three TTLs: without renewals the healthy session would expire
        assertTrue(healthy.isValid(), "the healthy session keeps renewing");
        assertEquals(SessionState.CONNECTED, healthy.state());
        assertTrue(healthy.validUntil().isAfter(before.plusSeconds(2)), "its deadline moved on: " + before + " -> "
            + healthy.validUntil());
        assertEquals(Optional.empty(), client.kv().getAsync("k").get(10, TimeUnit.SECONDS),
            "a call whose retry is scheduled still completes");
      } finally {
        release.countDown();
      }
    }
  }

  /** Acquires that are never answered: a wait that only the session's end ends. */
  static final class NeverGrants extends LockServiceGrpc.LockServiceImplBase {
    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {}
  }

  @Test
  void aShutDownListenerExecutorStopsNeitherExpiryNorClose() throws Exception {
    FakeSessions sessions = new FakeSessions();
    ExecutorService executor = Executors.newFixedThreadPool(2);
    try (FakeNode node = FakeNode.serve(sessions, new NeverGrants())) {
      HoldfastClient client = client(node).executor(executor).build();
      try {
        Session expiring = client.newSession(Duration.ofSeconds(1));
        Session other = client.newSession(Duration.ofSeconds(10));
        List<SessionState> seen = new CopyOnWriteArrayList<>();
        expiring.addListener((s, state) -> seen.add(state));
        other.addListener((s, state) -> seen.add(state));
        CompletableFuture<LockLease> waiting = expiring.lockAsync("a");
        executor.shutdown(); // the application is going down, or shut its pool too early

        sessions.silenced.add(expiring.id());
        expiring.onExpired().get(10, TimeUnit.SECONDS);
        assertEquals(SessionState.EXPIRED, expiring.state());
        assertFalse(expiring.isValid());
        ExecutionException ended = assertThrows(ExecutionException.class, () -> waiting.get(5, TimeUnit.SECONDS));
        assertInstanceOf(SessionExpiredException.class, ended.getCause());
        await(() -> sessions.closed.contains(expiring.id()), "the cluster is told the session ended");
        await(() -> seen.contains(SessionState.EXPIRED), "the listener hears of it on the client's own thread");

        assertDoesNotThrow(client::close);
        assertEquals(SessionState.CLOSED, other.state());
        assertTrue(sessions.closed.contains(other.id()), "every session is closed on the cluster");
      } finally {
        client.close();
      }
    }
  }

  @Test
  void listenersGetEachSessionsEventsInOrderOnAPool() throws Exception {
    FakeSessions sessions = new FakeSessions();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (FakeNode node = FakeNode.serve(sessions); HoldfastClient client = client(node).executor(pool).build()) {
      Session s = client.newSession(Duration.ofSeconds(2));
      List<SessionState> seen = new CopyOnWriteArrayList<>();
      s.addListener((session, state) -> {
        if (state == SessionState.SUSPENDED) {
          try {
            Thread.sleep(1_500); // a slow listener: past the expiry that follows
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        seen.add(state);
      });
      sessions.silenced.add(s.id());
      await(() -> seen.size() == 2, "two events");
      assertEquals(List.of(SessionState.SUSPENDED, SessionState.EXPIRED), seen);
    } finally {
      pool.shutdownNow();
    }
  }
}
