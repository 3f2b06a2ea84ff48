package io.holdfast.server.api;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.holdfast.proto.v1.KeyValue;
import io.holdfast.proto.v1.WatchEvent;
import io.holdfast.proto.v1.WatchEventKind;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.KvEntry;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import io.holdfast.server.statemachine.StateObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * This node's watchers, and the recent history they resume from. Events come from apply, so every
 * node produces the same events in the same order; one response carries all of one entry's events,
 * so a watcher that resumes after index N never sees part of an entry twice or misses the rest.
 *
 * <p>Everything here runs under the state machine's lock (apply, and subscribe reads the state
 * with it), which orders deliveries per watcher. A watcher that needs events older than the kept
 * history gets the current state first ({@code snapshot = true}), then live events.
 */
public final class WatchHub implements StateObserver {
  private record Batch(long index, List<WatchEvent> events, long bytes) {}

  /** The history is also bounded in bytes: values can be large (up to max-value-bytes each). */
  static final long MAX_HISTORY_BYTES = 64L * 1024 * 1024;
  /** The size a snapshot's parts aim at (gRPC clients refuse messages over 4 MiB by default). */
  static final int SNAPSHOT_PART_BYTES = 1 << 20;
  /**
   * What a watcher may leave unread in this node's memory: bytes sent since its stream last had
   * room. A watcher that stops reading is ended with RESOURCE_EXHAUSTED and resumes when it reads
   * again (from the history, or a snapshot); otherwise it would hold every later event here.
   */
  static final long MAX_UNREAD_BYTES = 32L * 1024 * 1024;

  private final class Subscriber {
    final List<String> lockPrefixes;
    final List<String> keyPrefixes;
    final ServerCallStreamObserver<WatchResponse> out;
    long lastIndex;

    Subscriber(WatchRequest req, ServerCallStreamObserver<WatchResponse> out) {
      this.lockPrefixes = List.copyOf(req.getLockPrefixesList());
      this.keyPrefixes = List.copyOf(req.getKeyPrefixesList());
      this.out = out;
    }

    boolean wants(WatchEvent e) {
      return e.getLockName().isEmpty() ? matches(keyPrefixes, e.getKey()) : matches(lockPrefixes, e.getLockName());
    }

    /** Sent since the stream last had room; see {@link #MAX_UNREAD_BYTES}. */
    long unreadBytes;
    /** Set once it is gone (ended, or its stream broke): it must not join the subscribers then. */
    boolean ended;

    /** Live events count toward the unread limit; the catch-up at subscribe (bounded by the
     * store and the history) goes out in one loop, faster than any client reads, and does not. */
    void send(WatchResponse r, boolean live) {
      try {
        if (out.isReady() || !live) {
          unreadBytes = 0;
        }
        unreadBytes += live ? r.getSerializedSize() : 0;
        if (unreadBytes > MAX_UNREAD_BYTES) {
          ended = true;
          subscribers.remove(this);
          out.onError(Status.RESOURCE_EXHAUSTED.withDescription("this watcher left more than "
              + MAX_UNREAD_BYTES / (1024 * 1024) + " MiB of events unread; resume the watch once it reads again")
              .asRuntimeException());
          return;
        }
        out.onNext(r);
      } catch (RuntimeException e) {
        ended = true;
        subscribers.remove(this);
      }
    }
  }

  private static boolean matches(List<String> prefixes, String name) {
    for (String p : prefixes) {
      if (name.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  private final HoldfastStateMachine stateMachine;
  private final int capacity;
  private final ArrayDeque<Batch> history = new ArrayDeque<>();
  private long historyBytes;
  private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();
  /** Every entry with events after this index is in {@link #history}; -1 until known. */
  private long coveredAfter = -1;

  public WatchHub(HoldfastStateMachine stateMachine, int capacity) {
    this.stateMachine = stateMachine;
    this.capacity = capacity;
  }

  @Override
  public void onApplied(List<StateEvent> events) {
    List<WatchEvent> out = new ArrayList<>();
    // One entry's events go out together, at its last revision (a batch spans several).
    long index = events.get(events.size() - 1).index();
    for (StateEvent e : events) {
      if (e instanceof StateEvent.LockGranted g) {
        out.add(WatchEvent.newBuilder().setKind(WatchEventKind.LOCK_ACQUIRED).setLockName(g.lockName())
            .setSessionId(g.sessionId()).setToken(g.token()).build());
      } else if (e instanceof StateEvent.LockReleased r) {
        out.add(WatchEvent.newBuilder().setKind(WatchEventKind.LOCK_RELEASED).setLockName(r.lockName())
            .setSessionId(r.sessionId()).setToken(r.token())
            .setReason(r.reason() == StateEvent.EndReason.CLOSED ? "RELEASED" : r.reason().name()).build());
      } else if (e instanceof StateEvent.KeyChanged k) {
        WatchEvent.Builder b = WatchEvent.newBuilder().setKey(k.key())
            .setKind(k.deleted() ? WatchEventKind.KEY_DELETED : WatchEventKind.KEY_PUT);
        if (!k.deleted()) {
          // As written by this command: the state may already hold a later command's value.
          b.setKv(keyValue(k.written()));
        }
        out.add(b.build());
      }
    }
    if (out.isEmpty()) {
      return;
    }
    if (coveredAfter < 0) {
      coveredAfter = index - 1; // entries before this one that reached us had no events
    }
    long bytes = 0;
    for (WatchEvent w : out) {
      bytes += w.getSerializedSize();
    }
    Batch batch = new Batch(index, out, bytes);
    history.addLast(batch);
    historyBytes += bytes;
    while (history.size() > capacity || (historyBytes > MAX_HISTORY_BYTES && history.size() > 1)) {
      Batch gone = history.removeFirst();
      historyBytes -= gone.bytes();
      coveredAfter = gone.index();
    }
    for (Subscriber s : subscribers) {
      deliver(s, batch, true);
    }
  }

  private static void deliver(Subscriber s, Batch b, boolean live) {
    if (b.index() <= s.lastIndex) {
      return;
    }
    s.lastIndex = b.index();
    List<WatchEvent> wanted = new ArrayList<>();
    for (WatchEvent e : b.events()) {
      if (s.wants(e)) {
        wanted.add(e);
      }
    }
    if (!wanted.isEmpty()) {
      s.send(WatchResponse.newBuilder().setIndex(b.index()).addAllEvents(wanted).build(), live);
    }
  }

  static KeyValue keyValue(KvEntry e) {
    return KeyValue.newBuilder().setKey(e.key()).setValue(ByteString.copyFrom(e.value())).setRevision(e.revision())
        .setCreateRevision(e.createRevision()).setFenceLock(e.fenceLock()).setFenceToken(e.fenceToken())
        .setWrittenAtMs(e.writtenAtMs()).build();
  }

  /** Starts a watcher: the history after its index, or the current state, then live events. */
  public Runnable subscribe(WatchRequest req, ServerCallStreamObserver<WatchResponse> out) {
    Subscriber sub = new Subscriber(req, out);
    stateMachine.read(s -> {
      if (coveredAfter < 0) {
        coveredAfter = s.lastRevision();
      }
      sub.lastIndex = req.getAfterIndex();
      if (req.getAfterIndex() == 0 || req.getAfterIndex() < coveredAfter) {
        for (WatchResponse part : snapshot(s, sub)) {
          sub.send(part, false);
        }
        sub.lastIndex = s.lastRevision();
      } else {
        for (Batch b : history) {
          deliver(sub, b, false);
        }
      }
      if (!sub.ended) {
        subscribers.add(sub);
      }
      return null;
    });
    return () -> subscribers.remove(sub);
  }

  /** The current state as parts of about {@link #SNAPSHOT_PART_BYTES}; at least one, maybe empty. */
  private static List<WatchResponse> snapshot(HoldfastState s, Subscriber sub) {
    List<WatchEvent> events = new ArrayList<>();
    for (String prefix : sub.lockPrefixes) {
      for (LockRecord l : s.locks(prefix)) {
        if (l.isHeld()) {
          events.add(WatchEvent.newBuilder().setKind(WatchEventKind.LOCK_ACQUIRED).setLockName(l.name())
              .setSessionId(l.holderSessionId()).setToken(l.token()).build());
        }
      }
    }
    for (String prefix : sub.keyPrefixes) {
      for (KvEntry e : s.kvList(prefix, Integer.MAX_VALUE)) {
        events.add(WatchEvent.newBuilder().setKind(WatchEventKind.KEY_PUT).setKey(e.key()).setKv(keyValue(e)).build());
      }
    }
    return snapshotParts(s.lastRevision(), events, SNAPSHOT_PART_BYTES);
  }

  static List<WatchResponse> snapshotParts(long index, List<WatchEvent> events, int partBytes) {
    List<WatchResponse> parts = new ArrayList<>();
    WatchResponse.Builder b = WatchResponse.newBuilder().setIndex(index).setSnapshot(true);
    long bytes = 0;
    for (WatchEvent e : events) {
      int size = e.getSerializedSize();
      if (b.getEventsCount() > 0 && bytes + size > partBytes) {
        parts.add(b.setSnapshotMore(true).build());
        b = WatchResponse.newBuilder().setIndex(index).setSnapshot(true);
        bytes = 0;
      }
      b.addEvents(e);
      bytes += size;
    }
    parts.add(b.build());
    return parts;
  }

  @Override
  public void onStateReloaded() {
    // The history no longer joins up with the state: watchers resume (and get a snapshot).
    history.clear();
    historyBytes = 0;
    coveredAfter = stateMachine.read(HoldfastState::lastRevision);
    for (Subscriber s : subscribers) {
      try {
        s.out.onError(Status.UNAVAILABLE.withDescription("this node reloaded its state; resume the watch")
            .asRuntimeException());
      } catch (RuntimeException ignored) {
        // already gone
      }
    }
    subscribers.clear();
  }
}
