package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.server.testing.ProcessCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower that fails every snapshot install its leader sends, on a disk that is otherwise
 * fine (here its snapshot staging directory is a file), so it keeps running and keeps refusing.
 * Ratis's leader resends at once and keeps what it sent for the stream's timeout: with its
 * defaults a 10 MB snapshot ran the leader out of heap within seconds. Every node must keep
 * running without running out of heap, writes must go on being acknowledged, and the follower must
 * catch up once its directory is repaired.
 */
class SnapshotRefusedClusterTest {
  static final int BIG_VALUES = 12;
  static final int BIG_VALUE_BYTES = 900 * 1024;
  static final int SMALL_PUTS = 2_200;

  @TempDir
  Path dir;
  ProcessCluster cluster;
  HoldfastClient client;

  @AfterEach
  void stop() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void theClusterServesWhileAFollowerRefusesItsSnapshot() throws Exception {
    // The others snapshot every 500 entries and purge behind that (as in SnapshotInstallTest).
    cluster = new ProcessCluster(3, dir, Map.of("snapshot-threshold", "500"));
    cluster.start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    int away = (leader + 1) % 3;
    client = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("snapshot-refused-test").build();
    client.kv().put("before", "x".getBytes(StandardCharsets.UTF_8));
    awaitTrue(Duration.ofSeconds(30), () -> applied(away) >= commit(leader), "the follower applied the first put");
    cluster.stop(away);

    // 10.8 MB of values fill the first log segment (so it can be purged) and make the snapshot large.
    Random random = new Random(7);
    for (int i = 0; i < BIG_VALUES; i++) {
      byte[] v = new byte[BIG_VALUE_BYTES];
      random.nextBytes(v);
      client.kv().put("big/" + i, v);
    }
    for (int i = 0; i < SMALL_PUTS; i++) {
      client.kv().put("small/" + (i % 50), Integer.toString(i).getBytes(StandardCharsets.UTF_8));
    }
    awaitTrue(Duration.ofSeconds(60), () -> !hasSegmentFromZero(leader),
        "the leader purged what the follower has not seen");

    // Ratis stages a snapshot it is sent in <group>/tmp: a file in its place fails every install.
    Path staging = groupDir(cluster.dataDir(away)).resolve("tmp");
    deleteTree(staging);
    Files.writeString(staging, "not a directory");
    cluster.start(away);

    // For 15 s (five of Ratis's 3 s install timeouts) the leader is sent nothing but refusals.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    int puts = 0;
    while (System.nanoTime() < until) {
      client.kv().put("during/" + (puts % 10), Integer.toString(puts).getBytes(StandardCharsets.UTF_8));
      puts++;
      Thread.sleep(20);
    }
    // (Not "in the same term": a loaded 2-core box may hold one election, which says nothing here.)
    for (int i = 0; i < 3; i++) {
      assertTrue(cluster.isRunning(i), ProcessCluster.nodeId(i) + " still runs\n" + cluster.logTails());
    }
    // Ratis catches an OutOfMemoryError in the appender's thread and restarts it, so a leader can
    // look healthy from outside while its heap is exhausted; its log says so.
    for (int i = 0; i < 3; i++) {
      assertTrue(!cluster.logContains(i, "OutOfMemoryError"), ProcessCluster.nodeId(i) + " ran out of heap\n"
          + cluster.logTails());
    }
    assertTrue(applied(away) < commit(leader), "the follower really refused the snapshot (applied "
        + applied(away) + ")");
    assertTrue(cluster.logContains(away, "installSnapshot failed"), "installs were attempted and failed\n"
        + cluster.logTails());

    // Repaired, it is sent the snapshot and serves the same state.
    Files.delete(staging);
    long commit = commit(leader);
    awaitTrue(Duration.ofSeconds(60), () -> applied(away) >= commit, "the repaired follower caught up");
    System.out.printf("the leader acknowledged %d puts while the follower refused its snapshot%n", puts);
  }

  long applied(int i) {
    ClusterStatusResponse st = cluster.status(i);
    return st == null ? -1 : st.getAppliedIndex();
  }

  long commit(int i) {
    ClusterStatusResponse st = cluster.status(i);
    return st == null ? -1 : st.getCommitIndex();
  }

  /** The node's one Raft group directory (named by the cluster id) under its data dir. */
  static Path groupDir(Path dataDir) throws IOException {
    try (Stream<Path> dirs = Files.list(dataDir.resolve("raft"))) {
      List<Path> groups = dirs.filter(Files::isDirectory).toList();
      assertEquals(1, groups.size(), "one group directory: " + groups);
      return groups.get(0);
    }
  }

  /** Over ProcessCluster.files: the node runs, and its storage probe writes and deletes a file every second. */
  boolean hasSegmentFromZero(int node) {
    return cluster.files(node).stream().anyMatch(f -> {
      String name = f.getFileName().toString();
      return name.startsWith("log_0-") || name.equals("log_inprogress_0");
    });
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> all = Files.walk(p)) {
      for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  void awaitTrue(Duration timeout, Check check, String what) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out: " + what + "\n" + cluster.logTails());
      }
      Thread.sleep(100);
    }
  }
}
