package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.CancelWaitRequest;
import io.holdfast.proto.v1.CancelWaitResponse;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.GetResponse;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.LockServiceGrpc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * A call has one deadline: a timed acquire its wait plus one call timeout, any other call its
 * retry budget. No attempt runs past it, and an acquire given up on is withdrawn.
 */
class CallDeadlineTest {
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);

  /** Acquires find no leader (an election that goes on) or no answer at all; withdrawals are recorded. */
  static final class Locks extends LockServiceGrpc.LockServiceImplBase {
    final boolean answer;
    final List<String> acquires = new CopyOnWriteArrayList<>();
    final List<String> withdrawn = new CopyOnWriteArrayList<>();

    Locks(boolean answer) {
      this.answer = answer;
    }

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      acquires.add(req.getRequestId());
      if (answer) {
        out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "NO_LEADER"));
      } // else a node that takes the call and never answers
    }

    @Override
    public void cancelWait(CancelWaitRequest req, StreamObserver<CancelWaitResponse> out) {
      withdrawn.add(req.getAcquireRequestId());
      out.onNext(CancelWaitResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  static HoldfastClient client(FakeNode node) {
    return HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).callTimeout(CALL_TIMEOUT)
        .build();
  }

  static long millisOf(ThrowingRunnable r) {
    long start = System.nanoTime();
    assertThrows(ClusterUnavailableException.class, r::run);
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, "timed out waiting until " + what);
      Thread.sleep(10);
    }
  }

  @Test
  void duringAnElectionATryLockGivesUpAfterOneCallTimeoutAndATimedLockAfterItsWaitMore() throws Exception {
    Locks locks = new Locks(true);
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks); HoldfastClient client = client(node);
        Session s = client.newSession(Duration.ofSeconds(10))) {
      long tryMs = millisOf(() -> s.tryLock("a"));
      assertTrue(tryMs < 2_500, "tryLock took " + tryMs + " ms with a call timeout of 1 s");
      long lockMs = millisOf(() -> s.lock("a", Duration.ofMillis(200)));
      assertTrue(lockMs < 2_700, "lock(200 ms) took " + lockMs + " ms with a call timeout of 1 s");
      await(() -> locks.withdrawn.size() == 2, "both acquires are withdrawn");
      assertTrue(locks.acquires.containsAll(locks.withdrawn), "each withdrawal names its acquire: " + locks.withdrawn);
    }
  }

  @Test
  void aNodeThatNeverAnswersHoldsATryLockOneCallTimeout() throws Exception {
    Locks locks = new Locks(false);
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks); HoldfastClient client = client(node);
        Session s = client.newSession(Duration.ofSeconds(10))) {
      long tryMs = millisOf(() -> s.tryLock("a"));
      assertTrue(tryMs < 2_500, "tryLock took " + tryMs + " ms with a call timeout of 1 s");
      await(() -> locks.withdrawn.size() == 1, "the acquire is withdrawn");
      assertEquals(locks.acquires.get(0), locks.withdrawn.get(0));
    }
  }

  @Test
  void theLastAttemptOfACallEndsWithItsRetryBudget() throws Exception {
    KvServiceGrpc.KvServiceImplBase silent = new KvServiceGrpc.KvServiceImplBase() {
      @Override
      public void get(GetRequest req, StreamObserver<GetResponse> out) {} // never answers
    };
    try (FakeNode node = FakeNode.serve(silent);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO)
            .callTimeout(Duration.ofSeconds(2))
            .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(100),
                Duration.ofMillis(2_500)))
            .build()) {
      // A second attempt starts at about 2 s; given a whole call timeout it would end at 4 s.
      long ms = millisOf(() -> client.kv().get("k"));
      assertTrue(ms < 3_400, "a call with a 2.5 s budget took " + ms + " ms");
    }
  }
}
