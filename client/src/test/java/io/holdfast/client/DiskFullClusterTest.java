package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose disk fills up while it serves. It must stop (a node that cannot write its Raft log
 * cannot vote or append honestly), the others carry on, and nothing acknowledged is lost. One
 * node's data dir is a small tmpfs filled by a ballast file, so the test needs root to mount it;
 * without root it is skipped and says so.
 */
class DiskFullClusterTest {
  static final int FULL = 2;
  static final int VALUE_BYTES = 32 * 1024;
  static final int KEYS = 8;
  static final int SNAPSHOT_THRESHOLD = 200;

  @TempDir
  Path dir;
  ProcessCluster cluster;
  HoldfastClient client;
  Path mount;
  final Map<String, Integer> acked = new TreeMap<>();
  final List<String> failures = new ArrayList<>();
  int next;

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
    if (mount != null) {
      run("umount", "-l", mount.toString());
    }
  }

  @Test
  void aFollowerWhoseDiskFillsStopsAndTheOthersLoseNothing() throws Exception {
    fillAndCheck(false);
  }

  @Test
  void aLeaderWhoseDiskFillsStopsAndTheOthersLoseNothing() throws Exception {
    fillAndCheck(true);
  }

  void fillAndCheck(boolean leaderFills) throws Exception {
    try {
      fillAndCheck0(leaderFills);
    } catch (AssertionError e) {
      // Kept whole: CI cuts a long failure message, and the full node's own lines are the ones wanted.
      Path kept = cluster.keepLogs(Path.of("target", "node-logs", "DiskFullClusterTest-" + (leaderFills ? "leader" : "follower")));
      e.addSuppressed(new AssertionError("the nodes' logs are kept in " + kept));
      throw e;
    }
  }

  void fillAndCheck0(boolean leaderFills) throws Exception {
    // The others' logs are purged at snapshots of 200 entries, so that the node that comes back is
    // sent a snapshot and the entries after it. With the default threshold it was sent every put
    // since it stopped, and a slow run's 2,000 (64 MB) filled its disk again.
    cluster = new ProcessCluster(3, dir, Map.of("snapshot-threshold", Integer.toString(SNAPSHOT_THRESHOLD)));
    mount = cluster.dataDir(FULL);
    Files.createDirectories(mount);
    int rc = run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount.toString());
    if (rc != 0) {
      mount = null;
      Assumptions.abort("cannot mount a tmpfs for the full disk (needs root); skipped");
    }
    cluster.start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    client = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("disk-full-test").build();
    Session s = client.newSession(Duration.ofSeconds(15));
    LockLease lease = s.tryLock("disk/lock").orElseThrow();
    for (int i = 0; i < 2 * KEYS; i++) {
      put();
    }
    assertTrue(failures.isEmpty(), failures.toString());

    // A transfer can end with a third node elected instead (a vote timing out on a loaded box): retry.
    int wanted = leaderFills ? FULL : (FULL + 1) % 3;
    for (int attempt = 0; attempt < 3 && leader != wanted; attempt++) {
      try {
        transferLeader(leader, wanted);
      } catch (io.grpc.StatusRuntimeException e) {
        System.out.println("leader transfer to " + ProcessCluster.nodeId(wanted) + " failed: " + e.getStatus());
      }
      leader = cluster.awaitLeader(Duration.ofSeconds(30));
    }
    assertEquals(wanted, leader, "leadership moved to " + ProcessCluster.nodeId(wanted));

    long ballast = fill(mount.resolve("ballast"));
    System.out.printf("disk full (%s): %d MB of ballast%n", leaderFills ? "leader" : "follower", ballast >> 20);
    long filled = System.nanoTime();
    long deadline = filled + TimeUnit.SECONDS.toNanos(60);
    // Under writes, a leader's full disk; with no puts, a follower's: only a few small entries (the
    // session's checkpoints) go to its log, into space already allocated, so its storage probe,
    // not a failed log write, is what finds the disk full.
    while (cluster.isRunning(FULL) && System.nanoTime() < deadline) {
      if (leaderFills) {
        put();
      } else {
        Thread.sleep(50);
      }
    }
    long stoppedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - filled);
    assertFalse(cluster.isRunning(FULL), "the node with the full disk still runs after 60 s\n" + cluster.logTails());
    OptionalInt exit = cluster.exitCode(FULL);
    System.out.printf("the node with the full disk stopped %d ms after the disk filled, exit %s; %d puts acknowledged, "
        + "%d failed%n", stoppedMs, exit, next - failures.size(), failures.size());
    assertTrue(exit.isPresent() && exit.getAsInt() != 0, "it exits non-zero, so that a supervisor restarts it: "
        + exit);
    if (leaderFills) {
      // Whichever saw the full disk first: a write of the Raft log or the storage probe.
      assertTrue(cluster.logContains(FULL, "could not write its Raft log")
          || cluster.logContains(FULL, "could not write to its Raft storage"), "it says why\n" + tail(FULL, 40));
    } else {
      assertTrue(cluster.logContains(FULL, "could not write to its Raft storage"), "its storage probe stopped it\n"
          + tail(FULL, 40));
    }

    // The two others carry on: every put from here on is acknowledged.
    int failedBefore = failures.size();
    for (int i = 0; i < 2 * KEYS; i++) {
      put();
    }
    assertEquals(failedBefore, failures.size(), "puts after the node stopped: " + failures);
    // The others purge their logs past it, so that it has to be sent a snapshot. Ratis purges only
    // closed segments (8 MB), 1,024 entries or more at a time: 9 MB of values, then 2,200 small puts.
    long stoppedAt = cluster.status(cluster.awaitLeader(Duration.ofSeconds(30))).getCommitIndex();
    byte[] big = new byte[900 * 1024];
    for (int i = 0; i < 10; i++) {
      client.kv().put("disk/big" + (i % 2), big);
    }
    for (int i = 0; i < 2_200; i++) {
      client.kv().put("disk/small", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
    }
    int now = cluster.awaitLeader(Duration.ofSeconds(30));
    long purgeEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (logStart(now) <= stoppedAt) {
      assertTrue(System.nanoTime() < purgeEnd, "the leader never purged past " + stoppedAt + ": " + cluster.files(now));
      Thread.sleep(100);
    }
    assertNothingAcknowledgedLost();
    assertTrue(s.isValid(), "the session outlived the node: " + s.state());
    assertEquals(lease.token(), client.describeLock("disk/lock").token());

    // Restarted while the disk is still full, it does not start: Ratis would rewrite the term and
    // vote on the full disk and leave that file empty. (Its own files shrank when it stopped: fill
    // what that freed first.)
    fill(mount.resolve("ballast-2"));
    cluster.start(FULL);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (cluster.isRunning(FULL) && System.nanoTime() < until) {
      put();
    }
    assertFalse(cluster.isRunning(FULL), "restarted on a full disk, it still runs\n" + tail(FULL, 40));
    assertEquals(failedBefore, failures.size(), "puts while it restarted: " + failures);
    assertTrue(cluster.logContains(FULL, "cannot write to its Raft storage"), "it says why it does not start\n"
        + tail(FULL, 40));

    // Space is freed, the node restarts on its data dir, is sent a snapshot, catches up and serves.
    Files.delete(mount.resolve("ballast"));
    Files.delete(mount.resolve("ballast-2"));
    cluster.start(FULL);
    long commit = cluster.status(cluster.awaitLeader(Duration.ofSeconds(60))).getCommitIndex();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (appliedIndex(FULL) < commit) {
      if (!cluster.isRunning(FULL) || System.nanoTime() >= end) {
        throw new AssertionError("the restarted node " + (cluster.isRunning(FULL) ? "never applied up to " + commit
            : "stopped, exit " + cluster.exitCode(FULL)) + "\n" + tail(FULL, 40));
      }
      Thread.sleep(100);
    }
    long loaded = lastSnapshotLoaded(FULL);
    assertTrue(loaded > stoppedAt, "it caught up from a snapshot its leader sent (the last it loaded is at "
        + loaded + "; the cluster was at " + stoppedAt + " when it stopped)");
    for (int i = 0; i < 3; i++) {
      assertTrue(i == FULL || cluster.isRunning(i), ProcessCluster.nodeId(i) + " still runs");
      // Ratis survives an OutOfMemoryError in an appender's thread: only the log tells.
      assertFalse(cluster.logContains(i, "OutOfMemoryError"), ProcessCluster.nodeId(i) + " ran out of heap");
    }
    lease.close();
    s.close();
  }

  /** The last lines of node {@code i}'s log. */
  String tail(int i, int lines) throws IOException {
    List<String> all = Files.readAllLines(cluster.log(i), StandardCharsets.UTF_8);
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  private static final java.util.regex.Pattern LOADED = java.util.regex.Pattern.compile("Loaded snapshot \\S+ \\(index (\\d+)");

  /** The index of the last snapshot node {@code i} loaded (at a start or from its leader), or -1. */
  long lastSnapshotLoaded(int i) throws IOException {
    long last = -1;
    for (String line : Files.readAllLines(cluster.log(i), StandardCharsets.UTF_8)) {
      var m = LOADED.matcher(line);
      if (m.find()) {
        last = Long.parseLong(m.group(1));
      }
    }
    return last;
  }

  private static final java.util.regex.Pattern SEGMENT = java.util.regex.Pattern.compile("log_(?:inprogress_)?(\\d+)");

  /** The first index in node {@code i}'s Raft log: the start of its oldest segment. */
  long logStart(int i) {
    long start = Long.MAX_VALUE;
    for (Path f : cluster.files(i)) {
      var m = SEGMENT.matcher(f.getFileName().toString());
      if (m.lookingAt()) {
        start = Math.min(start, Long.parseLong(m.group(1)));
      }
    }
    return start;
  }

  long appliedIndex(int i) {
    var st = cluster.status(i);
    return st == null ? -1 : st.getAppliedIndex();
  }

  /** One put of a 32 KB value on one of a few keys; the value starts with its sequence number. */
  void put() {
    int n = next++;
    String key = "disk/k" + (n % KEYS);
    byte[] value = new byte[VALUE_BYTES];
    Arrays.fill(value, (byte) 'x');
    byte[] head = (n + ";").getBytes(StandardCharsets.UTF_8);
    System.arraycopy(head, 0, value, 0, head.length);
    try {
      client.kv().put(key, value);
      acked.put(key, n);
    } catch (HoldfastException e) {
      failures.add(n + ": " + e.getMessage());
    }
  }

  /** Each key holds its last acknowledged put, or a later one whose answer was lost. */
  void assertNothingAcknowledgedLost() {
    for (var e : acked.entrySet()) {
      KeyValue kv = client.kv().get(e.getKey()).orElseThrow(() -> new AssertionError(e.getKey() + " is gone"));
      String v = new String(kv.value(), 0, 16, StandardCharsets.UTF_8);
      int seq = Integer.parseInt(v.substring(0, v.indexOf(';')));
      assertTrue(seq >= e.getValue(), e.getKey() + " holds put " + seq + ", but put " + e.getValue()
          + " was acknowledged");
    }
  }

  void transferLeader(int from, int to) {
    AdminServiceGrpc.newBlockingStub(cluster.channel(from)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .transferLeader(TransferLeaderRequest.newBuilder().setTo(ProcessCluster.nodeId(to)).setTimeoutMs(5_000)
            .build());
  }

  /** Writes until the file system says it is full; returns the bytes written. */
  static long fill(Path file) {
    byte[] mb = new byte[1 << 20];
    long written = 0;
    try (OutputStream out = Files.newOutputStream(file)) {
      while (true) {
        out.write(mb);
        written += mb.length;
      }
    } catch (IOException full) {
      return written;
    }
  }

  static int run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().transferTo(OutputStream.nullOutputStream());
    return p.waitFor(10, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }
}
