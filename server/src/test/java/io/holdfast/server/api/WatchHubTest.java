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

  /** Records what the hub sends; the first message is the (empty) starting state. */
  private static final class Collected extends ServerCallStreamObserver<WatchResponse> {
    final List<WatchResponse> sent = new ArrayList<>();

    List<WatchResponse> live() {
      return sent.stream().filter(r -> !r.getSnapshot()).toList();
    }

    @Override
    public void onNext(WatchResponse value) {
      sent.add(value);
    }

    @Override
    public void onError(Throwable t) {
      throw new AssertionError(t);
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
      return true;
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
