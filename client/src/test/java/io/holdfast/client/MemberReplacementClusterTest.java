package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.AddMemberRequest;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-running client outlives the members it was configured with: every one of them is
 * replaced (added new, removed old) while it holds a lock, and it must still find the cluster,
 * also after the leader it last talked to dies.
 */
class MemberReplacementClusterTest {
  @TempDir
  Path dir;
  ProcessCluster cluster;

  @Test
  void aClientConfiguredWithMembersThatAreAllGoneStillFindsTheCluster() throws Exception {
    try (ProcessCluster c = new ProcessCluster(3, 3, dir, Map.of()).start();
        // A short sync interval, so that the test does not depend on when the default 30 s falls.
        HoldfastClient client = HoldfastClient.builder().endpoints(c.endpoints()).clientName("replaced")
            .memberSync(Duration.ofSeconds(1)).build()) {
      cluster = c;
      cluster.awaitLeader(Duration.ofSeconds(60));
      Session session = client.newSession(Duration.ofSeconds(4));
      LockLease lease = session.tryLock("replace/a").orElseThrow();

      for (int k = 0; k < 3; k++) {
        int spare = 3 + k;
        int leader = cluster.awaitLeader(Duration.ofSeconds(30)); // before the joining node runs: it names no leader
        cluster.startJoining(spare);
        addMember(leader, spare);
        leader = cluster.awaitLeader(Duration.ofSeconds(30));
        if (leader == k) {
          admin(leader).transferLeader(TransferLeaderRequest.newBuilder().setTo(ProcessCluster.nodeId(spare))
              .setTimeoutMs(5_000).build());
          leader = cluster.awaitLeader(Duration.ofSeconds(30));
        }
        removeMember(leader, k);
        awaitExit(k);
      }
      assertEquals(List.of(), List.of(0, 1, 2).stream().filter(cluster::isRunning).toList());

      // The client reaches the new members only through what the cluster told it.
      assertEquals(session.id(), client.describeLock("replace/a").holderSessionId());
      int leader = cluster.awaitLeader(Duration.ofSeconds(30));
      cluster.kill(leader);
      cluster.awaitLeader(Duration.ofSeconds(30));
      LockLease other = session.lock("replace/b", Duration.ofSeconds(20)).orElseThrow();
      assertTrue(other.token() > lease.token());
      assertTrue(session.isValid(), "the session outlived the replacement and a leader crash");
      assertEquals(lease.token(), client.describeLock("replace/a").token());
    }
  }

  private AdminServiceGrpc.AdminServiceBlockingStub admin(int node) {
    return AdminServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** The new node's peer port opens a moment after its JVM starts: retry the add until then. */
  private void addMember(int leader, int spare) throws InterruptedException {
    AddMemberRequest req = AddMemberRequest.newBuilder().setId(ProcessCluster.nodeId(spare))
        .setPeerAddress(cluster.peerAddress(spare)).setClientAddress(cluster.endpoint(spare)).build();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        admin(leader).addMember(req);
        return;
      } catch (io.grpc.StatusRuntimeException e) {
        if (System.nanoTime() > end || !e.getMessage().contains("does not accept connections")) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  private void awaitExit(int node) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cluster.isRunning(node)) {
      assertTrue(System.nanoTime() < end, ProcessCluster.nodeId(node) + " did not stop after its removal");
      Thread.sleep(100);
    }
    assertEquals(0, cluster.exitCode(node).orElseThrow(), "a removed node exits 0");
  }

  /**
   * Removes member {@code k} through {@code leader}, waiting while a leader just elected (or handed
   * the lead) has not yet applied its term's first entry: it refuses changes, unlogged, until then.
   */
  private void removeMember(int leader, int k) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      try {
        admin(leader).removeMember(RemoveMemberRequest.newBuilder().setId(ProcessCluster.nodeId(k)).build());
        return;
      } catch (io.grpc.StatusRuntimeException e) {
        String why = String.valueOf(e.getStatus().getDescription());
        if (!why.contains("no leader is ready yet") || System.nanoTime() > end) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }
}
