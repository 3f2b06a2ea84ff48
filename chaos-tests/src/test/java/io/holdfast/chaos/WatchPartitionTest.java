package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A watcher on a node that the network cuts off from the other nodes, while the client still
 * reaches it: the node stops applying, its stream stays healthy, and without a check the watcher
 * would see nothing for as long as the cut lasts. The node ends the stream once it has not heard
 * from a leader for three election timeouts, and the watch resumes on a node that has one.
 */
class WatchPartitionTest {
  @TempDir
  Path dir;

  @Test
  void aWatcherOnANodeCutOffFromTheLeaderMovesToANodeThatHasOne() throws Exception {
    NetnsNetwork.assumeAvailable("WatchPartitionTest");
    try (NetnsNetwork net = NetnsNetwork.open(3);
        ProcessCluster cluster = net.place(new ProcessCluster(3, dir.resolve("cluster"), Map.of()))) {
      net.checkReachable();
      cluster.start();
      int leader = cluster.awaitLeader(Duration.ofSeconds(60));
      int cut = (leader + 1) % 3;
      List<String> cutFirst = new ArrayList<>(List.of(cluster.endpoint(cut)));
      cluster.endpoints().stream().filter(e -> !cutFirst.contains(e)).forEach(cutFirst::add);
      try (HoldfastClient writer = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("writer").build();
          HoldfastClient watcher = HoldfastClient.builder().endpoints(cutFirst).clientName("watcher").build()) {
        List<WatchBatch> seen = new CopyOnWriteArrayList<>();
        Watch watch = watcher.watch(List.of(), List.of("cfg/"), 0, seen::add);
        writer.kv().put("cfg/before", "1".getBytes(StandardCharsets.UTF_8));
        assertTrue(awaitKey(seen, "cfg/before", 20), "the watch works before the cut: " + seen);

        net.apply(Partition.isolate(cut, 3));
        long cutAt = System.nanoTime();
        // The writer's calls go to the leader, which the cut does not touch.
        writer.kv().put("cfg/during", "2".getBytes(StandardCharsets.UTF_8));
        boolean arrived = awaitKey(seen, "cfg/during", 30);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutAt);
        System.out.printf("watch: a put made during the cut arrived %d ms after node %d was cut off%n", ms, cut);
        assertTrue(arrived, "a put made during the cut reaches the watcher (through another node): " + seen);
        assertEquals(1, seen.stream().flatMap(b -> b.events().stream())
            .filter(e -> e.kind() == WatchEvent.Kind.KEY_PUT && e.key().equals("cfg/during")).count(),
            "once: " + seen);
        watch.close();
      } finally {
        net.heal();
      }
    }
  }

  private static boolean awaitKey(List<WatchBatch> seen, String key, int seconds) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < end) {
      for (WatchBatch b : seen) {
        for (WatchEvent e : b.events()) {
          if (e.kind() == WatchEvent.Kind.KEY_PUT && key.equals(e.key())) {
            return true;
          }
        }
      }
      Thread.sleep(20);
    }
    return false;
  }
}
