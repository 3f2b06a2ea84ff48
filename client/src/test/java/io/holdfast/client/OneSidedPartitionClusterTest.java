package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.testing.ProcessCluster;
import io.holdfast.server.testing.TcpProxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A client that reaches the followers but not the leader (a one-sided partition). Every node is
 * known to clients by a proxy in front of it (advertised in {@code peers}, so leader hints name
 * the proxies too), and the test cuts only the leader's proxy: the nodes still talk to each other
 * directly.
 */
class OneSidedPartitionClusterTest {
  static Path dir;
  static ProcessCluster cluster;
  static final List<TcpProxy> proxies = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("holdfast-relay");
    cluster = new ProcessCluster(3, dir, Map.of());
    for (int i = 0; i < 3; i++) {
      String real = cluster.endpoint(i);
      TcpProxy p = new TcpProxy(Integer.parseInt(real.substring(real.lastIndexOf(':') + 1)));
      proxies.add(p);
      cluster.advertise(i, p.endpoint());
    }
    cluster.start();
    cluster.awaitLeader(Duration.ofSeconds(60));
  }

  @AfterAll
  static void stop() throws Exception {
    proxies.forEach(TcpProxy::close);
    if (cluster != null) {
      cluster.close();
    }
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void aClientCutOffFromTheLeaderAloneKeepsItsSessionAndLockThroughAFollower() throws Exception {
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    List<String> endpoints = new ArrayList<>();
    endpoints.add(proxies.get(leader).endpoint());   // first, so that the session starts on the leader
    for (int i = 0; i < 3; i++) {
      if (i != leader) {
        endpoints.add(proxies.get(i).endpoint());
      }
    }
    Duration ttl = Duration.ofSeconds(3);
    // The leader's real address only: every member list and leader hint names the proxies.
    try (HoldfastClient direct = HoldfastClient.builder().endpoints(cluster.endpoint(leader)).memberSync(Duration.ZERO)
        .clientName("observer").build();
        HoldfastClient cut = HoldfastClient.builder().endpoints(endpoints).memberSync(Duration.ZERO)
        .clientName("one-sided").build()) {
      Session s = cut.newSession(ttl);
      List<SessionState> states = new CopyOnWriteArrayList<>();
      s.addListener((session, state) -> states.add(state));
      LockLease lease = s.tryLock("relay/a").orElseThrow();

      proxies.get(leader).blackhole(true);
      // Four TTLs: without relaying the session would have expired three times over.
      Thread.sleep(4 * ttl.toMillis());

      assertFalse(states.contains(SessionState.EXPIRED), "states: " + states);
      assertTrue(lease.isValid(), "the lease is still valid on the client");
      assertEquals(leader, cluster.awaitLeader(Duration.ofSeconds(5)), "no election was needed");
      LockDescription d = direct.describeLock("relay/a");
      assertEquals(s.id(), d.holderSessionId(), "the cluster still has the lock with the cut-off session");
      assertEquals(lease.token(), d.token());
      try (Session rival = direct.newSession(Duration.ofSeconds(10))) {
        assertTrue(rival.tryLock("relay/a").isEmpty(), "nobody else can take it");
      }
      assertTrue(relayedByFollowers(leader) > 0, "the followers relayed the keepalives");
      assertTrue(metric(leader, "holdfast_keepalives_relayed_by_followers") > 0);

      // Once the leader is in reach again, the session goes back to it (a probe every ~3 TTLs):
      // the followers stop relaying, and nothing was lost on the way.
      proxies.get(leader).blackhole(false);
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(40);
      long before = relayedByFollowers(leader);
      boolean backOnLeader = false;
      while (!backOnLeader && System.nanoTime() < deadline) {
        Thread.sleep(3_000);   // three keepalive intervals
        long now = relayedByFollowers(leader);
        backOnLeader = now == before;
        before = now;
      }
      assertTrue(backOnLeader, "the session's keepalives still go through a follower 40 s after the cut healed");
      // One blip when the leader went silent; the probes while it was out of reach showed nothing.
      assertEquals(List.of(SessionState.SUSPENDED, SessionState.RECONNECTED), states);
      assertTrue(lease.isValid());
      lease.close();
      assertEquals(0, direct.describeLock("relay/a").holderSessionId(), "released cleanly");
      s.close();
    } finally {
      proxies.get(leader).blackhole(false);
    }
  }

  @Test
  void aClientCutOffFromTheLeaderAloneStillOpensTakesHandsOnAndWritesThroughAFollower() throws Exception {
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    List<String> endpoints = new ArrayList<>();
    endpoints.add(proxies.get(leader).endpoint());
    for (int i = 0; i < 3; i++) {
      if (i != leader) {
        endpoints.add(proxies.get(i).endpoint());
      }
    }
    try (HoldfastClient direct = HoldfastClient.builder().endpoints(cluster.endpoint(leader)).memberSync(Duration.ZERO)
        .clientName("observer").build();
        HoldfastClient cut = HoldfastClient.builder().endpoints(endpoints).memberSync(Duration.ZERO)
        .callTimeout(Duration.ofSeconds(2)).clientName("one-sided").build()) {
      Session early = cut.newSession(Duration.ofSeconds(10));
      proxies.get(leader).blackhole(true);
      long forwardedBefore = forwardedByFollowers(leader);

      // A session opened, a lock taken, a waiter queued and handed the lock, a key written and
      // deleted: every write goes through a follower, and nothing needs an election.
      Session a = cut.newSession(Duration.ofSeconds(10));
      LockLease first = a.tryLock("relay/w").orElseThrow();
      assertEquals(a.id(), direct.describeLock("relay/w").holderSessionId());
      java.util.concurrent.CompletableFuture<java.util.Optional<LockLease>> waiting =
          early.lockAsync("relay/w", Duration.ofSeconds(30));
      long queuedBy = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
      while (direct.describeLock("relay/w").waiters().isEmpty() && System.nanoTime() < queuedBy) {
        Thread.sleep(50);
      }
      assertEquals(1, direct.describeLock("relay/w").waiters().size(), "the waiter is queued on the leader");
      assertTrue(a.tryLock("relay/other").isPresent());
      first.close();
      LockLease second = waiting.get(30, java.util.concurrent.TimeUnit.SECONDS).orElseThrow();
      assertTrue(second.token() > first.token(), second.token() + " after " + first.token());
      assertEquals(early.id(), direct.describeLock("relay/w").holderSessionId());

      long revision = cut.kv().put("relay/config", "threads=8".getBytes());
      assertEquals("threads=8", new String(direct.kv().get("relay/config").orElseThrow().value()));
      assertTrue(cut.kv().delete("relay/config"));
      assertTrue(direct.kv().get("relay/config").isEmpty());
      assertTrue(revision > 0);
      second.close();
      a.close();

      assertEquals(leader, cluster.awaitLeader(Duration.ofSeconds(5)), "no election was needed");
      assertTrue(forwardedByFollowers(leader) - forwardedBefore >= 8,
          "the followers passed the writes on: " + (forwardedByFollowers(leader) - forwardedBefore));
      assertTrue(early.isValid());
      proxies.get(leader).blackhole(false);
      early.close();
    } finally {
      proxies.get(leader).blackhole(false);
    }
  }

  static long forwardedByFollowers(int leader) throws Exception {
    return sumOnFollowers(leader, "holdfast_commands_forwarded_to_leader");
  }

  static long relayedByFollowers(int leader) throws Exception {
    return sumOnFollowers(leader, "holdfast_keepalives_relayed_to_leader");
  }

  static long sumOnFollowers(int leader, String counter) throws Exception {
    long sum = 0;
    for (int i = 0; i < 3; i++) {
      if (i != leader) {
        sum += metric(i, counter);
      }
    }
    return sum;
  }

  /** A counter from node {@code i}'s /metrics (Prometheus text). */
  static long metric(int i, String name) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(cluster.adminUrl(i) + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    for (String line : r.body().split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "_total ")) {
        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError(name + " not in node " + i + "'s /metrics");
  }
}
