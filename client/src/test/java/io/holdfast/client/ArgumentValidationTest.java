package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.client.testing.FakeSessions;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.LockServiceGrpc;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Values that would silently mean something else are refused, or mean what they say. */
class ArgumentValidationTest {
  /** Never grants; records the wait each acquire asked for. */
  static final class BusyLocks extends LockServiceGrpc.LockServiceImplBase {
    final List<Long> waits = new CopyOnWriteArrayList<>();

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
      waits.add(req.getWaitMs());
      out.onNext(AcquireResponse.newBuilder().setGranted(false).build());
      out.onCompleted();
    }
  }

  @Test
  void aZeroWaitTriesOnceAndANegativeOneIsRefused() throws Exception {
    BusyLocks locks = new BusyLocks();
    try (FakeNode node = FakeNode.serve(new FakeSessions(), locks);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
        Session s = client.newSession(Duration.ofSeconds(10))) {
      assertEquals(Optional.empty(), s.lock("a", Duration.ZERO));
      assertEquals(Optional.empty(), s.lockAsync("a", Duration.ZERO).get());
      assertEquals(List.of(0L, 0L), locks.waits, "zero asks the cluster to try once, as tryLock does");

      assertThrows(IllegalArgumentException.class, () -> s.lock("a", Duration.ofMillis(-1)));
      assertThrows(IllegalArgumentException.class, () -> s.lockAsync("a", Duration.ofSeconds(-5)));
      assertEquals(2, locks.waits.size(), "nothing was sent for a negative wait");
    }
  }

  @Test
  void aRevisionBelowMinusOneIsRefusedNotWrittenUnconditionally() {
    try (HoldfastClient client = HoldfastClient.builder().endpoints("127.0.0.1:1").memberSync(Duration.ZERO).build()) {
      byte[] v = "v".getBytes(StandardCharsets.UTF_8);
      assertThrows(IllegalArgumentException.class, () -> client.kv().putAsync("k", v, -2, "", 0));
      assertThrows(IllegalArgumentException.class, () -> client.kv().putIfRevision("k", v, -7));
      // -1 is "any" to putAsync; a compare-and-set that read an absent key as -1 must not write blind.
      assertThrows(IllegalArgumentException.class, () -> client.kv().putIfRevision("k", v, -1));
    }
  }

  @Test
  void subMillisecondBackoffsAndCallTimeoutsAreRefused() {
    String message = assertThrows(IllegalArgumentException.class, () -> RetryPolicy.exponentialJitter(
        Duration.ofNanos(500_000), Duration.ofSeconds(1), Duration.ofSeconds(5))).getMessage();
    assertTrue(message.startsWith("initialBackoff"), message);
    message = assertThrows(IllegalArgumentException.class, () -> HoldfastClient.builder().endpoints("127.0.0.1:1")
        .callTimeout(Duration.ofNanos(999_999)).build()).getMessage();
    assertTrue(message.startsWith("callTimeout"), message);
    // A budget of 0 would fail every call before its first attempt.
    message = assertThrows(IllegalArgumentException.class, () -> RetryPolicy.exponentialJitter(
        Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ZERO)).getMessage();
    assertTrue(message.startsWith("maxElapsed must be positive"), message);
  }

  @Test
  void noRetryPauseIsZero() {
    RetryPolicy shortest = RetryPolicy.exponentialJitter(Duration.ofMillis(1), Duration.ofMillis(1),
        Duration.ofSeconds(1));
    for (int i = 0; i < 200; i++) {
      assertTrue(shortest.backoffMillis(1) >= 1, "a pause of 0 ms would be a busy loop");
    }
  }
}
