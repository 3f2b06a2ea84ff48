package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.ListRequest;
import io.holdfast.proto.v1.ListResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** KvClient.list reads every page, and stops rather than loop on a node that cannot page. */
class KvListPagingTest {
  static final List<String> KEYS = List.of("p/a", "p/b", "p/c", "p/d", "p/e");

  /** Pages of two keys; {@code honoursStartAfter} false answers the first page every time (an older node). */
  static final class Store extends KvServiceGrpc.KvServiceImplBase {
    final boolean honoursStartAfter;
    int calls;

    Store(boolean honoursStartAfter) {
      this.honoursStartAfter = honoursStartAfter;
    }

    @Override
    public void list(ListRequest req, StreamObserver<ListResponse> out) {
      calls++;
      String after = honoursStartAfter ? req.getStartAfter() : "";
      List<String> rest = KEYS.stream().filter(k -> k.compareTo(after) > 0).toList();
      ListResponse.Builder b = ListResponse.newBuilder().setMore(rest.size() > 2);
      rest.stream().limit(2).forEach(k -> b.addKvs(io.holdfast.proto.v1.KeyValue.newBuilder().setKey(k)));
      out.onNext(b.build());
      out.onCompleted();
    }
  }

  static HoldfastClient client(FakeNode node) {
    return HoldfastClient.builder().endpoints(node.endpoint()).memberSync(Duration.ZERO).build();
  }

  @Test
  void everyPageIsRead() throws Exception {
    Store store = new Store(true);
    try (FakeNode node = FakeNode.serve(store); HoldfastClient client = client(node)) {
      assertEquals(KEYS, client.kv().list("p/").stream().map(KeyValue::key).toList());
      assertEquals(3, store.calls);
    }
  }

  @Test
  void aNodeThatAnswersTheFirstPageAgainIsAnErrorNotALoop() throws Exception {
    Store store = new Store(false);
    try (FakeNode node = FakeNode.serve(store); HoldfastClient client = client(node)) {
      HoldfastException e = assertThrows(HoldfastException.class, () -> client.kv().list("p/"));
      assertTrue(e.getMessage().contains("first page again"), e.getMessage());
      assertEquals(2, store.calls);
    }
  }
}
