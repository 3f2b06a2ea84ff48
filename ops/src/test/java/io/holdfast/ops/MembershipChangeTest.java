package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.ops.CliRunner.Run;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Online membership changes under a lock workload: a 3-node cluster grows to 5 (two nodes that
 * start with join: true, added by the CLI), leadership moves to a new member (whose client address
 * only the replicated configuration knows), then two original members are removed, leaving 3.
 * Throughout, workers take locks and write fenced ledger entries, and one session holds a lock.
 */
class MembershipChangeTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  static String endpointsOf(ProcessCluster c, int... nodes) {
    List<String> out = new ArrayList<>();
    for (int i : nodes) {
      out.add(c.endpoint(i));
    }
    return String.join(",", out);
  }

  static TreeSet<String> memberIds(String endpoints) throws Exception {
    Run r = CliRunner.run("member", "list", "--endpoints", endpoints, "-o", "json");
    assertEquals(0, r.code(), r.toString());
    TreeSet<String> ids = new TreeSet<>();
    for (JsonNode m : JSON.readTree(r.out())) {
      ids.add(m.get("id").asText());
    }
    return ids;
  }

  @Test
  void growThreeToFiveAndShrinkBackToThreeWhileLocksAreHeld() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(3, 2, dir.resolve("cluster"),
        Map.of("session-ttl-min-ms", "2000", "checkpoint-interval-ms", "500")).start()) {
      cluster.awaitLeader(Duration.ofSeconds(60));
      String original = endpointsOf(cluster, 0, 1, 2);
      try (LockWorkload load = new LockWorkload(cluster.endpoints(), Duration.ofSeconds(6)).start(3);
          HoldfastClient checker = load.client("checker")) {
        load.awaitProgress(10, Duration.ofSeconds(60));

        // Grow: 3 -> 5.
        for (int i = 3; i < 5; i++) {
          cluster.startJoining(i);
          long up = System.nanoTime() + Duration.ofSeconds(60).toNanos();
          while (cluster.status(i) == null && System.nanoTime() < up) {
            Thread.sleep(100); // as an operator waits for "waiting to be added" in its log
          }
          Run add = CliRunner.run("member", "add", ProcessCluster.nodeId(i), cluster.peerAddress(i), cluster.endpoint(i),
              "--endpoints", original, "--timeout", "30s");
          assertEquals(0, add.code(), add + "\n" + cluster.logTails());
          load.awaitProgress(5, Duration.ofSeconds(60));
        }
        assertEquals(new TreeSet<>(List.of("n1", "n2", "n3", "n4", "n5")), memberIds(original));
        int leader = cluster.awaitLeader(Duration.ofSeconds(30));
        ClusterStatusResponse n5 = cluster.status(4);
        assertEquals(5, n5.getMembersCount(), "the new member knows every member: " + n5);
        assertEquals(ProcessCluster.nodeId(leader), n5.getLeaderId());
        assertEquals(5.0, CliRunner.metric(cluster.adminUrl(4), "holdfast_raft_members"), "the members gauge");

        // Leadership to a new member: clients configured with n1-n3 only must follow the redirect to
        // n4's client address, which no config file of n1-n3 contains.
        Run transfer = CliRunner.run("leader", "transfer", "--to", "n4", "--endpoints", original);
        assertEquals(0, transfer.code(), transfer.toString());
        assertEquals(3, cluster.awaitLeader(Duration.ofSeconds(30)));
        assertEquals(cluster.endpoint(3), cluster.status(0).getLeaderClientAddress(),
            "n1 names n4's client address from the replicated configuration");
        load.awaitProgress(10, Duration.ofSeconds(60));

        // Shrink: 5 -> 3, removing two of the original members.
        for (String gone : List.of("n1", "n2")) {
          Run remove = CliRunner.run("member", "remove", gone, "--endpoints", endpointsOf(cluster, 2, 3, 4),
              "--timeout", "30s");
          assertEquals(0, remove.code(), remove + "\n" + cluster.logTails());
          load.awaitProgress(5, Duration.ofSeconds(60));
        }
        assertEquals(new TreeSet<>(List.of("n3", "n4", "n5")), memberIds(endpointsOf(cluster, 2, 3, 4)));
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while ((cluster.isRunning(0) || cluster.isRunning(1)) && System.nanoTime() < end) {
          Thread.sleep(100);
        }
        assertTrue(!cluster.isRunning(0) && !cluster.isRunning(1), "removed members stop themselves");
        assertTrue(cluster.logContains(0, "was removed from the cluster"), cluster.logTails());
        load.awaitProgress(10, Duration.ofSeconds(60));

        // A member that joined at run time restarts from its own storage: its config still says
        // join, and it comes back as a member of the replicated configuration.
        int follower = cluster.awaitLeader(Duration.ofSeconds(30)) == 4 ? 3 : 4;
        cluster.stop(follower);
        load.awaitProgress(5, Duration.ofSeconds(60));
        cluster.start(follower);
        long back = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        ClusterStatusResponse again = null;
        while (System.nanoTime() < back) {
          again = cluster.status(follower);
          if (again != null && again.getRole().equals("FOLLOWER") && !again.getLeaderId().isEmpty()) {
            break;
          }
          Thread.sleep(100);
        }
        assertEquals("FOLLOWER", again == null ? null : again.getRole(), cluster.logTails());
        assertEquals(3, again.getMembersCount(), "it knows the members from its own log: " + again);
        load.awaitProgress(5, Duration.ofSeconds(60));

        // Bad input gets a precise refusal.
        Run unknown = CliRunner.run("member", "remove", "n9", "--endpoints", endpointsOf(cluster, 2, 3, 4));
        assertEquals(3, unknown.code(), unknown.toString());
        assertTrue(unknown.err().contains("'n9' is not a member"), unknown.toString());
        Run badAddress = CliRunner.run("member", "add", "n6", "nowhere", "127.0.0.1:1", "--endpoints",
            endpointsOf(cluster, 2, 3, 4));
        assertEquals(2, badAddress.code(), badAddress.toString());
        assertTrue(badAddress.err().contains("peer_address"), badAddress.toString());
        Run transferNowhere = CliRunner.run("leader", "transfer", "--to", "n1", "--endpoints", endpointsOf(cluster, 2, 3, 4));
        assertEquals(3, transferNowhere.code(), transferNowhere.toString());
        assertTrue(transferNowhere.err().contains("'n1' is not a member"), transferNowhere.toString());
        // A node that is not running never catches up: the change is refused, the members stay.
        int nobody;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
          nobody = s.getLocalPort();
        }
        long started = System.nanoTime();
        Run notRunning = CliRunner.run("member", "add", "n6", "127.0.0.1:" + nobody, "127.0.0.1:" + (nobody + 1),
            "--endpoints", endpointsOf(cluster, 2, 3, 4));
        assertEquals(3, notRunning.code(), notRunning.toString());
        assertTrue(notRunning.err().contains("does not accept connections"), notRunning.toString());
        System.out.printf("adding a node that is not running was refused after %d ms%n",
            (System.nanoTime() - started) / 1_000_000);
        assertEquals(new TreeSet<>(List.of("n3", "n4", "n5")), memberIds(endpointsOf(cluster, 2, 3, 4)));
        // A node already in the cluster, under another name: refused as a precondition (exit 3).
        Run twice = CliRunner.run("member", "add", "n6", cluster.peerAddress(2), cluster.endpoint(2), "--endpoints",
            endpointsOf(cluster, 2, 3, 4));
        assertEquals(3, twice.code(), twice.toString());
        assertTrue(twice.err().contains("already"), twice.toString());
        assertEquals(new TreeSet<>(List.of("n3", "n4", "n5")), memberIds(endpointsOf(cluster, 2, 3, 4)));

        long before = load.lastToken(LockWorkload.lockName(0));
        List<String> problems = load.stopAndCheck(checker);
        assertEquals(List.of(), problems, "no lock lost, tokens increase, every acknowledged write is there");
        assertNotEquals(0, before);
        System.out.printf("membership: %d lock+write cycles acknowledged, %d errors%n", load.ops.get(),
            load.retriedErrors.get());
      }
    }
  }
}
