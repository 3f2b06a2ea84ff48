package io.holdfast.client.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.holdfast.client.ClusterUnavailableException;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.HoldfastException;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.client.SessionDescription;
import io.holdfast.client.TlsConfig;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.server.testing.ProcessCluster;
import io.holdfast.server.testing.TestPki;
import io.holdfast.server.testing.TestPki.Pem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS on the client port and on Raft peer traffic, on real clusters with certificates made
 * at test time: who can connect, who the cluster says they are, a CA rotated without a restart,
 * and a node whose peer certificate comes from the wrong CA kept out of the quorum.
 */
class SecureClusterTest {
  @TempDir
  static Path dir;
  static TestPki pki;
  static Pem clientCa;
  static Pem peerCa;
  static Pem otherCa;
  static Pem serverCert;
  static Pem peerCert;
  static Pem alice;
  static Pem stranger;
  static Path clientCaBundle;
  static ProcessCluster cluster;

  @BeforeAll
  static void start() throws IOException {
    pki = new TestPki(dir.resolve("pki"));
    clientCa = pki.newCa("clients");
    peerCa = pki.newCa("peers");
    otherCa = pki.newCa("other");
    serverCert = pki.issue(clientCa, "holdfast-server");
    peerCert = pki.issue(peerCa, "holdfast-peer");
    alice = pki.issue(clientCa, "alice");
    stranger = pki.issue(otherCa, "alice");
    // The client port trusts this bundle; the reload test appends another CA to it.
    clientCaBundle = dir.resolve("pki/client-trust.pem");
    Files.copy(clientCa.cert(), clientCaBundle);
    cluster = new ProcessCluster(3, dir.resolve("mtls"), secureSettings(clientCaBundle, peerCert, peerCa))
        .channelFactory(target -> channel(target, clientCa, alice));
    cluster.start();
    cluster.awaitLeader(Duration.ofSeconds(90));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static Map<String, String> secureSettings(Path clientTrust, Pem peer, Pem peerTrust) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("client-tls", "mtls");
    s.put("client-tls-cert", serverCert.cert().toString());
    s.put("client-tls-key", serverCert.key().toString());
    s.put("client-tls-ca", clientTrust.toString());
    s.put("peer-tls", "mtls");
    s.put("peer-tls-cert", peer.cert().toString());
    s.put("peer-tls-key", peer.key().toString());
    s.put("peer-tls-ca", peerTrust.cert().toString());
    s.put("tls-reload-interval-ms", "500");
    // Peer TLS handshakes on a busy machine: give elections room.
    s.put("election-timeout-min-ms", "1000");
    s.put("election-timeout-max-ms", "2000");
    s.put("session-ttl-min-ms", "4000");
    s.put("checkpoint-interval-ms", "1000");
    return s;
  }

  static ManagedChannel channel(String target, Pem ca, Pem cert) {
    try {
      return NettyChannelBuilder.forTarget(target, TlsChannelCredentials.newBuilder().trustManager(ca.cert().toFile())
          .keyManager(cert.cert().toFile(), cert.key().toFile()).build()).build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static HoldfastClient client(List<String> endpoints, TlsConfig tls) {
    HoldfastClient.Builder b = HoldfastClient.builder().endpoints(endpoints).clientName("declared-as-bob")
        .callTimeout(Duration.ofSeconds(3))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofMillis(500),
            Duration.ofSeconds(4)));
    if (tls != null) {
      b.tls(tls);
    }
    return b.build();
  }

  @Test
  void aClientWithACertificateFromTheClusterCaIsServedAndKnownByItsCertificateName() throws Exception {
    try (HoldfastClient c = client(cluster.endpoints(), TlsConfig.fromPem(clientCa.cert(), alice.cert(), alice.key()));
         Session s = c.newSession(Duration.ofSeconds(10));
         LockLease lease = s.tryLock("secure/a").orElseThrow()) {
      assertTrue(lease.token() > 0);
      SessionDescription mine = c.admin().sessions().stream().filter(d -> d.id() == s.id()).findFirst().orElseThrow();
      assertEquals("alice", mine.identity(), "the identity comes from the certificate's CN");
      assertEquals("declared-as-bob", mine.clientName(), "the declared name is shown beside it, not instead");
      assertEquals("alice", c.describeLock("secure/a").holderIdentity());
    }
  }

  @Test
  void clientsWithoutACertificateWithOneFromAnotherCaOrInPlaintextCannotConnect() {
    long before = sessionCount();
    List<TlsConfig> refused = List.of(
        TlsConfig.trusting(clientCa.cert()),
        TlsConfig.fromPem(clientCa.cert(), stranger.cert(), stranger.key()));
    for (TlsConfig tls : refused) {
      try (HoldfastClient c = client(cluster.endpoints(), tls)) {
        HoldfastException e = assertThrows(HoldfastException.class, () -> c.newSession(Duration.ofSeconds(10)),
            "client cert " + tls.cert());
        assertTrue(e instanceof ClusterUnavailableException, "the handshake fails, so no node answers: " + e);
      }
    }
    try (HoldfastClient c = client(cluster.endpoints(), null)) {
      assertThrows(ClusterUnavailableException.class, () -> c.newSession(Duration.ofSeconds(10)));
    }
    assertEquals(before, sessionCount(), "no refused client opened a session");
  }

  @Test
  void aNewClientCaIsTrustedWithoutARestartOnceItsFileChanges() throws Exception {
    Pem newCa = pki.newCa("rotated");
    Pem carol = pki.issue(newCa, "carol");
    TlsConfig carolTls = TlsConfig.fromPem(clientCa.cert(), carol.cert(), carol.key());
    try (HoldfastClient c = client(cluster.endpoints(), carolTls)) {
      assertThrows(ClusterUnavailableException.class, () -> c.newSession(Duration.ofSeconds(10)));
    }
    long[] pids = {cluster.pid(0), cluster.pid(1), cluster.pid(2)};
    // Rotate the way an operator would: write the new bundle beside the old one, then rename over it.
    Path next = dir.resolve("pki/client-trust.pem.new");
    Files.writeString(next, Files.readString(clientCa.cert()) + Files.readString(newCa.cert()));
    Files.move(next, clientCaBundle, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      try (HoldfastClient c = client(cluster.endpoints(), carolTls); Session s = c.newSession(Duration.ofSeconds(10))) {
        assertEquals("carol", c.admin().sessions().stream().filter(d -> d.id() == s.id()).findFirst().orElseThrow()
            .identity());
        break;
      } catch (ClusterUnavailableException e) {
        if (System.nanoTime() > deadline) {
          fail("the rotated CA was not picked up within 30 s: " + e);
        }
      }
    }
    for (int i = 0; i < 3; i++) {
      assertEquals(pids[i], cluster.pid(i), "no node was restarted");
    }
  }

  /**
   * A certificate is checked only at the handshake: with client-cert-connection-max-age-ms the
   * server asks every client to reconnect, so a certificate whose CA was withdrawn stops working,
   * and the clients whose certificates stand carry on across the reconnections.
   */
  @Test
  void aCertificateWhoseCaWasWithdrawnStopsWorkingOnceItsConnectionAges() throws Exception {
    Pem withdrawnCa = pki.newCa("withdrawn");
    Pem dave = pki.issue(withdrawnCa, "dave");
    Path bundle = dir.resolve("pki/aging-trust.pem");
    Files.writeString(bundle, Files.readString(clientCa.cert()) + Files.readString(withdrawnCa.cert()));
    Map<String, String> settings = secureSettings(bundle, peerCert, peerCa);
    settings.put("client-cert-connection-max-age-ms", "10000");
    try (ProcessCluster c = new ProcessCluster(1, dir.resolve("aging"), settings)
        .channelFactory(target -> channel(target, clientCa, alice)).start()) {
      c.awaitLeader(Duration.ofSeconds(60));
      HoldfastClient daves = client(c.endpoints(), TlsConfig.fromPem(clientCa.cert(), dave.cert(), dave.key()));
      try (HoldfastClient alices = client(c.endpoints(), TlsConfig.fromPem(clientCa.cert(), alice.cert(), alice.key()));
           Session aliceSession = alices.newSession(Duration.ofSeconds(10))) {
        LockLease aliceLease = aliceSession.tryLock("aging/alice").orElseThrow();
        Session daveSession = daves.newSession(Duration.ofSeconds(5));
        daveSession.tryLock("aging/dave").orElseThrow();
        assertEquals("dave", alices.describeLock("aging/dave").holderIdentity());

        Path next = dir.resolve("pki/aging-trust.pem.new");
        Files.copy(clientCa.cert(), next);
        Files.move(next, bundle, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (alices.describeLock("aging/dave").state() == LockDescription.State.HELD) {
          assertTrue(System.nanoTime() < deadline, "60 s after its CA was withdrawn, dave's connection still "
              + "renews his session and keeps his lock");
          Thread.sleep(500);
        }
        LockDescription mine = alices.describeLock("aging/alice");
        assertEquals(aliceSession.id(), mine.holderSessionId(), "alice's session lived through her reconnections");
        assertEquals(aliceLease.token(), mine.token());
        assertTrue(aliceLease.isValid());
      } finally {
        try {
          daves.close();
        } catch (RuntimeException cannotReachAnyMore) {
          // dave's certificate is no longer trusted: his client cannot close its session
        }
      }
    }
  }

  private static long sessionCount() {
    try (HoldfastClient c = client(cluster.endpoints(), TlsConfig.fromPem(clientCa.cert(), alice.cert(),
        alice.key()))) {
      return c.admin().sessions().size();
    }
  }

  /**
   * n3's peer certificate and trust come from another CA. n1 and n2 elect and commit without it; n3
   * never hears from the leader nor applies an entry. Restarted with a certificate from the peer CA
   * (same data dir, cluster running), it joins and catches up: the CA was the only difference.
   */
  @Test
  void aNodeWhosePeerCertificateComesFromAnotherCaCannotJoin() throws Exception {
    Pem wrongPeer = pki.issue(otherCa, "intruder-peer");
    try (ProcessCluster c = new ProcessCluster(3, dir.resolve("wrong-ca"), secureSettings(clientCaBundle, peerCert,
        peerCa))) {
      c.channelFactory(target -> channel(target, clientCa, alice));
      c.nodeSettings(2, Map.of("peer-tls-cert", wrongPeer.cert().toString(), "peer-tls-key",
          wrongPeer.key().toString(), "peer-tls-ca", otherCa.cert().toString()));
      c.start();
      int leader = awaitLeaderAmong(c, List.of(0, 1), Duration.ofSeconds(90));
      try (HoldfastClient hc = client(List.of(c.endpoint(0), c.endpoint(1)),
          TlsConfig.fromPem(clientCa.cert(), alice.cert(), alice.key()))) {
        for (int i = 0; i < 5; i++) {
          hc.kv().put("wrong-ca/k" + i, new byte[] {(byte) i});
        }
      }
      long committed = c.status(leader).getAppliedIndex();
      Thread.sleep(3_000);
      ClusterStatusResponse outsider = statusWithin(c, 2, Duration.ofSeconds(20));
      assertTrue(outsider.getAppliedIndex() <= 0, "n3 applied " + outsider.getAppliedIndex() + ", not one of the "
          + committed + " committed entries");
      assertEquals("", outsider.getLeaderId(), "n3 never heard from the leader");
      assertNotEquals("LEADER", outsider.getRole());
      assertTrue(c.logContains(leader, "->n3"), "the leader logs that it cannot reach n3");

      c.stop(2);
      c.nodeSettings(2, Map.of("peer-tls-cert", peerCert.cert().toString(), "peer-tls-key",
          peerCert.key().toString(), "peer-tls-ca", peerCa.cert().toString()));
      c.start(2);
      long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (true) {
        ClusterStatusResponse s = c.status(2);
        if (s != null && s.getAppliedIndex() >= committed && s.getLeaderId().equals(ProcessCluster.nodeId(leader))) {
          break;
        }
        assertTrue(System.nanoTime() < end, "n3 did not catch up with the right certificate\n" + electionLines(c));
        Thread.sleep(250);
      }
    }
  }

  private static ClusterStatusResponse statusWithin(ProcessCluster c, int i, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    ClusterStatusResponse s;
    while ((s = c.status(i)) == null) {
      assertTrue(System.nanoTime() < end, "node " + ProcessCluster.nodeId(i) + " does not answer on its client port\n"
          + electionLines(c));
      Thread.sleep(200);
    }
    return s;
  }

  /** The election-related lines of every node's log, for a failure message. */
  private static String electionLines(ProcessCluster c) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < c.size(); i++) {
      b.append("---- ").append(ProcessCluster.nodeId(i)).append('\n');
      try {
        List<String> lines = Files.exists(c.log(i)) ? Files.readAllLines(c.log(i)) : List.of();
        List<String> picked = lines.stream()
            .filter(l -> l.matches(".*(?i)(elect|vote|leader|changeTo|exception|started on|stopping).*")).toList();
        picked.subList(Math.max(0, picked.size() - 40), picked.size())
            .forEach(l -> b.append(l.length() > 300 ? l.substring(0, 300) : l).append('\n'));
      } catch (IOException e) {
        b.append(e);
      }
      b.append('\n');
    }
    return b.toString();
  }

  private static int awaitLeaderAmong(ProcessCluster c, List<Integer> nodes, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      String agreed = null;
      boolean all = true;
      int leader = -1;
      for (int i : nodes) {
        ClusterStatusResponse s = c.status(i);
        if (s == null || s.getLeaderId().isEmpty() || (agreed != null && !agreed.equals(s.getLeaderId()))) {
          all = false;
          break;
        }
        agreed = s.getLeaderId();
        if (s.getRole().equals("LEADER")) {
          leader = i;
        }
      }
      if (all && leader >= 0) {
        return leader;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("no leader among " + nodes + " within " + timeout + "\n" + electionLines(c));
  }
}
