package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.ops.CliRunner.Run;
import io.holdfast.server.state.FencingToken;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backup and restore through the CLI: a backup of a running cluster, more work on the old cluster
 * after it, then a new 3-node cluster restored from the backup. The new cluster holds the locks
 * and keys as of the backup (and nothing later), and its tokens are above every token the old
 * cluster granted, including the ones granted after the backup.
 */
class BackupRestoreTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Map<String, String> SETTINGS = Map.of("session-ttl-max-ms", "600000");

  @TempDir
  Path dir;

  static HoldfastClient client(ProcessCluster c) {
    return HoldfastClient.builder().endpoints(c.endpoints()).clientName("backup-test")
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(30)))
        .build();
  }

  /**
   * Nodes seeded from one backup in different epochs agree on the log and on nothing else: a
   * failover would take tokens back in time. The first entry a leader writes tells its epoch; a
   * member in another one stops, and those left running are all in one epoch.
   */
  @Test
  void nodesSeededInDifferentEpochsDoNotRunTogether() throws Exception {
    io.holdfast.server.state.TestLog log = new io.holdfast.server.state.TestLog();
    log.acquireFree(log.open(), "fleet/config");
    io.holdfast.server.state.StateImage img = log.state().image();
    byte[] bytes = io.holdfast.server.statemachine.SnapshotCodec.encode(img);
    Path backup = dir.resolve("synthetic.hfb");
    new io.holdfast.server.backup.BackupFile(io.holdfast.proto.v1.SnapshotHeader.newBuilder()
        .setFormatVersion(io.holdfast.server.backup.BackupFile.FORMAT_VERSION).setAppliedIndex(img.lastAppliedIndex())
        .setSizeBytes(bytes.length).setSha256(com.google.protobuf.ByteString.copyFrom(
            io.holdfast.server.backup.BackupFile.sha256(bytes))).build(), bytes).write(backup);

    ProcessCluster mixed = new ProcessCluster(3, dir.resolve("mixed"), SETTINGS);
    // The test clusters draw their own cluster-ids: any other than the backup's will do here.
    String newId = java.util.UUID.randomUUID().toString();
    Run first = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--fencing-epoch", "7",
        "--cluster-id", newId, "--data-dir", mixed.dataDir(0).toString());
    assertEquals(0, first.code(), first.toString());
    Run others = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--fencing-epoch", "8",
        "--cluster-id", newId, "--data-dir", mixed.dataDir(1).toString(), "--data-dir", mixed.dataDir(2).toString());
    assertEquals(0, others.code(), others.toString());

    try (ProcessCluster c = mixed.start()) {
      // No wait for a leader first: the members of the other epoch stop at the leader's first entry,
      // half a second after the election, which a poll for an agreed leader can miss.
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      try (HoldfastClient client = HoldfastClient.builder().endpoints(c.endpoints()).clientName("epochs")
          .callTimeout(Duration.ofSeconds(2))
          .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(500), Duration.ofSeconds(5)))
          .build()) {
        // Writes until a member has stopped: the first entry of the leader's term is enough.
        while (c.isRunning(0) && c.isRunning(1) && c.isRunning(2) && System.nanoTime() < end) {
          try {
            client.kv().put("probe", new byte[] {1});
          } catch (RuntimeException unavailable) {
            // a member stopping under the write
          }
          Thread.sleep(200);
        }
      }
      int stopped = 0;
      java.util.Set<Double> epochs = new java.util.HashSet<>();
      for (int i = 0; i < 3; i++) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (c.isRunning(i) && c.logContains(i, "come from different restores") && System.nanoTime() < until) {
          Thread.sleep(100); // it said why and is on its way out
        }
        if (c.isRunning(i)) {
          epochs.add(CliRunner.metric(c.adminUrl(i), "holdfast_fencing_epoch"));
        } else {
          stopped++;
          assertTrue(c.logContains(i, "come from different restores"), "node " + i + " said why it stopped");
        }
      }
      assertTrue(stopped >= 1, "a member in another epoch stopped: " + c.logTails());
      assertTrue(epochs.size() <= 1, "the members left running share one epoch: " + epochs);
    }
  }

  @Test
  void restoredClusterHasTheBackedUpStateAndNeverRepeatsAToken() throws Exception {
    Path backup = dir.resolve("backup.hfb");
    long heldToken;
    long heldSession;
    long highestOldToken = 0;
    long lastRestoredToken = 0;
    try (ProcessCluster old = new ProcessCluster(3, dir.resolve("old"), SETTINGS).start()) {
      old.awaitLeader(Duration.ofSeconds(60));
      String endpoints = String.join(",", old.endpoints());
      try (HoldfastClient c = client(old)) {
        Session s = c.newSession(Duration.ofMinutes(5));
        LockLease held = s.lock("fleet/config");
        heldToken = held.token();
        heldSession = s.id();
        c.kv().putFenced("fleet/config.conf", "v1".getBytes(StandardCharsets.UTF_8), held);
        c.kv().put("plain", "before".getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < 5; i++) {
          try (LockLease l = s.lock("churn")) {
            highestOldToken = Math.max(highestOldToken, l.token());
          }
        }

        Run save = CliRunner.run("snapshot", "save", backup.toString(), "--endpoints", endpoints, "-o", "json");
        assertEquals(0, save.code(), save.toString());
        JsonNode saved = JSON.readTree(save.out());
        assertEquals(0, saved.get("fencing_epoch").asLong());
        assertEquals(64, saved.get("sha256").asText().length());
        assertTrue(saved.get("applied_index").asLong() >= highestOldToken, save.out());

        // The old cluster carries on after the backup: these grants and writes are not in it.
        for (int i = 0; i < 20; i++) {
          try (LockLease l = s.lock("churn")) {
            highestOldToken = Math.max(highestOldToken, l.token());
          }
        }
        c.kv().putFenced("fleet/config.conf", "v2-after-backup".getBytes(StandardCharsets.UTF_8), held);
        try (LockLease late = s.lock("late/lock")) {
          highestOldToken = Math.max(highestOldToken, late.token());
        }
      }
    }

    Run inspect = CliRunner.run("snapshot", "inspect", backup.toString(), "-o", "json");
    assertEquals(0, inspect.code(), inspect.toString());
    JsonNode described = JSON.readTree(inspect.out());
    assertEquals(1, described.get("locks").asInt(), "fleet/config is held; churn was free at the backup");
    assertEquals(2, described.get("keys").asInt());

    // A damaged backup is refused before anything is written.
    byte[] bytes = Files.readAllBytes(backup);
    bytes[bytes.length - 3] ^= 0x5a;
    Path damaged = dir.resolve("damaged.hfb");
    Files.write(damaged, bytes);
    ProcessCluster fresh = new ProcessCluster(3, dir.resolve("new"), SETTINGS);
    // The test clusters draw their own cluster-ids: any other than the backup's will do here.
    String newId = java.util.UUID.randomUUID().toString();
    Run refused = CliRunner.run("snapshot", "restore", damaged.toString(), "--new-cluster", "--cluster-id", newId,
        "--data-dir", fresh.dataDir(0).toString());
    assertEquals(1, refused.code(), "a damaged backup is a failure, not a usage error: " + refused);
    assertTrue(refused.err().contains("checksum"), refused.toString());
    assertFalse(Files.exists(fresh.dataDir(0).resolve("restore")), "nothing written for a damaged backup");
    Run noFlag = CliRunner.run("snapshot", "restore", backup.toString(), "--data-dir", fresh.dataDir(0).toString());
    assertEquals(2, noFlag.code(), "--new-cluster is required: " + noFlag);

    Run restore = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "-o", "json",
        "--cluster-id", newId, "--data-dir", fresh.dataDir(0).toString(), "--data-dir", fresh.dataDir(1).toString(),
        "--data-dir", fresh.dataDir(2).toString());
    assertEquals(0, restore.code(), restore.toString());
    assertEquals(1, JSON.readTree(restore.out()).get("new_fencing_epoch").asLong());

    try (ProcessCluster restored = fresh.start()) {
      restored.awaitLeader(Duration.ofSeconds(60));
      try (HoldfastClient c = client(restored)) {
        LockDescription d = c.describeLock("fleet/config");
        assertTrue(d.held(), "the lock held at the backup is held: " + d);
        assertEquals(heldSession, d.holderSessionId());
        assertEquals(heldToken, d.token());
        assertEquals("v1", c.kv().get("fleet/config.conf").orElseThrow().valueAsString(),
            "the key as of the backup, not the later write");
        assertEquals("before", c.kv().get("plain").orElseThrow().valueAsString());
        assertFalse(c.describeLock("late/lock").held());

        Session s = c.newSession(Duration.ofSeconds(30));
        long newest = 0;
        for (String name : new String[] {"churn", "late/lock", "fresh"}) {
          try (LockLease l = s.lock(name)) {
            assertTrue(l.token() > highestOldToken, name + ": token " + FencingToken.of(l.token())
                + " must be above every old token, up to " + highestOldToken);
            assertEquals(1, FencingToken.of(l.token()).epoch());
            newest = Math.max(newest, l.token());
          }
        }
        lastRestoredToken = newest;
        assertEquals(1.0, CliRunner.metric(restored.adminUrl(0), "holdfast_fencing_epoch"), "the epoch is exported");
        // The old holder's token no longer fences anything once the lock moves on.
        Run revoke = CliRunner.run("revoke", "fleet/config", "--reason", "restore drill", "--endpoints",
            String.join(",", restored.endpoints()));
        assertEquals(0, revoke.code(), revoke.toString());
        assertFalse(c.kv().validateFence("fleet/config", heldToken));

        // A holder learns from its keepalives that a lock was taken away, also in epoch 1: the
        // answers' as_of_index is in token terms (it once was a bare revision, below every
        // epoch-1 token, and the holder never noticed).
        try (Session holder = c.newSession(Duration.ofSeconds(3))) {
          LockLease lease = holder.lock("revoked/after-restore");
          assertEquals(1, FencingToken.of(lease.token()).epoch());
          assertTrue(lease.isValid());
          Run taken = CliRunner.run("revoke", "revoked/after-restore", "--reason", "epoch test", "--endpoints",
              String.join(",", restored.endpoints()));
          assertEquals(0, taken.code(), taken.toString());
          long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
          while (lease.isValid() && System.nanoTime() < end) {
            Thread.sleep(50);
          }
          assertFalse(lease.isValid(), "the holder was told by its keepalives that the lock is gone");
        }
      }

      // A restore never lands on a node that already has Raft state.
      Run again = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--cluster-id", newId,
          "--data-dir", restored.dataDir(0).toString());
      assertNotEquals(0, again.code());
      assertTrue(again.err().contains("already holds Raft state"), again.toString());

      // A restarted node recovers from its own storage and does not apply the seed again.
      restored.stop(0);
      restored.start(0);
      restored.awaitLeader(Duration.ofSeconds(60));
      try (HoldfastClient c = client(restored)) {
        assertEquals("v1", c.kv().get("fleet/config.conf").orElseThrow().valueAsString());
        try (Session s = c.newSession(Duration.ofSeconds(30)); LockLease l = s.lock("fresh")) {
          assertTrue(l.token() > lastRestoredToken, "after a restart tokens still increase");
        }
      }
    }
  }
}
