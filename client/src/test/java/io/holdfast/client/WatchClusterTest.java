package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Watches through failovers and compaction, on a real 3-node cluster. */
class WatchClusterTest {
  @TempDir
  Path dir;
  ProcessCluster cluster;
  HoldfastClient writer;
  HoldfastClient watcher;

  void start(Map<String, String> settings) {
    cluster = new ProcessCluster(3, dir, settings).start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    writer = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("writer").build();
    // The watcher starts on the leader, so that killing the leader breaks its stream.
    List<String> leaderFirst = new ArrayList<>(List.of(cluster.endpoint(leader)));
    cluster.endpoints().stream().filter(e -> !leaderFirst.contains(e)).forEach(leaderFirst::add);
    watcher = HoldfastClient.builder().endpoints(leaderFirst).clientName("watcher").build();
  }

  @AfterEach
  void stop() {
    for (HoldfastClient c : new HoldfastClient[] {watcher, writer}) {
      if (c != null) {
        c.close();
      }
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aWatcherSeesEveryPutExactlyOnceInLogOrderThroughALeaderKill() throws Exception {
    start(Map.of());
    List<WatchBatch> batches = new CopyOnWriteArrayList<>();
    Watch watch = watcher.watch(List.of(), List.of("w/"), 0, batches::add);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (batches.isEmpty() && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertTrue(batches.get(0).snapshot(), "a fresh watch starts with the current state");

    int leader = cluster.awaitLeader(Duration.ofSeconds(10));
    List<Long> acknowledged = new ArrayList<>();
    int n = 120;
    for (int i = 0; i < n; i++) {
      if (i == 40) {
        cluster.kill(leader); // the watcher's stream and the writer's leader go down together
      }
      acknowledged.add(writer.kv().put("w/k", ("" + i).getBytes(StandardCharsets.UTF_8)));
    }
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
    while (puts(batches).size() < n && System.nanoTime() < end) {
      Thread.sleep(50);
    }
    List<KeyValue> seen = puts(batches);
    assertEquals(n, seen.size(), "every put seen once: " + seen.stream().map(KeyValue::valueAsString).toList());
    for (int i = 0; i < n; i++) {
      assertEquals(Integer.toString(i), seen.get(i).valueAsString(), "in log order");
      assertEquals(acknowledged.get(i), seen.get(i).revision(), "with the revision the writer was given");
    }
    long previous = 0;
    for (WatchBatch b : batches) {
      assertTrue(b.index() > previous || b.snapshot(), "indexes strictly increase");
      previous = b.index();
    }
    assertEquals(previous, watch.lastIndex());
    watch.close();
  }

  @Test
  void aWatcherThatFellBehindCompactionGetsTheCurrentStateThenLiveEvents() throws Exception {
    start(Map.of("watch-history", "10"));
    long first = writer.kv().put("c/a", "first".getBytes(StandardCharsets.UTF_8));
    for (int i = 0; i < 40; i++) {
      writer.kv().put("c/b", ("v" + i).getBytes(StandardCharsets.UTF_8));
    }
    List<WatchBatch> batches = new CopyOnWriteArrayList<>();
    Watch watch = watcher.watch(List.of(), List.of("c/"), first, batches::add);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (batches.isEmpty() && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    WatchBatch snapshot = batches.get(0);
    assertTrue(snapshot.snapshot(), "the events after " + first + " were compacted: the state comes first");
    assertEquals(List.of("c/a", "c/b"), snapshot.events().stream().map(WatchEvent::key).toList());
    assertEquals("v39", snapshot.events().get(1).kv().valueAsString());

    long live = writer.kv().put("c/a", "second".getBytes(StandardCharsets.UTF_8));
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (batches.size() < 2 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertEquals(2, batches.size());
    assertFalse(batches.get(1).snapshot());
    assertEquals(live, batches.get(1).index());
    assertEquals("second", batches.get(1).events().get(0).kv().valueAsString());
    watch.close();
  }

  @Test
  void aStateLargerThanOneMessageArrivesAsOneSnapshotBatch() throws Exception {
    // 6 MiB is past gRPC's default 4 MiB message limit, and past Ratis's default 4 MB limit for a
    // log entry, which made every leader step down in turn while the client retried the put.
    start(Map.of("max-value-bytes", String.valueOf(8 << 20)));
    byte[] big = new byte[6 << 20];
    java.util.Arrays.fill(big, (byte) 'x');
    writer.kv().put("big/0", big);
    for (int i = 1; i <= 5; i++) {
      writer.kv().put("big/" + i, new byte[700_000]);
    }
    List<WatchBatch> batches = new CopyOnWriteArrayList<>();
    Watch watch = watcher.watch(List.of(), List.of("big/"), 0, batches::add);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (batches.isEmpty() && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    Thread.sleep(200);
    assertEquals(1, batches.size(), "the state is one batch, however many messages carried it");
    WatchBatch snapshot = batches.get(0);
    assertTrue(snapshot.snapshot());
    assertEquals(List.of("big/0", "big/1", "big/2", "big/3", "big/4", "big/5"),
        snapshot.events().stream().map(WatchEvent::key).toList());
    assertEquals(big.length, snapshot.events().get(0).kv().value().length);
    assertEquals(big.length, watcher.kv().get("big/0").orElseThrow().value().length);
    watch.close();
  }

  @Test
  void aWatchIsAlsoAFlowPublisherThatHonoursDemand() throws Exception {
    start(Map.of());
    List<WatchBatch> got = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicReference<java.util.concurrent.Flow.Subscription> sub =
        new java.util.concurrent.atomic.AtomicReference<>();
    watcher.watchPublisher(List.of(), List.of("p/"), 0).subscribe(new java.util.concurrent.Flow.Subscriber<>() {
      public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
        sub.set(s);
        s.request(2); // the snapshot and one live batch
      }

      public void onNext(WatchBatch b) {
        got.add(b);
      }

      public void onError(Throwable t) {
      }

      public void onComplete() {
      }
    });
    // The starting state first (it waits for a ReadIndex), so that the five puts are live events.
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (got.isEmpty() && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    for (int i = 0; i < 5; i++) {
      writer.kv().put("p/k", ("" + i).getBytes(StandardCharsets.UTF_8));
    }
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (got.size() < 2 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    Thread.sleep(300);
    assertEquals(2, got.size(), "no more than requested");
    sub.get().request(10);
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (got.size() < 6 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertEquals(6, got.size(), "then the rest, in order");
    assertEquals("4", got.get(5).events().get(0).kv().valueAsString());
    sub.get().cancel();

    // A watch the cluster refuses for good ends its subscriber with the reason.
    java.util.concurrent.CompletableFuture<Throwable> refused = new java.util.concurrent.CompletableFuture<>();
    watcher.watchPublisher(List.of(), List.of("x".repeat(5_000)), 0).subscribe(new java.util.concurrent.Flow.Subscriber<>() {
      public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
        s.request(1);
      }

      public void onNext(WatchBatch b) {
        refused.completeExceptionally(new AssertionError("a batch for a refused watch: " + b));
      }

      public void onError(Throwable t) {
        refused.complete(t);
      }

      public void onComplete() {
        refused.completeExceptionally(new AssertionError("completed instead of failing"));
      }
    });
    Throwable why = refused.get(20, TimeUnit.SECONDS);
    assertTrue(why instanceof InvalidArgumentException && why.getMessage().contains("prefix longer than"),
        "the refusal, as the client's typed error: " + why);
  }

  static List<KeyValue> puts(List<WatchBatch> batches) {
    List<KeyValue> out = new ArrayList<>();
    for (WatchBatch b : batches) {
      if (!b.snapshot()) {
        b.events().stream().filter(e -> e.kind() == WatchEvent.Kind.KEY_PUT).forEach(e -> out.add(e.kv()));
      }
    }
    return out;
  }
}
