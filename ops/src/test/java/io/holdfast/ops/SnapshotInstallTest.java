package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.KeyValue;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.ops.CliRunner.Run;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ratis's snapshot install, end to end. While a follower is down, the others snapshot and purge
 * their logs past its position (it does not hold the purge back: its disk-filling alternative),
 * so on its return it is sent the snapshot; so is a member added after the purge, which finds no
 * entries from index 0 left to replay. Each of them then leads, and serves the state the others
 * had: keys with their revisions, a held lock with its token and its queued waiter, sessions that
 * kept renewing.
 */
class SnapshotInstallTest {
  /** Big values fill the first 8 MB log segment, so that it closes and can be purged. */
  static final int BIG_VALUES = 12;
  static final int BIG_VALUE_BYTES = 900 * 1024;
  /**
   * Ratis purges only up to 500 entries (the preservation at this threshold) behind a snapshot,
   * and only 1,024 entries or more past its last purge.
   */
  static final int SMALL_PUTS = 2_200;

  @TempDir
  Path dir;

  @Test
  void membersBehindThePurgedLogGetTheSnapshotAndServeTheSameState() throws Exception {
    Map<String, String> settings = Map.of("snapshot-threshold", "500", "session-ttl-max-ms", "600000");
    try (ProcessCluster cluster = new ProcessCluster(3, 1, dir.resolve("cluster"), settings).start()) {
      int leader = cluster.awaitLeader(Duration.ofSeconds(60));
      int away = (leader + 1) % 3;
      try (HoldfastClient c = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("install-test")
          .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1),
              Duration.ofSeconds(60)))
          .build()) {
        Session holder = c.newSession(Duration.ofSeconds(30));
        Session waiter = c.newSession(Duration.ofSeconds(30));
        LockLease held = holder.lock("fleet/config");
        CompletableFuture<LockLease> queued = waiter.lockAsync("fleet/config");
        awaitTrue(Duration.ofSeconds(30), () -> c.describeLock("fleet/config").waiters().size() == 1,
            () -> "the waiter queues behind the holder");
        cluster.stop(away);

        byte[][] big = new byte[BIG_VALUES][];
        long[] bigRevisions = new long[BIG_VALUES];
        Random random = new Random(42);
        for (int i = 0; i < BIG_VALUES; i++) {
          big[i] = new byte[BIG_VALUE_BYTES];
          random.nextBytes(big[i]);
          bigRevisions[i] = c.kv().putFenced("big/" + i, big[i], held);
        }
        long lastSmall = 0;
        for (int i = 0; i < SMALL_PUTS; i++) {
          lastSmall = c.kv().put("small/" + (i % 50), Integer.toString(i).getBytes());
        }
        long written = lastSmall;

        // The leader purges what the member that is away has not seen.
        awaitTrue(Duration.ofSeconds(60), () -> !hasSegmentFromZero(cluster, leader),
            () -> "the leader's log was not purged: " + listing(cluster, leader));

        // What an install that failed before this stop left behind; the start removes it.
        Path leftover = plantPartialSnapshot(cluster, away);
        cluster.start(away);
        awaitTrue(Duration.ofSeconds(60), () -> {
          ClusterStatusResponse st = cluster.status(away);
          return st != null && st.getAppliedIndex() >= written;
        }, () -> "the member that was away did not catch up: " + cluster.logTails());
        assertTrue(snapshotFiles(cluster, away) > 0, listing(cluster, away));
        assertFalse(Files.exists(leftover), "the partial snapshot was removed at start: " + listing(cluster, away));
        assertTrue(cluster.files(away).stream().noneMatch(f -> f.toString().contains("snapshot-")),
            "no partial snapshot is left once the install is done: " + listing(cluster, away));

        cluster.startJoining(3);
        awaitTrue(Duration.ofSeconds(60), () -> cluster.status(3) != null, cluster::logTails);
        String original = String.join(",", cluster.endpoint(0), cluster.endpoint(1), cluster.endpoint(2));
        Run add = CliRunner.run("member", "add", ProcessCluster.nodeId(3), cluster.peerAddress(3),
            cluster.endpoint(3), "--endpoints", original, "--timeout", "60s");
        assertEquals(0, add.code(), add + "\n" + cluster.logTails());
        int joined = 3;
        assertTrue(snapshotFiles(cluster, joined) > 0, "the new member holds a snapshot: " + listing(cluster, joined));
        assertFalse(hasSegmentFromZero(cluster, joined), "and no log from index 0, so it was not replayed: " + listing(cluster, joined));

        // Each of them leads in turn: what a client sees then comes from the installed state.
        for (int node : new int[] {away, 3}) {
          Run transfer = CliRunner.run("leader", "transfer", "--to", ProcessCluster.nodeId(node), "--endpoints",
              String.join(",", cluster.endpoints()));
          assertEquals(0, transfer.code(), transfer + "\n" + cluster.logTails());
          assertEquals(node, cluster.awaitLeader(Duration.ofSeconds(30)));

          for (int i = 0; i < BIG_VALUES; i++) {
            Optional<KeyValue> kv = c.kv().get("big/" + i);
            assertTrue(kv.isPresent(), "big/" + i + " on " + node);
            assertEquals(bigRevisions[i], kv.get().revision(), "big/" + i + "'s revision on " + node);
            assertArrayEquals(big[i], kv.get().value(), "big/" + i + "'s value on " + node);
          }
          assertEquals(lastSmall, c.kv().get("small/" + ((SMALL_PUTS - 1) % 50)).orElseThrow().revision());
          assertEquals(50, c.kv().list("small/").size());
          // 10.8 MB of values: the client reads them in pages of at most 4 MiB.
          List<KeyValue> all = c.kv().list("big/");
          assertEquals(BIG_VALUES, all.size());
          for (KeyValue kv : all) {
            assertArrayEquals(big[Integer.parseInt(kv.key().substring(4))], kv.value(), kv.key());
          }
          LockDescription lock = c.describeLock("fleet/config");
          assertEquals(holder.id(), lock.holderSessionId(), lock.toString());
          assertEquals(held.token(), lock.token(), lock.toString());
          assertEquals(List.of(waiter.id()), lock.waiters().stream().map(LockDescription.Waiter::sessionId).toList());
          assertTrue(c.kv().validateFence("fleet/config", held.token()));
        }

        // The installed queue hands the lock on, with a newer token, and both sessions stayed alive
        // through the installs and the transfers.
        held.close();
        LockLease next = queued.get(30, TimeUnit.SECONDS);
        assertTrue(next.token() > held.token(), next.token() + " after " + held.token());
        assertFalse(c.kv().validateFence("fleet/config", held.token()), "the old token is refused");
        assertTrue(holder.isValid() && waiter.isValid());
        System.out.printf("snapshot install: the returning member's files %s; the new member's %s%n",
            listing(cluster, away), listing(cluster, joined));
      }
    }
  }

  static Path plantPartialSnapshot(ProcessCluster cluster, int node) throws java.io.IOException {
    Path raft = cluster.dataDir(node).resolve("raft");
    Path group;
    try (var groups = Files.list(raft)) {
      group = groups.filter(Files::isDirectory).findFirst().orElseThrow();
    }
    Path partial = group.resolve("tmp").resolve("snapshot-0c9a3e41-leftover");
    Files.createDirectories(partial.resolve("sm"));
    Files.write(partial.resolve("sm").resolve("snapshot.1_100"), new byte[64 * 1024]);
    return partial;
  }

  // Over ProcessCluster.files: these run while the nodes do, and each writes and deletes a probe file every second.
  static boolean hasSegmentFromZero(ProcessCluster cluster, int node) {
    return cluster.files(node).stream().anyMatch(f -> {
      String name = f.getFileName().toString();
      return name.startsWith("log_0-") || name.equals("log_inprogress_0");
    });
  }

  static long snapshotFiles(ProcessCluster cluster, int node) {
    return cluster.files(node).stream().filter(f -> f.getFileName().toString().matches("snapshot\\.\\d+_\\d+")).count();
  }

  static String listing(ProcessCluster cluster, int node) {
    return cluster.files(node).toString();
  }

  interface Check {
    boolean ok() throws Exception;
  }

  static void awaitTrue(Duration timeout, Check check, java.util.function.Supplier<String> message) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      if (System.nanoTime() > end) {
        throw new AssertionError(message.get());
      }
      Thread.sleep(100);
    }
  }
}
