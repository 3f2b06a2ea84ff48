package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.testing.ClusterExtension;
import io.holdfast.server.testing.ProcessCluster;
import io.holdfast.server.testing.TcpProxy;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the client does when the network fails it: loss detection, lost responses, races. */
class ClientFaultsClusterTest {
  @RegisterExtension
  static final ClusterExtension CLUSTER = new ClusterExtension(Map.of(), "direct");
  static ProcessCluster cluster;
  static HoldfastClient direct;

  @BeforeAll
  static void bind() {
    cluster = CLUSTER.cluster();
    direct = CLUSTER.client();
  }

  /**
   * A proxy in front of the leader only. A client given only this endpoint is never redirected
   * (a redirect names the leader's real address, which would bypass the proxy).
   */
  static TcpProxy leaderProxy() {
    String e = cluster.endpoint(cluster.awaitLeader(Duration.ofSeconds(30)));
    return new TcpProxy(Integer.parseInt(e.substring(e.lastIndexOf(':') + 1)));
  }

  /** A client that reaches the cluster through {@code proxy} only: no member sync, which would bypass it. */
  static HoldfastClient.Builder through(TcpProxy proxy) {
    return HoldfastClient.builder().endpoints(proxy.endpoint()).memberSync(Duration.ZERO);
  }

  @Test
  void aClientCutOffFromTheClusterKnowsItLostTheLockBeforeAnyoneElseGetsIt() throws Exception {
    TcpProxy proxy = leaderProxy();
    try (HoldfastClient cutOff = through(proxy).clientName("cut-off").build()) {
      Session s = cutOff.newSession(Duration.ofSeconds(3));
      AtomicLong expiredAtWallMs = new AtomicLong();
      s.addListener((session, state) -> {
        if (state == SessionState.EXPIRED) {
          expiredAtWallMs.compareAndSet(0, System.currentTimeMillis());
        }
      });
      LockLease lease = s.tryLock("loss/a").orElseThrow();
      Session other = direct.newSession(Duration.ofSeconds(10));
      CompletableFuture<LockLease> wait = other.lockAsync("loss/a");

      proxy.blackhole(true);
      LockLease taken = wait.get(20, TimeUnit.SECONDS);
      LockDescription d = direct.describeLock("loss/a");
      assertEquals(other.id(), d.holderSessionId());

      assertEquals(SessionState.EXPIRED, s.state());
      assertFalse(lease.isValid());
      assertTrue(s.onExpired().isDone());
      assertNotEquals(0, expiredAtWallMs.get());
      // Both clocks are this machine's: the client gave up before the leader stamped the grant.
      assertTrue(expiredAtWallMs.get() <= d.acquiredAt().toEpochMilli(), "client noticed at "
          + expiredAtWallMs.get() + ", lock granted to another session at " + d.acquiredAt().toEpochMilli());
      assertTrue(taken.token() > lease.token());
      taken.close();
      other.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aShortCutIsReportedAsSuspendedThenReconnectedAndLosesNothing() throws Exception {
    TcpProxy proxy = leaderProxy();
    try (HoldfastClient flaky = through(proxy).clientName("blip").build()) {
      Session s = flaky.newSession(Duration.ofSeconds(9));
      java.util.List<SessionState> states = new java.util.concurrent.CopyOnWriteArrayList<>();
      s.addListener((session, state) -> states.add(state));
      LockLease lease = s.tryLock("blip/a").orElseThrow();
      proxy.blackhole(true);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
      while (!states.contains(SessionState.SUSPENDED) && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      assertTrue(states.contains(SessionState.SUSPENDED), states.toString());
      assertTrue(lease.isValid(), "suspended is not lost: the lease stays valid until the local deadline");
      proxy.blackhole(false);
      end = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
      while (!states.contains(SessionState.RECONNECTED) && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      assertEquals(java.util.List.of(SessionState.SUSPENDED, SessionState.RECONNECTED), states);
      assertTrue(lease.isValid());
      assertEquals(s.id(), direct.describeLock("blip/a").holderSessionId());
      lease.close();
      s.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aLostResponseIsRetriedWithTheSameRequestIdAndActsOnce() throws Exception {
    TcpProxy proxy = leaderProxy();
    try (HoldfastClient flaky = through(proxy).clientName("flaky").build()) {
      Session s = flaky.newSession(Duration.ofSeconds(10));
      Session other = direct.newSession(Duration.ofSeconds(10));
      for (int round = 0; round < 5; round++) {
        String name = "retry/" + round;
        int before = proxy.connectionsAccepted();
        proxy.cutNextResponse();
        LockLease lease = s.tryLock(name).orElseThrow();
        assertFalse(proxy.cutPending(), "the response was cut");
        assertTrue(proxy.connectionsAccepted() > before, "so the client had to reconnect and retry");
        LockDescription d = direct.describeLock(name);
        assertEquals(s.id(), d.holderSessionId());
        assertEquals(lease.token(), d.token(), "the lease carries the token the server granted");
        assertTrue(other.tryLock(name).isEmpty(), "held exactly once");

        CompletableFuture<Optional<LockLease>> queued = other.lockAsync(name, Duration.ofSeconds(10));
        awaitWaiters(name, 1);
        proxy.cutNextResponse();
        lease.close();
        assertFalse(proxy.cutPending());
        LockLease next = queued.get(10, TimeUnit.SECONDS).orElseThrow();
        // The retried release must not have released the next holder's grant.
        assertEquals(other.id(), direct.describeLock(name).holderSessionId());
        assertTrue(next.isValid());
        next.close();
      }
      s.close();
      other.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aLeaderSlowerThanTheAckTimeoutStillKeepsTheSessionAlive() throws Exception {
    TcpProxy proxy = leaderProxy();
    try (HoldfastClient slow = through(proxy).clientName("slow-acks").build()) {
      // TTL 6 s: a keepalive every 2 s, an answer awaited 1 s before the client tries again.
      Session s = slow.newSession(Duration.ofSeconds(6));
      LockLease lease = s.tryLock("slow-acks/a").orElseThrow();
      // Every answer now takes 1.5 s, as from a leader whose commits take that long: each keepalive
      // is renewed and acknowledged, only after the client stopped waiting on that stream.
      proxy.delayResponses(Duration.ofMillis(1_500));
      Thread.sleep(15_000);
      assertNotEquals(SessionState.EXPIRED, s.state(), "late acknowledgements must still count");
      assertTrue(lease.isValid());
      assertEquals(s.id(), direct.describeLock("slow-acks/a").holderSessionId());
      proxy.delayResponses(Duration.ZERO);
      lease.close();
      s.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aSessionOpenedLateInItsTtlRenewsBeforeItsFirstIntervalIsUp() throws Exception {
    TcpProxy proxy = leaderProxy();
    try (HoldfastClient late = through(proxy).clientName("late-open")
        .callTimeout(Duration.ofSeconds(10)).build()) {
      late.describeLock("late-open/warm-up");
      // The open's answer takes 4 s. The client trusts a 6 s session for 5.4 s from the send, so
      // 1.4 s are left when the answer comes: less than the 2 s between keepalives.
      proxy.delayResponses(Duration.ofMillis(4_000));
      Session s = late.newSession(Duration.ofSeconds(6));
      proxy.delayResponses(Duration.ZERO);
      Thread.sleep(3_000);
      assertEquals(SessionState.CONNECTED, s.state(), "renewed within what was left, not a whole interval later");
      assertTrue(Duration.between(java.time.Instant.now(), s.validUntil()).toMillis() > 2_000,
          "and trusted anew from that renewal: " + s.validUntil());
      s.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aSessionWhoseOpenWasRetriedCountsItsTtlFromTheFirstAttempt() throws Exception {
    TcpProxy proxy = leaderProxy();
    // Retries after a cut connection wait 1-2 s: long enough to tell the first send from the last.
    try (HoldfastClient flaky = through(proxy).clientName("slow-open")
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofSeconds(2), Duration.ofSeconds(2),
            Duration.ofSeconds(30)))
        .build()) {
      flaky.describeLock("open-retry/warm-up"); // the connection is up: the cut hits the open's answer
      int connections = proxy.connectionsAccepted();
      proxy.cutNextResponse();
      java.time.Instant before = java.time.Instant.now();
      Session s = flaky.newSession(Duration.ofSeconds(10));
      assertFalse(proxy.cutPending(), "the open's answer was cut");
      assertTrue(proxy.connectionsAccepted() > connections, "so the open was retried");
      assertEquals(java.util.List.of(s.id()), direct.admin().sessions().stream()
          .filter(d -> d.clientName().equals("slow-open")).map(SessionDescription::id).toList(),
          "the retry opened nothing new");
      // The first attempt created the session; the retry got the cached answer 1-2 s later. The
      // local deadline must count from the first send: TTL less the 1 s margin, plus slack.
      Duration trusted = Duration.between(before, s.validUntil());
      assertTrue(trusted.compareTo(Duration.ofMillis(9_500)) <= 0, "the client trusts the session for " + trusted
          + " from before its first open attempt; the server counts 10 s from that attempt's apply");
      s.close();
    } finally {
      proxy.close();
    }
  }

  @Test
  void aWaitThatTimesOutAsTheGrantArrivesNeverLeavesTheLockHeld() throws Exception {
    Session a = direct.newSession(Duration.ofSeconds(10));
    Session b = direct.newSession(Duration.ofSeconds(10));
    int granted = 0;
    for (int i = 0; i < 12; i++) {
      String name = "race/" + i;
      LockLease held = a.tryLock(name).orElseThrow();
      long waitMs = 300;
      CompletableFuture<Optional<LockLease>> wait = b.lockAsync(name, Duration.ofMillis(waitMs));
      // Release right around the moment the wait runs out.
      Thread.sleep(waitMs - 60 + 10 * i);
      held.close();
      Optional<LockLease> got = wait.get(15, TimeUnit.SECONDS);
      Thread.sleep(100);
      LockDescription d = direct.describeLock(name);
      if (got.isPresent()) {
        granted++;
        assertEquals(b.id(), d.holderSessionId());
        assertEquals(got.get().token(), d.token());
        got.get().close();
      } else {
        assertFalse(d.held() && d.holderSessionId() == b.id(),
            "round " + i + ": the waiter gave up but its session holds the lock " + d);
      }
    }
    System.out.println("timeout/grant race: granted in " + granted + " of 12 rounds");
    a.close();
    b.close();
  }

  static void awaitWaiters(String lock, int n) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (direct.describeLock(lock).waitingSessionIds().size() < n) {
      assertNotNull(lock);
      if (System.nanoTime() > end) {
        throw new AssertionError("lock " + lock + " never had " + n + " waiters");
      }
      Thread.sleep(10);
    }
  }
}
