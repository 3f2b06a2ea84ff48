package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.proto.v1.AddMemberRequest;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.HoldfastServer;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.testing.ProcessCluster;
import io.holdfast.server.testing.RulesServerMain;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling upgrade with real processes: nodes play builds that know different apply rules. A
 * leader on the newer build keeps writing the rules its older fellow member knows (before, that
 * member stopped at the newer leader's first entry), raises them once the last member is
 * upgraded, and a member started again on the older build afterwards stops with a clear message
 * while the others carry on.
 */
class ApplyRulesUpgradeClusterTest {
  static final int OLD = LogEntry.NEGOTIATED_FROM;
  static final int NEW = LogEntry.NEGOTIATED_FROM + 1;

  @TempDir
  Path dir;

  @Test
  void aNewerLeaderWritesTheOldRulesUntilEveryMemberKnowsTheNewOnes() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(3, 1, dir, Map.of()).mainClass(RulesServerMain.class.getName())) {
      cluster.environment(0, rules(NEW)).environment(1, rules(NEW)).environment(2, rules(OLD)).start();
      int leader = cluster.awaitLeader(Duration.ofSeconds(30));
      if (leader == 2) {
        admin(cluster, 2).transferLeader(TransferLeaderRequest.newBuilder().setTo(ProcessCluster.nodeId(0))
            .setTimeoutMs(5_000).build());
        leader = cluster.awaitLeader(Duration.ofSeconds(30));
      }
      assertTrue(leader != 2, "a node on the newer build leads");
      assertEquals(NEW, cluster.status(leader).getApplyRulesSupported());

      // Entries for longer than two rounds of the leader's check, all under the old rules.
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * HoldfastServer.APPLY_RULES_CHECK_MS + 1_000);
      int opened = 0;
      while (System.nanoTime() < until) {
        open(cluster, leader);
        opened++;
        Thread.sleep(100);
      }
      assertTrue(opened > 10);
      for (int i = 0; i < 3; i++) {
        assertTrue(cluster.isRunning(i), ProcessCluster.nodeId(i) + " stopped:\n" + cluster.logTails());
      }
      awaitRules(cluster, OLD, 0, 1, 2);

      // The last member upgraded: the cluster moves to the new rules by itself.
      cluster.stop(2);
      cluster.environment(2, rules(NEW)).start(2);
      awaitRules(cluster, NEW, 0, 1, 2);
      leader = cluster.awaitLeader(Duration.ofSeconds(30));
      open(cluster, leader);
      boolean raised = false;
      for (int i = 0; i < 3; i++) {
        raised |= cluster.logContains(i, "raising the cluster's rules from " + OLD);
      }
      assertTrue(raised, cluster.logTails());

      // A new member on the older build is refused before it joins, with the reason.
      cluster.environment(3, rules(OLD)).startJoining(3);
      int lead = leader;
      StatusRuntimeException refused = null;
      long started = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < started) {
        refused = assertThrows(StatusRuntimeException.class, () -> admin(cluster, lead).addMember(
            AddMemberRequest.newBuilder().setId(ProcessCluster.nodeId(3)).setPeerAddress(cluster.peerAddress(3))
                .setClientAddress(cluster.endpoint(3)).build()));
        if (!String.valueOf(refused.getStatus().getDescription()).contains("does not accept connections")) {
          break;   // the new node is up (until then the leader cannot ask it anything)
        }
        Thread.sleep(300);
      }
      assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode(), refused.toString());
      assertTrue(refused.getStatus().getDescription().contains("knows apply rules up to " + OLD)
          && refused.getStatus().getDescription().contains("upgrade it before adding it"), refused.toString());
      assertEquals(3, cluster.status(leader).getMembersCount(), "nothing changed");
      cluster.stop(3);

      // The same node on the newer build is asked the same question before it is a member, and
      // joins (a Ratis request could not reach it before it was in the configuration).
      cluster.environment(3, rules(NEW)).startJoining(3);
      addWhenListening(cluster, lead, 3);
      assertEquals(4, cluster.status(leader).getMembersCount());
      awaitRules(cluster, NEW, 3);
      admin(cluster, lead).removeMember(RemoveMemberRequest.newBuilder().setId(ProcessCluster.nodeId(3)).build());
      assertEquals(3, cluster.status(leader).getMembersCount());
      cluster.stop(3);

      // A downgrade afterwards: that member stops at the raise (or its snapshot); the rest go on.
      cluster.stop(2);
      cluster.environment(2, rules(OLD)).start(2);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (cluster.isRunning(2) && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      assertTrue(cluster.exitCode(2).isPresent() && cluster.exitCode(2).getAsInt() != 0,
          "the downgraded member stops with an error\n" + cluster.logTails());
      assertTrue(cluster.logContains(2, "Upgrade this node's binary"), cluster.logTails());
      leader = cluster.awaitLeader(Duration.ofSeconds(30));
      assertTrue(open(cluster, leader) > 0, "the two upgraded members still commit");
      assertEquals(NEW, cluster.status(leader).getApplyRules());
    }
  }

  private static void addMember(ProcessCluster cluster, int leader, int node) {
    admin(cluster, leader).addMember(AddMemberRequest.newBuilder().setId(ProcessCluster.nodeId(node))
        .setPeerAddress(cluster.peerAddress(node)).setClientAddress(cluster.endpoint(node)).build());
  }

  /** Adds {@code node}, trying again while its peer port is not yet listening. */
  private static void addWhenListening(ProcessCluster cluster, int leader, int node) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        addMember(cluster, leader, node);
        return;
      } catch (StatusRuntimeException e) {
        if (!String.valueOf(e.getStatus().getDescription()).contains("does not accept connections")
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
      Thread.sleep(300);
    }
  }

  private static Map<String, String> rules(int rules) {
    return Map.of(RulesServerMain.RULES_ENV, Integer.toString(rules));
  }

  private static void awaitRules(ProcessCluster cluster, int rules, int... nodes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i : nodes) {
      ClusterStatusResponse s = null;
      while (System.nanoTime() < deadline) {
        try {
          s = cluster.status(i);
          if (s.getApplyRules() == rules) {
            break;
          }
        } catch (RuntimeException notYet) {
          s = null;
        }
        Thread.sleep(200);
      }
      assertTrue(s != null && s.getApplyRules() == rules, ProcessCluster.nodeId(i) + " writes "
          + (s == null ? "?" : s.getApplyRules()) + ", not " + rules + "\n" + cluster.logTails());
    }
  }

  private static AdminServiceGrpc.AdminServiceBlockingStub admin(ProcessCluster cluster, int i) {
    return AdminServiceGrpc.newBlockingStub(cluster.channel(i)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static long open(ProcessCluster cluster, int i) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(i)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setTtlMs(30_000)
            .setClient(ClientIdentity.newBuilder().setName("upgrade").setHost("localhost").setPid(1)).build())
        .getSessionId();
  }
}
