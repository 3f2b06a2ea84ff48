package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.ServerCallStreamObserver;
import io.holdfast.proto.v1.WatchEvent;
import io.holdfast.proto.v1.WatchEventKind;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.TestLog;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WatchHubTest {
  private final TestLog log = new TestLog();
  private final WatchHub hub = new WatchHub(new HoldfastStateMachine(), 100);
  private final Collected watcher = new Collected();

  private static Command.Put put(String id, String key, String value) {
    return new Command.Put(id, key, value.getBytes(StandardCharsets.UTF_8), -1, "", 0, 0);
  }

  /** Applies one log entry holding {@code commands} and hands its events to the hub. */
  private void applyBatch(Command... commands) {
    log.apply(new Command.Batch(List.of(commands)));
    hub.onApplied(log.events());
  }

  @Test
  void eachPutInOneEntryIsSeenWithTheValueItWrote() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), watcher);

    applyBatch(put("p1", "cfg/a", "v1"), put("p2", "cfg/a", "v2"), put("p3", "cfg/b", "b1"),
        new Command.Delete("d1", "cfg/b", -1, "", 0));

    WatchResponse r = watcher.live().get(0);
    List<WatchEvent> e = r.getEventsList();
    assertEquals(List.of(WatchEventKind.KEY_PUT, WatchEventKind.KEY_PUT, WatchEventKind.KEY_PUT,
        WatchEventKind.KEY_DELETED), e.stream().map(WatchEvent::getKind).toList());
    assertEquals("v1", e.get(0).getKv().getValue().toStringUtf8(), "the first put's own value");
    assertEquals("v2", e.get(1).getKv().getValue().toStringUtf8());
    assertTrue(e.get(0).getKv().getRevision() < e.get(1).getKv().getRevision());
    // A put deleted later in the same entry still carries what it wrote (it carried nothing).
    assertTrue(e.get(2).hasKv());
    assertEquals("b1", e.get(2).getKv().getValue().toStringUtf8());
    assertFalse(e.get(3).hasKv());
  }

  @Test
  void aLargeSnapshotGoesOutInPartsThatTogetherHoldEveryEvent() {
    List<WatchEvent> events = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      events.add(WatchEvent.newBuilder().setKind(WatchEventKind.KEY_PUT).setKey("k" + i)
          .setKv(io.holdfast.proto.v1.KeyValue.newBuilder().setKey("k" + i)
              .setValue(com.google.protobuf.ByteString.copyFrom(new byte[100_000]))).build());
    }

    List<WatchResponse> parts = WatchHub.snapshotParts(42, events, 1 << 20);

    assertTrue(parts.size() >= 3, parts.size() + " parts");
    List<WatchEvent> joined = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      WatchResponse p = parts.get(i);
      assertTrue(p.getSnapshot());
      assertEquals(42, p.getIndex());
      assertEquals(i < parts.size() - 1, p.getSnapshotMore(), "part " + i);
      assertTrue(p.getSerializedSize() < (1 << 20) + 200_000, "part " + i + ": " + p.getSerializedSize());
      joined.addAll(p.getEventsList());
    }
    assertEquals(events, joined);
    assertEquals(1, WatchHub.snapshotParts(7, List.of(), 1 << 20).size(), "an empty state is one empty part");
  }

  @Test
  void aWatcherThatStopsReadingIsEndedInsteadOfFillingTheNodesMemory() {
    watcher.ready = false; // its stream's buffer is full: the client reads nothing
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    String mib = "x".repeat(1 << 20);

    for (int i = 0; i < 64; i++) {
      applyBatch(put("p" + i, "big/" + i, mib));
    }

    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, io.grpc.Status.fromThrowable(watcher.error).getCode());
    int sent = watcher.live().size();
    assertTrue(sent >= 30 && sent <= 33, sent + " MiB left unread before the end");
    applyBatch(put("late", "big/late", "v"));
    assertEquals(sent, watcher.live().size(), "nothing more goes to an ended watcher");
  }

  @Test
  void theCatchUpAtSubscribeIsNotHeldAgainstTheWatcher() {
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyBatch(put("p" + i, "big/" + i, mib)); // 40 MiB of history, no watcher yet
    }
    watcher.ready = false; // the catch-up goes out faster than any client reads
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").setAfterIndex(1).build(), watcher);

    assertEquals(null, watcher.error);
    assertEquals(39, watcher.live().size(), "the history after index 1");
    watcher.ready = true;
    applyBatch(put("live", "big/live", "v"));
    assertEquals(40, watcher.live().size());
  }

  @Test
  void aWatcherThatReadsIsNotEnded() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 64; i++) {
      applyBatch(put("p" + i, "big/" + i, mib));
    }
    assertEquals(64, watcher.live().size());
    assertEquals(null, watcher.error);
  }

  /** Records what the hub sends; the first message is the (empty) starting state. */
  private static final class Collected extends ServerCallStreamObserver<WatchResponse> {
    final List<WatchResponse> sent = new ArrayList<>();
    boolean ready = true;
    Throwable error;

    List<WatchResponse> live() {
      return sent.stream().filter(r -> !r.getSnapshot()).toList();
    }

    @Override
    public void onNext(WatchResponse value) {
      sent.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
      return ready;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }
}
