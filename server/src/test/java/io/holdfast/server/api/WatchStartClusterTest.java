package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A watch that starts with the current state is told "this is the state now" only by a node that
 * has confirmed it is up to date; a node cut off from every other member says so instead of serving
 * what it last applied.
 */
class WatchStartClusterTest {
  @TempDir
  Path dir;

  @Test
  void aNodeCutOffFromTheOthersRefusesToStartAWatchFromItsOwnState() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(3, dir, Map.of()).start()) {
      int leader = cluster.awaitLeader(Duration.ofSeconds(60));
      int follower = (leader + 1) % 3;
      KvServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(10, TimeUnit.SECONDS)
          .put(PutRequest.newBuilder().setRequestId("p-1").setKey("cfg/a").setValue(ByteString.copyFromUtf8("v1"))
              .build());

      // Up to date: the watch starts with the key.
      WatchResponse first = firstAnswer(cluster, follower, 0).get(20, TimeUnit.SECONDS);
      assertTrue(first.getSnapshot(), first.toString());

      // A position the cluster never gave out (a typo) is refused, not waited for in silence.
      try {
        WatchResponse r = firstAnswer(cluster, follower, first.getIndex() + 1_000_000).get(20, TimeUnit.SECONDS);
        throw new AssertionError("a position ahead of the cluster was accepted: " + r);
      } catch (java.util.concurrent.ExecutionException e) {
        assertEquals(Status.Code.INVALID_ARGUMENT, Status.fromThrowable(e.getCause()).getCode(), e.toString());
        assertTrue(e.getCause().getMessage().contains("ahead of the cluster"), e.toString());
      }

      cluster.kill(leader);
      cluster.kill((leader + 2) % 3);
      Throwable refused = null;
      try {
        WatchResponse r = firstAnswer(cluster, follower, 0).get(20, TimeUnit.SECONDS);
        throw new AssertionError("a cut-off node served the state as current: " + r);
      } catch (java.util.concurrent.ExecutionException e) {
        refused = e.getCause();
      }
      assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(refused).getCode(), refused.toString());
    }
  }

  private static CompletableFuture<WatchResponse> firstAnswer(ProcessCluster cluster, int node, long after) {
    CompletableFuture<WatchResponse> first = new CompletableFuture<>();
    WatchServiceGrpc.newStub(cluster.channel(node)).withDeadlineAfter(30, TimeUnit.SECONDS).watch(
        WatchRequest.newBuilder().addKeyPrefixes("cfg/").setAfterIndex(after).build(), new StreamObserver<>() {
          @Override
          public void onNext(WatchResponse r) {
            first.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            first.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            first.completeExceptionally(new AssertionError("ended without an answer"));
          }
        });
    return first;
  }
}
