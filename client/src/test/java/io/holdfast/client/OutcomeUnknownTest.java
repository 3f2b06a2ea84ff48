package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.GetResponse;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.PutResponse;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * A write given up on says whether it may have been applied: after an attempt that may have reached
 * a leader, OutcomeUnknownException; when none can have, plain ClusterUnavailableException.
 */
class OutcomeUnknownTest {

  /** Answers every put (and get) as {@code answer} says; an answer that does nothing never replies. */
  static final class Kv extends KvServiceGrpc.KvServiceImplBase {
    final Consumer<StreamObserver<?>> answer;
    final List<String> requestIds = new CopyOnWriteArrayList<>();

    Kv(Consumer<StreamObserver<?>> answer) {
      this.answer = answer;
    }

    @Override
    public void put(PutRequest req, StreamObserver<PutResponse> out) {
      requestIds.add(req.getRequestId());
      answer.accept(out);
    }

    @Override
    public void get(GetRequest req, StreamObserver<GetResponse> out) {
      answer.accept(out);
    }
  }

  static HoldfastClient client(String endpoint) {
    return HoldfastClient.builder().endpoints(endpoint).memberSync(Duration.ZERO).callTimeout(Duration.ofMillis(300))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(20), Duration.ofMillis(50), Duration.ofMillis(1_000)))
        .build();
  }

  static ClusterUnavailableException putFails(String endpoint) {
    try (HoldfastClient client = client(endpoint)) {
      return assertThrows(ClusterUnavailableException.class, () -> client.kv().put("k", new byte[] {1}));
    }
  }

  @Test
  void aLeaderThatLostOfficeWithTheWriteLeavesItsOutcomeUnknown() throws Exception {
    Kv kv = new Kv(out -> out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "NO_LEADER")));
    try (FakeNode node = FakeNode.serve(kv)) {
      ClusterUnavailableException e = putFails(node.endpoint());
      assertTrue(e instanceof OutcomeUnknownException, e.toString());
      assertTrue(e.getMessage().contains("may have been applied"), e.getMessage());
      assertTrue(kv.requestIds.size() > 1, "retried: " + kv.requestIds);
      assertEquals(1, kv.requestIds.stream().distinct().count(), "one request id for every attempt");
    }
  }

  @Test
  void aWriteNoNodeAnsweredInTimeMayHaveBeenApplied() throws Exception {
    try (FakeNode node = FakeNode.serve(new Kv(out -> { }))) {
      assertTrue(putFails(node.endpoint()) instanceof OutcomeUnknownException);
    }
  }

  @Test
  void aWriteEveryAttemptOfWhichWasRefusedUnloggedIsSimplyUnavailable() throws Exception {
    try (FakeNode node = FakeNode.serve(new Kv(out -> out.onError(FakeNode.error(Status.Code.UNAVAILABLE, "BUSY"))))) {
      ClusterUnavailableException e = putFails(node.endpoint());
      assertFalse(e instanceof OutcomeUnknownException, e.toString());
    }
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    ClusterUnavailableException refused = putFails("127.0.0.1:" + closed);
    assertFalse(refused instanceof OutcomeUnknownException, "a refused connection sent nothing: " + refused);
  }

  @Test
  void aReadIsNeverOutcomeUnknown() throws Exception {
    try (FakeNode node = FakeNode.serve(new Kv(out -> { }));
        HoldfastClient client = client(node.endpoint())) {
      ClusterUnavailableException e = assertThrows(ClusterUnavailableException.class, () -> client.kv().get("k"));
      assertFalse(e instanceof OutcomeUnknownException, e.toString());
    }
  }
}
