package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With a member down, the admin calls that would stall the cluster are refused with a reason: a
 * leadership transfer to the down member (a pending transfer holds every write, renewals
 * included) and the removal of a live member that would leave a configuration unable to commit.
 * The safe ones still go through.
 */
class MembershipGuardClusterTest {
  @TempDir
  Path dir;

  @Test
  void aMemberThatIsDownCanBeRemovedButNeitherLeadsNorLeavesTheOthersWithoutAQuorum() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(3, dir, Map.of()).start()) {
      int leader = cluster.awaitLeader(Duration.ofSeconds(60));
      int down = (leader + 1) % 3;
      int live = (leader + 2) % 3;
      cluster.kill(down);
      String downId = ProcessCluster.nodeId(down);
      String liveId = ProcessCluster.nodeId(live);

      // Until the leader notices (an election timeout), the transfer may still be tried: poll.
      StatusRuntimeException refused = null;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (refused == null && System.nanoTime() < until) {
        try {
          admin(cluster, leader).transferLeader(TransferLeaderRequest.newBuilder().setTo(downId)
              .setTimeoutMs(2_000).build());
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getDescription() != null && e.getStatus().getDescription().contains("has not answered")) {
            refused = e;
          }
        }
        Thread.sleep(200);
      }
      assertTrue(refused != null, "a transfer to the down member was never refused");
      assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
      assertTrue(refused.getStatus().getDescription().contains("leadership stays with"), refused.toString());
      assertTrue(open(cluster, leader) > 0, "the leader still takes writes");

      StatusRuntimeException stalls = assertThrows(StatusRuntimeException.class, () -> admin(cluster, leader)
          .removeMember(RemoveMemberRequest.newBuilder().setId(liveId).build()));
      assertEquals(Status.Code.FAILED_PRECONDITION, stalls.getStatus().getCode());
      assertTrue(stalls.getStatus().getDescription().contains("no write could commit"), stalls.toString());
      assertEquals(3, members(cluster, leader), "nothing changed");

      admin(cluster, leader).removeMember(RemoveMemberRequest.newBuilder().setId(downId).build());
      assertEquals(2, members(cluster, leader));
      assertTrue(open(cluster, leader) > 0);

      // Without a target, leadership goes to the member that answers.
      assertEquals(liveId, admin(cluster, leader).transferLeader(TransferLeaderRequest.newBuilder().build())
          .getLeaderId());

      // The removed member comes back (a reboot): it still finds itself in its own stored
      // configuration, is shut down by the others, and stops for good (exit 0, which systemd's
      // Restart=on-failure leaves stopped), saying why.
      cluster.start(down);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (cluster.isRunning(down) && System.nanoTime() < end) {
        Thread.sleep(200);
      }
      assertTrue(!cluster.isRunning(down), "the removed member stopped");
      assertEquals(0, cluster.exitCode(down).orElse(-1), cluster.logTails());
      assertTrue(cluster.logContains(down, "it was removed while it was down"), cluster.logTails());
      assertEquals(2, members(cluster, live));
    }
  }

  private static AdminServiceGrpc.AdminServiceBlockingStub admin(ProcessCluster cluster, int i) {
    return AdminServiceGrpc.newBlockingStub(cluster.channel(i)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static int members(ProcessCluster cluster, int i) {
    return admin(cluster, i).listMembers(ListMembersRequest.newBuilder().build()).getMembersCount();
  }

  /**
   * Opens a session on node {@code i}. A transfer tried before the leader noticed the member was
   * down (the poll above) holds writes until its 2 s timeout: "stepping down" is retried for 5 s.
   */
  private static long open(ProcessCluster cluster, int i) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      try {
        return openOnce(cluster, i);
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > until
            || !String.valueOf(e.getStatus().getDescription()).contains("stepping down")) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  private static long openOnce(ProcessCluster cluster, int i) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(i)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setTtlMs(30_000)
            .setClient(ClientIdentity.newBuilder().setName("guard").setHost("localhost").setPid(1)).build())
        .getSessionId();
  }
}
