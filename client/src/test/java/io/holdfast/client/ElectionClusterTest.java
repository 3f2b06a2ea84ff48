package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.testing.CampaignerProcess;
import io.holdfast.client.testing.LockHolderProcess;
import io.holdfast.client.testing.ClusterExtension;
import io.holdfast.server.testing.ProcessCluster;
import java.time.Duration;
import java.util.Map;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Leader election on a real cluster, with campaigners in their own processes. */
class ElectionClusterTest {
  @RegisterExtension
  static final ClusterExtension CLUSTER = new ClusterExtension(Map.of(), "observer");
  static ProcessCluster cluster;
  static HoldfastClient client;

  @BeforeAll
  static void bind() {
    cluster = CLUSTER.cluster();
    client = CLUSTER.client();
  }

  @Test
  void whenTheLeadersProcessIsKilledTheOtherLeadsWithinTtlAndObserversSeeEachChangeOnce() throws Exception {
    long ttlMs = 3_000;
    String endpoints = String.join(",", cluster.endpoints());
    Election election = client.election("orchestrators/eu-1");
    List<Leader> seen = new CopyOnWriteArrayList<>();
    Watch observing = election.observe(seen::add);
    Process a = CampaignerProcess.start(endpoints, "orchestrators/eu-1", ttlMs, "node-a");
    Process b = null;
    try {
      long[] aLeads = LockHolderProcess.awaitHolding(a, Duration.ofSeconds(30));
      awaitLeaderValue(seen, "node-a");
      assertEquals("node-a", election.leader().value());
      assertEquals(aLeads[1], election.leader().token());

      b = CampaignerProcess.start(endpoints, "orchestrators/eu-1", ttlMs, "node-b");
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (client.describeLock("orchestrators/eu-1").waitingSessionIds().isEmpty() && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      // The hand-over to a waiting candidate is what is measured, not a fresh campaign after expiry.
      assertFalse(client.describeLock("orchestrators/eu-1").waitingSessionIds().isEmpty(), "node-b never queued");
      a.destroyForcibly();
      long killed = System.nanoTime();
      long[] bLeads = LockHolderProcess.awaitHolding(b, Duration.ofSeconds(ttlMs / 1000 + 20));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
      System.out.printf("election: node-b leads %d ms after node-a was killed (TTL %d ms)%n", ms, ttlMs);
      assertTrue(ms <= ttlMs + 2_000, "took " + ms + " ms");
      assertTrue(bLeads[1] > aLeads[1], "the new leader's token is higher");
      awaitLeaderValue(seen, "node-b");

      List<String> changes = seen.stream().map(l -> l.present() ? l.value() : "-").toList();
      assertEquals(List.of("-", "node-a", "-", "node-b"), changes, "each change seen once: " + seen);
      assertEquals(bLeads[1], seen.get(seen.size() - 1).token());
    } finally {
      a.destroyForcibly();
      if (b != null) {
        b.destroyForcibly();
      }
      observing.close();
    }
  }

  @Test
  void aLeaderWhoseSessionEndsStopsLeadingAndResignLetsTheNextOneIn() throws Exception {
    Election election = client.election("orchestrators/eu-2");
    Session s1 = client.newSession(Duration.ofSeconds(10));
    Leadership first = election.campaign(s1, "one");
    assertTrue(first.isValid());
    assertEquals("one", election.leader().value());
    s1.close();
    assertFalse(first.isValid(), "a leader whose session ended stops leading");
    assertEquals(Leader.NONE, election.leader());

    Session s2 = client.newSession(Duration.ofSeconds(10));
    Leadership second = election.campaign(s2, "two");
    assertTrue(second.token() > first.token());
    second.resign();
    assertFalse(second.isValid());
    assertEquals(Leader.NONE, election.leader());
    s2.close();
  }

  /**
   * One candidacy per session and election: a second campaign would share the first one's grant,
   * and whichever resigned first would clear the announcement under the other. Once the first
   * has resigned, the session may campaign again.
   */
  @Test
  void aSessionCampaignsOnceAtATimeInAnElection() throws Exception {
    Election election = client.election("orchestrators/eu-3");
    try (Session s = client.newSession(Duration.ofSeconds(10))) {
      Leadership first = election.campaign(s, "one");
      IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> election.campaign(s, "two"));
      assertTrue(refused.getMessage().contains("already campaigns in or leads election 'orchestrators/eu-3'"),
          refused.getMessage());
      assertEquals("one", election.leader().value(), "the refused campaign wrote nothing");
      first.resign();
      first.resign(); // a second resign is a no-op
      Leadership again = election.campaign(s, "three");
      assertEquals("three", election.leader().value());
      assertTrue(again.token() > first.token());
      again.resign();
    }
  }

  @Test
  void anElectionNameTooLongForItsAnnouncementKeyIsRefusedAtOnce() {
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> client.election("e".repeat(250)));
    assertTrue(e.getMessage().contains("the limit is 249"), e.getMessage());
    client.election("e".repeat(249)); // fits
  }

  static void awaitLeaderValue(List<Leader> seen, String value) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while ((seen.isEmpty() || !seen.get(seen.size() - 1).value().equals(value)) && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(value, seen.get(seen.size() - 1).value(), "observers learn of " + value + ": " + seen);
  }
}
