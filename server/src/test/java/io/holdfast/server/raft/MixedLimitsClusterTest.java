package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.ListSessionsRequest;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.api.ForwardRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Members whose limits differ, as while a limit is changed one node at a time: the leader's limits
 * hold for every write, whichever member the client called, and no member stops over an entry that
 * another member's config allowed.
 */
class MixedLimitsClusterTest {
  static final int MIB = 1 << 20;

  @TempDir
  Path dir;

  @Test
  void theLeadersLimitsHoldForWritesPassedOnAndNoMemberStopsOverALargerConfigsEntry() throws Exception {
    // n0 and n1: 1 MiB values (the default), a 3 MiB store, 2 sessions. n2: 16 MiB values, no store
    // or session limit.
    try (ProcessCluster cluster = new ProcessCluster(3, dir, Map.of("max-kv-bytes", Integer.toString(3 * MIB),
        "max-sessions", "2"))
        .nodeSettings(2, Map.of("max-value-bytes", Integer.toString(16 * MIB), "max-kv-bytes", "0",
            "max-request-bytes", Integer.toString(17 * MIB), "max-sessions", "0"))
        .start()) {
      int leader = lead(cluster, 0);
      long term = cluster.status(leader).getTerm();

      // Passed on by n2, whose own limits allow them, to a leader whose limits do not.
      StatusRuntimeException tooLargeAValue = assertThrows(StatusRuntimeException.class,
          () -> forwardedKv(cluster, 2).put(put("big/a", 2 * MIB)));
      assertEquals(Status.Code.INVALID_ARGUMENT, tooLargeAValue.getStatus().getCode(), tooLargeAValue.toString());
      assertTrue(tooLargeAValue.getStatus().getDescription().contains("max-value-bytes"), tooLargeAValue.toString());
      StatusRuntimeException tooLargeAnEntry = assertThrows(StatusRuntimeException.class,
          () -> forwardedKv(cluster, 2).put(put("big/b", 6 * MIB)));
      // As the leader answers an entry over its limit when asked directly: a limit, not a bad request.
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, tooLargeAnEntry.getStatus().getCode(), tooLargeAnEntry.toString());
      assertTrue(tooLargeAnEntry.getStatus().getDescription().contains("log entry of"), tooLargeAnEntry.toString());
      for (int i = 0; i < 3; i++) {
        assertTrue(cluster.isRunning(i), ProcessCluster.nodeId(i) + " stopped:\n" + cluster.logTails());
      }
      assertEquals(term, cluster.status(leader).getTerm(), "a refused write cost the leader its term");

      // The leader's store limit (3 MiB), not n2's (none), holds for puts n2 passes on.
      for (int i = 0; i < 3; i++) {
        forwardedKv(cluster, 2).put(put("store/" + i, 900 * 1024));
      }
      StatusRuntimeException full = assertThrows(StatusRuntimeException.class,
          () -> forwardedKv(cluster, 2).put(put("store/3", 900 * 1024)));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode(), full.toString());

      // The leader's session limit (2), not n2's (none), holds for opens n2 passes on.
      forwardedSessions(cluster, 2).openSession(open());
      forwardedSessions(cluster, 2).openSession(open());
      StatusRuntimeException third = assertThrows(StatusRuntimeException.class,
          () -> forwardedSessions(cluster, 2).openSession(open()));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getStatus().getCode(), third.toString());
      assertTrue(third.getStatus().getDescription().contains("max-sessions"), third.toString());
      assertEquals(2, LockServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(20, TimeUnit.SECONDS)
          .listSessions(ListSessionsRequest.getDefaultInstance()).getSessionsCount(), "the refused open was not logged");

      // n2 leads: a value its limits allow makes an entry larger than the others' own limits. n0's
      // log takes it, reads it back after a restart, and as leader sends it to n1, which missed it.
      leader = lead(cluster, 2);
      cluster.stop(1);
      long revision = retried(() -> kv(cluster, 2).put(put("big/c", 9 * MIB))).getRevision();
      awaitApplied(cluster, 0, revision);
      cluster.kill(0);
      cluster.start(0);
      awaitApplied(cluster, 0, revision);
      lead(cluster, 0);
      cluster.start(1);
      awaitApplied(cluster, 1, revision);
      for (int i = 0; i < 3; i++) {
        assertTrue(cluster.isRunning(i), ProcessCluster.nodeId(i) + " stopped:\n" + cluster.logTails());
      }
    }
  }

  private static void awaitApplied(ProcessCluster cluster, int node, long revision) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      assertTrue(cluster.isRunning(node), ProcessCluster.nodeId(node) + " stopped over a 9 MiB entry:\n"
          + cluster.logTails());
      ClusterStatusResponse s = cluster.status(node);
      if (s != null && s.getAppliedIndex() >= revision) {
        return;
      }
      assertTrue(System.nanoTime() < end, ProcessCluster.nodeId(node) + " did not apply the 9 MiB put:\n"
          + cluster.logTails());
      Thread.sleep(100);
    }
  }

  /** Makes node {@code want} the leader, and waits until it takes writes. */
  private static int lead(ProcessCluster cluster, int want) throws Exception {
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    if (leader != want) {
      int from = leader;
      retried(() -> AdminServiceGrpc.newBlockingStub(cluster.channel(from)).withDeadlineAfter(20, TimeUnit.SECONDS)
          .transferLeader(TransferLeaderRequest.newBuilder().setTo(ProcessCluster.nodeId(want)).setTimeoutMs(5_000)
              .build()));
      leader = cluster.awaitLeader(Duration.ofSeconds(60));
    }
    assertEquals(want, leader);
    retried(() -> kv(cluster, want).put(put("ready", 1)));
    return leader;
  }

  /** Retries while the node has no ready leader yet (an election just ended). */
  private static <T> T retried(Callable<T> call) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        return call.call();
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > end) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  private static PutRequest put(String key, int bytes) {
    return PutRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setKey(key)
        .setValue(ByteString.copyFrom(new byte[bytes])).build();
  }

  private static KvServiceGrpc.KvServiceBlockingStub kv(ProcessCluster cluster, int node) {
    return KvServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  /** Calls that ask a follower to pass them on to the leader, as a client cut off from it does. */
  private static KvServiceGrpc.KvServiceBlockingStub forwardedKv(ProcessCluster cluster, int node) {
    return kv(cluster, node).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwarding()));
  }

  private static SessionServiceGrpc.SessionServiceBlockingStub forwardedSessions(ProcessCluster cluster, int node) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(20, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwarding()));
  }

  private static Metadata forwarding() {
    Metadata forward = new Metadata();
    forward.put(ForwardRequest.HEADER, "1");
    return forward;
  }

  private static OpenSessionRequest open() {
    return OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setTtlMs(60_000)
        .setClient(ClientIdentity.newBuilder().setName("limits").setHost("localhost").setPid(3)).build();
  }
}
