package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fast failover must not depose a live leader. A firewall that rejects the link between the
 * leader and one follower makes that follower see what a dead leader looks like (its stream cut,
 * a connect refused); the other follower still hears from the leader, and saying so keeps the
 * cut-off follower from forcing an election. Pre-vote then keeps it from disturbing anyone. A
 * follower that cannot reach a majority does not force one either: it could not win, and its
 * higher term would depose the leader once the cut heals.
 */
class RejectedLinkTest {
  @TempDir
  Path dir;
  private NetnsNetwork net;
  private ProcessCluster cluster;
  private int leader;
  /** The follower whose link to the leader is rejected, and the other one. */
  private int cut;
  private int other;

  @BeforeEach
  void startInNamespaces() {
    NetnsNetwork.assumeAvailable("RejectedLinkTest");
    net = NetnsNetwork.open(3);
    cluster = net.place(new ProcessCluster(3, dir.resolve("cluster"), Map.of()));
    net.checkReachable();
    cluster.start();
    leader = cluster.awaitLeader(Duration.ofSeconds(60));
    cut = (leader + 1) % 3;
    other = (leader + 2) % 3;
  }

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
    if (net != null) {
      net.close();
    }
  }

  @Test
  void aFollowerWhoseLinkToABusyLeaderIsRejectedDoesNotDeposeIt() throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong puts = new AtomicLong();
    try (HoldfastClient writer = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("writer").build()) {
      Thread load = new Thread(() -> {
        while (running.get()) {
          try {
            writer.kv().put("load/k", Long.toString(puts.get()).getBytes(StandardCharsets.UTF_8));
            puts.incrementAndGet();
          } catch (RuntimeException e) {
            // counted by the assertions below: the leader must keep serving
          }
        }
      }, "load");
      load.start();
      try {
        while (puts.get() < 200) {
          Thread.sleep(10);
        }
        ClusterStatusResponse before = cluster.status(leader);
        assertNotNull(before);
        long term = before.getTerm();

        net.rejectInto(leader, cut); // the leader's firewall resets the follower's packets
        long putsAtCut = puts.get();
        Thread.sleep(6_000);

        ClusterStatusResponse lead = cluster.status(leader);
        ClusterStatusResponse seen = cluster.status(other);
        assertNotNull(lead);
        assertNotNull(seen);
        System.out.printf("rejected link n%d-n%d: term %d -> %d, %d puts during the cut; leader says %s, n%d says %s%n",
            leader + 1, cut + 1, term, lead.getTerm(), puts.get() - putsAtCut, lead.getRole(), other + 1,
            seen.getLeaderId());
        printDetectorLines();
        assertEquals("LEADER", lead.getRole(), "still the leader");
        assertEquals(term, lead.getTerm(), "no election: the term did not move");
        assertEquals(ProcessCluster.nodeId(leader), seen.getLeaderId());
        assertTrue(cluster.logContains(cut, "heard from leader") || cluster.logContains(cut, "still hears from leader"),
            "the cut-off follower saw the evidence, and held back");
        assertTrue(puts.get() - putsAtCut > 100, "the leader kept serving: " + (puts.get() - putsAtCut) + " puts");
      } finally {
        running.set(false);
        load.join(10_000);
        net.heal();
      }
    }
  }

  @Test
  void aFollowerWhoseLinkToAnIdleLeaderIsRejectedDoesNotDeposeIt() throws Exception {
    // Idle: no client, only heartbeats every 250 ms, which a look 40 ms after the cut mostly misses.
    Thread.sleep(2_000);
    long term = cluster.status(leader).getTerm();
    net.rejectInto(leader, cut);
    Thread.sleep(5_000);
    ClusterStatusResponse lead = cluster.status(leader);
    ClusterStatusResponse seen = cluster.status(other);
    printDetectorLines();
    assertEquals("LEADER", lead.getRole(), "still the leader");
    assertEquals(term, lead.getTerm(), "no election: the term did not move");
    assertEquals(ProcessCluster.nodeId(leader), seen.getLeaderId());
    net.heal();
  }

  @Test
  void aFollowerEveryoneRejectsForcesNoElectionItCannotWin() throws Exception {
    Thread.sleep(1_000);
    long term = cluster.status(leader).getTerm();
    // To the cut-off follower both others look dead (stream cut, connects refused), and neither answers it.
    net.rejectedByAll(cut, leader, other);
    Thread.sleep(4_000);
    net.heal();
    // Healed: had it forced an election, its higher term would now reach the leader and depose it.
    Thread.sleep(3_000);
    ClusterStatusResponse lead = cluster.status(leader);
    printDetectorLines();
    assertNotNull(lead);
    assertEquals("LEADER", lead.getRole(), "still the leader");
    assertEquals(term, lead.getTerm(), "no election: the term did not move");
    assertEquals(ProcessCluster.nodeId(leader), cluster.status(other).getLeaderId());
    assertTrue(cluster.logContains(cut, "which could not win"), "the cut-off follower held back for want of a quorum");
  }

  private void printDetectorLines() throws java.io.IOException {
    java.nio.file.Files.readAllLines(cluster.log(cut)).stream()
        .filter(l -> l.contains("DeadLeaderDetector"))
        .forEach(l -> System.out.println("n" + (cut + 1) + ": " + l));
  }
}
