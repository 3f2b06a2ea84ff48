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
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.statemachine.StateReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WatchHubTest {
  private TestLog log = new TestLog();
  /** Sends as the node's sender pool would, run by the test when it chooses (see {@link #sendQueued}). */
  private final java.util.ArrayDeque<Runnable> sends = new java.util.ArrayDeque<>();
  private WatchHub hub = new WatchHub(reader(log.state()), 100, sends::add);
  private final Collected watcher = new Collected();

  /** The hub reads the same state the test log applies to, as a node's hub reads its state machine's. */
  static StateReader reader(HoldfastState state) {
    return new StateReader() {
      @Override
      public <T> T read(java.util.function.Function<HoldfastState, T> f) {
        synchronized (state) {
          return f.apply(state);
        }
      }
    };
  }

  private static Command.Put put(String id, String key, String value) {
    return new Command.Put(id, key, value.getBytes(StandardCharsets.UTF_8), -1, "", 0, 0);
  }

  /** Applies one log entry holding {@code commands} and hands its events to the hub, then lets the sender run. */
  private void applyBatch(Command... commands) {
    applyOnly(commands);
    sendQueued();
  }

  /** What apply does: hands the entry's events to the hub, and nothing more. */
  private void applyOnly(Command... commands) {
    log.apply(new Command.Batch(List.of(commands)));
    hub.onApplied(log.events());
  }

  private void sendQueued() {
    Runnable r;
    while ((r = sends.poll()) != null) {
      r.run();
    }
  }

  /**
   * Apply holds the state lock: with a thousand watchers of a large value it would encode and copy
   * every response while the node's writes waited. It only queues them; the sender writes.
   */
  @Test
  void applyHandsLiveEventsToTheSenderAndWritesNoStream() {
    Collected other = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), watcher);
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), other);
    int before = watcher.sent.size();

    applyOnly(put("p1", "cfg/a", "v1"));
    applyOnly(put("p2", "cfg/a", "v2"));
    assertEquals(before, watcher.sent.size(), "nothing written on the applying thread");
    assertEquals(2, sends.size(), "one send queued per watcher, however many entries wait for it");

    sendQueued();
    assertEquals(List.of("v1", "v2"), watcher.live().stream().map(r -> r.getEvents(0).getKv().getValue().toStringUtf8())
        .toList(), "in order");
    assertEquals(2, other.live().size());
  }

  /** An Error while writing one watcher's stream (gRPC rethrows one from its write) ends that watcher only. */
  @Test
  void anErrorWritingOneStreamEndsThatWatcherOnly() {
    Collected failing = new Collected() {
      @Override
      public void onNext(WatchResponse value) {
        if (!value.getSnapshot()) {
          throw new OutOfMemoryError("Direct buffer memory");
        }
        super.onNext(value);
      }
    };
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), failing);
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), watcher);
    assertEquals(2, hub.subscriberCount());

    applyBatch(put("p1", "cfg/a", "v1"));
    assertEquals(1, watcher.live().size(), "the other watcher got the entry");
    assertEquals(1, hub.subscriberCount(), "the failed one is gone");
    applyBatch(put("p2", "cfg/a", "v2"));
    assertEquals(2, watcher.live().size());
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
  void overlappingPrefixesListEachKeyOnceInTheStartingState() {
    assertEquals(List.of("cfg/", "zone/"), WatchHub.covering(List.of("cfg/a", "zone/", "cfg/", "cfg/b/c", "zone/")));
    assertEquals(List.of(""), WatchHub.covering(List.of("x/", "", "y")));
    applyBatch(put("p1", "cfg/a", "v1"), put("p2", "cfg/b", "v2"));

    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").addKeyPrefixes("cfg/a").build(), watcher);

    List<String> keys = watcher.sent.stream().flatMap(r -> r.getEventsList().stream()).map(WatchEvent::getKey)
        .toList();
    assertEquals(List.of("cfg/a", "cfg/b"), keys);
  }

  @Test
  void aLargeSnapshotGoesOutInPartsThatTogetherHoldEveryEvent() {
    List<WatchEvent> events = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      events.add(WatchEvent.newBuilder().setKind(WatchEventKind.KEY_PUT).setKey("k" + i)
          .setKv(io.holdfast.proto.v1.KeyValue.newBuilder().setKey("k" + i)
              .setValue(com.google.protobuf.ByteString.copyFrom(new byte[100_000]))).build());
    }

    List<WatchResponse> parts = new ArrayList<>();
    WatchHub.snapshotParts(42, events.iterator(), 1 << 20).forEachRemaining(parts::add);

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
    List<WatchResponse> empty = new ArrayList<>();
    WatchHub.snapshotParts(7, java.util.Collections.emptyIterator(), 1 << 20).forEachRemaining(empty::add);
    assertEquals(1, empty.size(), "an empty state is one empty part");
    assertEquals(0, empty.get(0).getEventsCount());
  }

  @Test
  void aWatcherThatStopsReadingIsEndedInsteadOfFillingTheNodesMemory() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    watcher.ready = false; // its stream's buffer is full: the client reads nothing
    String mib = "x".repeat(1 << 20);

    for (int i = 0; i < 64; i++) {
      applyBatch(put("p" + i, "big/" + i, mib));
    }

    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, io.grpc.Status.fromThrowable(watcher.error).getCode());
    assertEquals(0, watcher.live().size(), "nothing is pushed into a stream that has no room");
    watcher.becomeReady();
    applyBatch(put("late", "big/late", "v"));
    assertEquals(0, watcher.live().size(), "nothing more goes to an ended watcher");
  }

  @Test
  void theCatchUpAtSubscribeIsNotHeldAgainstTheWatcher() {
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyBatch(put("p" + i, "big/" + i, mib)); // 40 MiB of history, no watcher yet
    }
    watcher.ready = false; // the client reads nothing yet
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").setAfterIndex(1).build(), watcher);
    assertEquals(0, watcher.sent.size(), "nothing goes out before the stream has room");

    watcher.becomeReady();
    assertEquals(null, watcher.error);
    assertEquals(39, watcher.live().size(), "the history after index 1");
    applyBatch(put("live", "big/live", "v"));
    assertEquals(40, watcher.live().size());
  }

  @Test
  void aSnapshotCatchUpIsBuiltPartByPartAsTheStreamHasRoomAndLiveEventsFollowIt() {
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyBatch(put("p" + i, "big/" + i, mib)); // a 40 MiB state
    }
    watcher.room = 1; // the stream takes one message, then has room again only when the client reads
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    assertEquals(1, watcher.sent.size(), "one part built and sent, not the whole state");
    assertTrue(watcher.sent.get(0).getSnapshotMore());

    applyBatch(put("during", "big/during", "v")); // arrives while the snapshot is still going out
    assertEquals(1, watcher.sent.size(), "a live event waits behind the snapshot");

    while (watcher.sent.size() < 100 && watcher.error == null
        && (watcher.sent.isEmpty() || watcher.live().isEmpty())) {
      watcher.room = 1;
      watcher.becomeReady();
    }
    List<WatchResponse> parts = watcher.sent.stream().filter(WatchResponse::getSnapshot).toList();
    assertTrue(parts.size() >= 20, parts.size() + " parts");
    assertEquals(40, parts.stream().mapToInt(WatchResponse::getEventsCount).sum(), "every key once");
    assertFalse(parts.get(parts.size() - 1).getSnapshotMore());
    WatchResponse live = watcher.sent.get(watcher.sent.size() - 1);
    assertFalse(live.getSnapshot(), "the live event comes after the last part");
    assertEquals("big/during", live.getEvents(0).getKey());
    assertTrue(live.getIndex() > parts.get(0).getIndex());
  }

  /**
   * A watcher that reads its snapshot steadily while matching writes keep coming is not ended for
   * the live events waiting behind it: ended, it would resume into a larger snapshot, for ever.
   */
  @Test
  void aCatchUpThatIsBeingReadIsNotEndedForTheLiveEventsBehindIt() {
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyBatch(put("p" + i, "big/" + i, mib)); // a 40 MiB state: about 40 parts
    }
    watcher.room = 1;
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    int writes = 0;
    while (watcher.error == null && watcher.live().isEmpty() && writes < 200) {
      applyBatch(put("w" + writes, "big/w" + writes, mib)); // 1 MiB written per part read
      writes++;
      watcher.room = 1;
      watcher.becomeReady();
    }
    assertEquals(null, watcher.error, "not ended after " + writes + " MiB written during the catch-up");
    List<WatchResponse> parts = watcher.sent.stream().filter(WatchResponse::getSnapshot).toList();
    assertFalse(parts.get(parts.size() - 1).getSnapshotMore(), "the snapshot went out whole");
    // The writes go on at the rate it reads: the events queued behind the catch-up drain no faster,
    // and it is not ended for them either.
    for (int i = 0; i < 60; i++) {
      applyBatch(put("x" + i, "big/w" + writes, mib));
      writes++;
      watcher.room = 1;
      watcher.becomeReady();
    }
    assertEquals(null, watcher.error, "not ended while it reads the backlog");
    while (watcher.live().size() < writes) {
      watcher.room = 1;
      watcher.becomeReady();
    }
    assertEquals("big/w" + (writes - 1), watcher.live().get(writes - 1).getEvents(0).getKey(), "then every live event");
  }

  /** Events the node has not written yet to a stream with room are its own backlog, not a slow reader's. */
  @Test
  void aWatcherWithRoomIsNotEndedForTheSendersBacklog() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyOnly(put("p" + i, "big/" + i, mib)); // the sender has not run: 40 MiB waits for it
    }
    sendQueued();
    assertEquals(null, watcher.error);
    assertEquals(40, watcher.live().size());
  }

  @Test
  void liveEventsQueuedBehindACatchUpThatIsNeverReadEndTheWatcher() {
    watcher.ready = false; // not even the snapshot is read
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("big/").build(), watcher);
    String mib = "x".repeat(1 << 20);
    for (int i = 0; i < 40; i++) {
      applyBatch(put("p" + i, "big/" + i, mib));
    }
    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, io.grpc.Status.fromThrowable(watcher.error).getCode());
    assertEquals(0, watcher.sent.size());
    watcher.becomeReady();
    assertEquals(0, watcher.sent.size(), "an ended watcher's queue is dropped");
  }

  @Test
  void watchIndexesCarryTheFencingEpochSoAPositionFromBeforeARestoreGetsTheState() {
    for (int i = 0; i < 5; i++) {
      applyBatch(put("p" + i, "cfg/" + i, "old" + i));
    }
    // A backup taken now; the old cluster then goes on to revision 9.
    HoldfastState restored = new HoldfastState();
    restored.restore(io.holdfast.server.backup.RestoreSeed.seedImage(log.state().image()));
    for (int i = 5; i < 9; i++) {
      applyBatch(put("p" + i, "cfg/" + i, "lost" + i));
    }
    long oldPosition = log.lastIndex();

    // The restored cluster continues from the backup's index, one epoch on.
    log = new TestLog(restored);
    hub = new WatchHub(reader(restored), 100, sends::add);
    applyBatch(put("n1", "cfg/new", "new"));
    Collected resumed = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").setAfterIndex(oldPosition).build(), resumed);

    WatchResponse first = resumed.sent.get(0);
    assertTrue(first.getSnapshot(), "a position from the old epoch gets the current state, not silence");
    assertEquals(6, first.getEventsCount(), "the backup's 5 keys and the new one");
    long epoch1 = io.holdfast.server.state.FencingToken.INDEX_LIMIT;
    assertTrue(first.getIndex() > epoch1, "indexes of epoch 1: " + first.getIndex());
    // A live put: its batch index is its KV revision, in every epoch.
    applyBatch(put("n2", "cfg/new2", "v"));
    WatchResponse live = resumed.live().get(0);
    assertEquals(live.getEvents(0).getKv().getRevision(), live.getIndex());

    Collected fromTheFuture = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").setAfterIndex(2 * epoch1 + 5).build(),
        fromTheFuture);
    // A node that has not reached that epoch (a new member still loading the state) sends it elsewhere.
    assertEquals(io.grpc.Status.Code.UNAVAILABLE, io.grpc.Status.fromThrowable(fromTheFuture.error).getCode());
    assertTrue(fromTheFuture.error.getMessage().contains("epoch 2"), fromTheFuture.error.getMessage());
  }

  @Test
  void aNodeOutOfTouchWithTheLeaderEndsItsWatchersAndRefusesNewOnesUntilItHearsFromOneAgain() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), watcher);
    hub.leaderContact(300, 2_000);
    assertEquals(null, watcher.error, "heard from the leader 300 ms ago: fine");

    hub.leaderContact(2_500, 2_000);
    assertEquals(io.grpc.Status.Code.UNAVAILABLE, io.grpc.Status.fromThrowable(watcher.error).getCode());
    assertTrue(watcher.error.getMessage().contains("2500 ms"), watcher.error.getMessage());
    Collected refused = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), refused);
    assertEquals(io.grpc.Status.Code.UNAVAILABLE, io.grpc.Status.fromThrowable(refused.error).getCode());
    int before = watcher.sent.size();
    applyBatch(put("p", "cfg/a", "v"));
    assertEquals(before, watcher.sent.size(), "an ended watcher gets nothing more");

    hub.leaderContact(100, 2_000);
    Collected again = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), again);
    assertEquals(null, again.error);
    assertEquals(1, again.sent.size(), "the current state");
  }

  @Test
  void aWatcherOfAQuietPrefixIsToldItsPositionSoThatItsResumeStaysWithinTheHistory() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("quiet/").build(), watcher);
    for (int i = 0; i < 250; i++) {
      applyBatch(put("p" + i, "busy/" + i, "v")); // the history keeps 100 entries
    }
    List<WatchResponse> progress = watcher.live();
    assertTrue(progress.size() >= 9, progress.size() + " progress messages");
    assertTrue(progress.stream().allMatch(r -> r.getEventsCount() == 0));
    long told = progress.get(progress.size() - 1).getIndex();
    assertTrue(told >= log.lastIndex() - 25, "told " + told + " of " + log.lastIndex());

    // A resume from an older position that the history still covers is told where it got to.
    Collected older = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("quiet/").setAfterIndex(told - 10).build(), older);
    assertEquals(List.of(log.lastIndex()), older.sent.stream().map(WatchResponse::getIndex).toList());
    assertEquals(0, older.sent.get(0).getEventsCount());

    Collected resumed = new Collected();
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("quiet/").setAfterIndex(told).build(), resumed);
    assertTrue(resumed.sent.stream().noneMatch(WatchResponse::getSnapshot), "resumed from the history, no snapshot");
    applyBatch(put("q", "quiet/a", "v"));
    assertEquals("quiet/a", resumed.live().get(resumed.live().size() - 1).getEvents(0).getKey());
  }

  @Test
  void aReloadedStateEndsEveryWatcherSoThatItResumes() {
    hub.subscribe(WatchRequest.newBuilder().addKeyPrefixes("cfg/").build(), watcher);
    applyBatch(put("p", "cfg/a", "v"));
    hub.onStateReloaded();
    assertEquals(io.grpc.Status.Code.UNAVAILABLE, io.grpc.Status.fromThrowable(watcher.error).getCode());
    int before = watcher.sent.size();
    applyBatch(put("q", "cfg/b", "v"));
    assertEquals(before, watcher.sent.size());
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
  private static class Collected extends ServerCallStreamObserver<WatchResponse> {
    final List<WatchResponse> sent = new ArrayList<>();
    boolean ready = true;
    /** When not negative: messages the stream takes before it has no room (a client that reads slowly). */
    int room = -1;
    Throwable error;
    Runnable onReady = () -> { };

    /** The client read: the stream has room again, and gRPC says so. */
    void becomeReady() {
      ready = true;
      onReady.run();
    }

    List<WatchResponse> live() {
      return sent.stream().filter(r -> !r.getSnapshot()).toList();
    }

    @Override
    public void onNext(WatchResponse value) {
      if (error != null) {
        throw new IllegalStateException("onNext after onError");
      }
      sent.add(value);
      if (room > 0 && --room == 0) {
        ready = false;
      }
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
    public void setOnReadyHandler(Runnable onReadyHandler) {
      onReady = onReadyHandler;
    }

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }
}
