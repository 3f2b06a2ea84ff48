package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.Heartbeat;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that restarts replays its log and applies, again, grants released long ago. Found by a
 * chaos soak: a follower replaying its log after a kill took a forwarded acquire, and the replay
 * of that session's old grant of the lock (released 170 s earlier) answered it, with the old token,
 * while another session held the lock.
 */
class ForwardedAcquireReplayClusterTest {
  /** Log entries before the old grant: enough that replaying them takes a while. */
  static final int FILLER = 30_000;

  @TempDir
  Path dir;

  @Test
  void aFollowerReplayingItsLogAnswersAForwardedAcquireFromTheStateNotFromAnOldGrant() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(3, dir).start()) {
      int leader = cluster.awaitLeader(Duration.ofSeconds(60));
      int follower = (leader + 1) % 3;
      long s = openSession(cluster, leader);
      long x = openSession(cluster, leader);
      try (Heartbeat hs = new Heartbeat(cluster.channel(leader), s, Duration.ofMillis(500));
          Heartbeat hx = new Heartbeat(cluster.channel(leader), x, Duration.ofMillis(500))) {
        fill(cluster, leader);
        // The old grant: s takes the lock and lets it go, then x takes it and keeps it.
        AcquireResponse old = locks(cluster, leader).acquire(acquire(s, 0));
        assertTrue(old.getGranted());
        locks(cluster, leader).release(ReleaseRequest.newBuilder().setRequestId(rid()).setSessionId(s)
            .setLockName("fleet/config").setToken(old.getToken()).build());
        AcquireResponse held = locks(cluster, leader).acquire(acquire(x, 0));
        assertTrue(held.getGranted());
        long written = cluster.status(leader).getAppliedIndex();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (cluster.status(follower) == null || cluster.status(follower).getAppliedIndex() < written) {
          assertTrue(System.nanoTime() < end, "the follower holds the whole log");
          Thread.sleep(50);
        }

        // Killed (no snapshot on the way out), it replays all of its log when it starts again.
        cluster.kill(follower);
        cluster.start(follower);
        String requestId = rid();
        List<String> answers = new ArrayList<>();
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        AcquireResponse answer = null;
        while (answer == null) {
          assertTrue(System.nanoTime() < end, "the follower never answered the forwarded acquire: " + answers);
          try {
            // One request id for every attempt, as the client does: one acquire in the state.
            answer = forwardedLocks(cluster, follower).acquire(AcquireRequest.newBuilder().setRequestId(requestId)
                .setSessionId(s).setLockName("fleet/config").setWaitMs(1_000).build());
          } catch (StatusRuntimeException e) {
            answers.add(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
            Thread.sleep(5);
          }
        }
        assertFalse(answer.getGranted(), "x holds the lock, yet s's forwarded acquire was granted token "
            + answer.getToken() + " (its old grant was token " + old.getToken() + "); attempts before: " + answers);
        LockInfo lock = locks(cluster, leader).describeLock(DescribeLockRequest.newBuilder()
            .setLockName("fleet/config").build()).getLock();
        assertEquals(x, lock.getHolderSessionId());
        assertEquals(held.getToken(), lock.getToken());
        System.out.printf("forwarded acquire during replay: %d attempts refused first (%s)%n", answers.size(),
            answers.isEmpty() ? "" : answers.get(answers.size() - 1));
      }
    }
  }

  static String rid() {
    return UUID.randomUUID().toString();
  }

  static AcquireRequest acquire(long session, long waitMs) {
    return AcquireRequest.newBuilder().setRequestId(rid()).setSessionId(session).setLockName("fleet/config")
        .setWaitMs(waitMs).build();
  }

  static long openSession(ProcessCluster cluster, int node) {
    return SessionServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .openSession(OpenSessionRequest.newBuilder().setRequestId(rid()).setTtlMs(10_000)
            .setClient(ClientIdentity.newBuilder().setName("replay-test").setHost("localhost").setPid(1)).build())
        .getSessionId();
  }

  static LockServiceGrpc.LockServiceBlockingStub locks(ProcessCluster cluster, int node) {
    return LockServiceGrpc.newBlockingStub(cluster.channel(node)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** Calls that ask a follower to pass them on to the leader, as a client cut off from it does. */
  static LockServiceGrpc.LockServiceBlockingStub forwardedLocks(ProcessCluster cluster, int node) {
    Metadata forward = new Metadata();
    forward.put(ForwardRequest.HEADER, "1");
    return LockServiceGrpc.newBlockingStub(cluster.channel(node))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forward))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** {@link #FILLER} small puts, many in flight, so they share entries as a busy cluster's do. */
  static void fill(ProcessCluster cluster, int leader) throws Exception {
    KvServiceGrpc.KvServiceFutureStub kv = KvServiceGrpc.newFutureStub(cluster.channel(leader));
    List<com.google.common.util.concurrent.ListenableFuture<?>> window = new ArrayList<>();
    for (int i = 0; i < FILLER; i++) {
      window.add(kv.withDeadlineAfter(30, TimeUnit.SECONDS).put(PutRequest.newBuilder().setRequestId(rid())
          .setKey("filler/" + (i % 100)).setValue(ByteString.copyFromUtf8(Integer.toString(i))).build()));
      if (window.size() == 64) {
        for (var f : window) {
          f.get(30, TimeUnit.SECONDS);
        }
        window.clear();
      }
    }
    for (var f : window) {
      f.get(30, TimeUnit.SECONDS);
    }
  }
}
