package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.proto.v1.WatchEvent;
import io.holdfast.proto.v1.WatchEventKind;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** How a watch's streams end and resume, against fake nodes. */
class WatchStreamsTest {
  /** Sends one batch on every watch and keeps the stream open; counts streams opened and still open. */
  static final class OneBatch extends WatchServiceGrpc.WatchServiceImplBase {
    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger open = new AtomicInteger();

    @Override
    public void watch(WatchRequest req, StreamObserver<WatchResponse> out) {
      opened.incrementAndGet();
      open.incrementAndGet();
      ((ServerCallStreamObserver<WatchResponse>) out).setOnCancelHandler(open::decrementAndGet);
      out.onNext(WatchResponse.newBuilder().setIndex(5).addEvents(WatchEvent.newBuilder()
          .setKind(WatchEventKind.KEY_PUT).setKey("cfg/a")).build());
    }
  }

  /** Refuses every watch as a node at its limit of watches per connection does. */
  static final class Full extends WatchServiceGrpc.WatchServiceImplBase {
    final AtomicInteger refused = new AtomicInteger();

    @Override
    public void watch(WatchRequest req, StreamObserver<WatchResponse> out) {
      refused.incrementAndGet();
      out.onError(Status.RESOURCE_EXHAUSTED.withDescription("this connection has 100 watches open")
          .asRuntimeException());
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not within 10 s: " + what);
      Thread.sleep(20);
    }
  }

  @Test
  void aFlowSubscriberWhoseOnNextThrowsStopsTheWatchAndItsStream() throws Exception {
    OneBatch watches = new OneBatch();
    CompletableFuture<Throwable> error = new CompletableFuture<>();
    try (FakeNode node = FakeNode.serve(watches);
        HoldfastClient client = HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build()) {
      client.watchPublisher(List.of(), List.of("cfg/"), 0).subscribe(new Flow.Subscriber<WatchBatch>() {
        @Override
        public void onSubscribe(Flow.Subscription s) {
          s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(WatchBatch item) {
          throw new IllegalStateException("the application failed on " + item.index());
        }

        @Override
        public void onError(Throwable t) {
          error.complete(t);
        }

        @Override
        public void onComplete() {
          error.complete(null);
        }
      });
      assertNotNull(error.get(10, TimeUnit.SECONDS), "the subscriber was told");
      await(() -> watches.open.get() == 0, "the stream is cancelled");
      int opened = watches.opened.get();
      Thread.sleep(1_000);
      assertEquals(opened, watches.opened.get(), "and not opened again");
      assertEquals(0, watches.open.get());
    }
  }

  @Test
  void aWatchRefusedByOneNodeMovesOnWithoutMovingTheClientsCalls() throws Exception {
    Full full = new Full();
    OneBatch serving = new OneBatch();
    LinkedBlockingQueue<WatchBatch> seen = new LinkedBlockingQueue<>();
    try (FakeNode first = FakeNode.serve(full);
        FakeNode second = FakeNode.serve(serving);
        HoldfastClient client = HoldfastClient.builder().endpoints(first.endpoint(), second.endpoint())
            .memberSync(Duration.ZERO).build()) {
      assertEquals(first.endpoint(), client.currentEndpoint());
      try (Watch w = client.watch(List.of(), List.of("cfg/"), 0, seen::add)) {
        WatchBatch b = seen.poll(10, TimeUnit.SECONDS);
        assertNotNull(b, "served by the second node");
        assertEquals(5, b.index());
        assertTrue(full.refused.get() >= 1);
        assertEquals(first.endpoint(), client.currentEndpoint(), "the client's calls still go where they went");
      }
    }
  }
}
