package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.proto.v1.KeyValue;
import io.holdfast.proto.v1.WatchEventKind;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** A listener that throws is given the same batch again: the watch's position moves only past what it took. */
class WatchListenerFailureTest {
  /** Serves a fixed log from after_index, as every node does, and keeps the stream open. */
  static final class Log extends WatchServiceGrpc.WatchServiceImplBase {
    final List<WatchResponse> entries;
    final List<Long> resumedAfter = new CopyOnWriteArrayList<>();

    Log(List<WatchResponse> entries) {
      this.entries = entries;
    }

    @Override
    public void watch(WatchRequest req, StreamObserver<WatchResponse> out) {
      resumedAfter.add(req.getAfterIndex());
      for (WatchResponse r : entries) {
        if (r.getIndex() > req.getAfterIndex()) {
          out.onNext(r);
        }
      }
    }
  }

  static WatchResponse put(long index, String key, String value, String fenceLock, long fenceToken) {
    return WatchResponse.newBuilder().setIndex(index).addEvents(io.holdfast.proto.v1.WatchEvent.newBuilder()
        .setKind(WatchEventKind.KEY_PUT).setKey(key).setKv(KeyValue.newBuilder().setKey(key)
            .setValue(ByteString.copyFromUtf8(value)).setRevision(index).setCreateRevision(index)
            .setFenceLock(fenceLock).setFenceToken(fenceToken))).build();
  }

  static HoldfastClient client(FakeNode node) {
    return HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
  }

  /** Waits up to 10 s for {@code condition}; the assertions after say what was missing. */
  static void waitUntil(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean() && System.nanoTime() < end) {
      Thread.sleep(10);
    }
  }

  @Test
  void aListenerThatThrowsOnceStillGetsEveryIndexInOrder() throws Exception {
    WatchResponse snapshot = WatchResponse.newBuilder().setIndex(1).setSnapshot(true).build();
    Log log = new Log(List.of(snapshot, put(2, "w/k", "2", "", 0), put(3, "w/k", "3", "", 0),
        put(4, "w/k", "4", "", 0)));
    try (FakeNode node = FakeNode.serve(log); HoldfastClient client = client(node)) {
      List<Long> taken = new CopyOnWriteArrayList<>();
      AtomicBoolean thrown = new AtomicBoolean();
      try (Watch w = client.watch(List.of(), List.of("w/"), 0, batch -> {
        if (batch.index() == 3 && thrown.compareAndSet(false, true)) {
          throw new IllegalStateException("the application failed on this batch, once");
        }
        taken.add(batch.index());
      })) {
        waitUntil(() -> taken.size() == 4);
        assertEquals(List.of(1L, 2L, 3L, 4L), taken);
        assertEquals(4, w.lastIndex());
        assertEquals(List.of(0L, 2L), log.resumedAfter, "resumed from before the batch the listener threw on");
      }
    }
  }

  @Test
  void anElectionObserverThatThrowsOnALeaderChangeIsToldOfItAgain() throws Exception {
    String election = "orchestrators/eu";
    WatchResponse granted = WatchResponse.newBuilder().setIndex(5).addEvents(io.holdfast.proto.v1.WatchEvent
        .newBuilder().setKind(WatchEventKind.LOCK_ACQUIRED).setLockName(election).setSessionId(11).setToken(5))
        .build();
    Log log = new Log(List.of(WatchResponse.newBuilder().setIndex(1).setSnapshot(true).build(), granted,
        put(6, election + "/leader", "node-7", election, 5)));
    try (FakeNode node = FakeNode.serve(log); HoldfastClient client = client(node)) {
      List<Leader> seen = new CopyOnWriteArrayList<>();
      AtomicBoolean thrown = new AtomicBoolean();
      try (Watch w = client.election(election).observe(leader -> {
        if (!leader.equals(Leader.NONE) && thrown.compareAndSet(false, true)) {
          throw new IllegalStateException("the application failed on this change, once");
        }
        seen.add(leader);
      })) {
        waitUntil(() -> seen.size() == 2);
        assertEquals(List.of(Leader.NONE, new Leader("node-7", 5, 11)), seen);
      }
    }
  }

  @Test
  void aListenerThatAlwaysThrowsOnOneBatchEndsTheWatchWithItsException() throws Exception {
    Log log = new Log(List.of(put(2, "w/k", "2", "", 0), put(3, "w/k", "3", "", 0)));
    try (FakeNode node = FakeNode.serve(log); HoldfastClient client = client(node)) {
      List<Long> taken = new CopyOnWriteArrayList<>();
      IllegalStateException bug = new IllegalStateException("the application cannot take this batch");
      try (Watch w = client.watch(List.of(), List.of("w/"), 1, batch -> {
        if (batch.index() == 3) {
          throw bug;
        }
        taken.add(batch.index());
      })) {
        var end = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
            () -> w.ended().get(10, TimeUnit.SECONDS));
        assertEquals(bug, end.getCause());
        assertEquals(List.of(2L), taken);
        assertEquals(2, w.lastIndex(), "the batch it failed on was never taken as delivered");
        assertEquals(List.of(1L, 2L, 2L), log.resumedAfter, "three tries, then it stops");
      }
    }
  }
}
