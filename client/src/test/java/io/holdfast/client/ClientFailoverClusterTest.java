package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.testing.ProcessCluster;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The application's view of leader crashes and of a cluster that is entirely down. */
class ClientFailoverClusterTest {
  @TempDir
  Path dir;
  ProcessCluster cluster;
  HoldfastClient client;

  void start() {
    cluster = new ProcessCluster(3, dir).start();
    cluster.awaitLeader(Duration.ofSeconds(60));
    client = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("client-failover").build();
  }

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
  void killingTheLeaderDuringAcquiresAndWaitsShowsTheApplicationNoError() throws Exception {
    start();
    Session holder = client.newSession(Duration.ofSeconds(6));
    Session waiter = client.newSession(Duration.ofSeconds(6));
    LockLease held = holder.tryLock("cf/wait").orElseThrow();
    CompletableFuture<LockLease> waiting = waiter.lockAsync("cf/wait");

    // Acquires in flight while the leader dies: each returns a lease (the lock is free each time).
    List<CompletableFuture<LockLease>> inFlight = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      inFlight.add(holder.lockAsync("cf/acquire-" + i));
    }
    int leader = cluster.awaitLeader(Duration.ofSeconds(10));
    cluster.kill(leader);
    for (int i = 5; i < 10; i++) {
      inFlight.add(holder.lockAsync("cf/acquire-" + i));
    }
    for (int i = 0; i < inFlight.size(); i++) {
      LockLease lease = inFlight.get(i).get(30, TimeUnit.SECONDS);
      LockDescription d = client.describeLock("cf/acquire-" + i);
      assertEquals(holder.id(), d.holderSessionId(), "held exactly once, by its session");
      assertEquals(d.token(), lease.token(), "the lease carries the token the server granted");
    }

    held.close();
    LockLease got = waiting.get(30, TimeUnit.SECONDS);
    assertEquals(client.describeLock("cf/wait").token(), got.token());
    assertTrue(got.isValid() && holder.isValid() && waiter.isValid());
    got.close();
  }

  @Test
  void aPausedLeaderIsLeftBehindBySessionsAndWaiters() throws Exception {
    start();
    Session holder = client.newSession(Duration.ofSeconds(6));
    Session waiter = client.newSession(Duration.ofSeconds(6));
    List<SessionState> states = new java.util.concurrent.CopyOnWriteArrayList<>();
    holder.addListener((s, st) -> states.add(st));
    waiter.addListener((s, st) -> states.add(st));
    LockLease held = holder.tryLock("pause/a").orElseThrow();
    CompletableFuture<LockLease> waiting = waiter.lockAsync("pause/a");
    Thread.sleep(300);

    int leader = cluster.awaitLeader(Duration.ofSeconds(10));
    cluster.pause(leader); // SIGSTOP: its TCP connections stay open, nothing answers
    try {
      int next = awaitLeaderOtherThan(leader);
      // Keepalives found the new leader in time: nobody's session was lost.
      Thread.sleep(7_000);
      assertTrue(holder.isValid() && waiter.isValid(), "states seen: " + states);
      assertTrue(!states.contains(SessionState.EXPIRED), states.toString());
      assertEquals(holder.id(), client.describeLock("pause/a").holderSessionId());

      held.close();
      LockLease got = waiting.get(40, TimeUnit.SECONDS);
      assertEquals(got.token(), client.describeLock("pause/a").token());
      assertEquals(waiter.id(), client.describeLock("pause/a").holderSessionId());
      got.close();
      assertTrue(next != leader);
    } finally {
      cluster.resume(leader);
    }
  }

  int awaitLeaderOtherThan(int old) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < end) {
      for (int i = 0; i < 3; i++) {
        var st = i == old ? null : cluster.status(i);
        if (st != null && st.getRole().equals("LEADER")) {
          return i;
        }
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no new leader while node " + old + " was paused\n" + cluster.logTails());
  }

  @Test
  void withEveryServerDownTheClientBacksOffInsteadOfSpinning() throws Exception {
    start();
    Session s = client.newSession(Duration.ofSeconds(30));
    for (int i = 0; i < 3; i++) {
      cluster.kill(i);
    }
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    Thread.sleep(500);
    long cpu0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    List<CompletableFuture<?>> calls = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      calls.add(s.tryLockAsync("down/" + i));
    }
    Thread.sleep(4_000);
    double cpuShare = (double) (os.getProcessCpuTime() - cpu0) / (System.nanoTime() - t0);
    System.out.printf("client CPU while the cluster was down: %.1f%% of one core%n", 100 * cpuShare);
    assertTrue(cpuShare < 0.25, "the client used " + (100 * cpuShare) + "% of a core retrying");
    for (CompletableFuture<?> c : calls) {
      assertTrue(!c.isDone() || c.isCompletedExceptionally(), "no call can have succeeded");
    }
  }
}
