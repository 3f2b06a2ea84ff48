package io.holdfast.server.api;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.holdfast.proto.v1.KeyValue;
import io.holdfast.proto.v1.WatchEvent;
import io.holdfast.proto.v1.WatchEventKind;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.server.state.FencingToken;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.KvEntry;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.statemachine.StateObserver;
import io.holdfast.server.statemachine.StateReader;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * This node's watchers, and the recent history they resume from. Events come from apply, so every
 * node produces the same events in the same order; one response carries all of one entry's events,
 * so a watcher that resumes after index N never sees part of an entry twice or misses the rest.
 *
 * <p>Watch indexes carry the fencing epoch, like tokens and KV revisions ({@link FencingToken}): a
 * position from before a restore is below every position of the restored cluster, so resuming
 * from it gets the current state instead of silently skipping what the restore rewound.
 *
 * <p>Apply and subscribe run under the state lock, which orders deliveries per watcher. A watcher
 * that needs events older than the kept history gets the current state first ({@code snapshot =
 * true}), then live events. What a watcher catches up on at subscribe is built part by part as its
 * stream has room, outside the state lock: only references to immutable entries are taken under
 * it, so a thousand agents subscribing to a large prefix do not each copy it into this node's memory.
 */
public final class WatchHub implements StateObserver {
  private record Batch(long index, List<WatchEvent> events, long bytes) {}

  /** The history is also bounded in bytes: values can be large (up to max-value-bytes each). */
  static final long MAX_HISTORY_BYTES = 64L * 1024 * 1024;
  /** The size a snapshot's parts aim at (gRPC clients refuse messages over 4 MiB by default). */
  static final int SNAPSHOT_PART_BYTES = 1 << 20;
  /**
   * What a watcher may leave unread in this node's memory: live events sent since its stream last
   * had room, or queued behind its catch-up. A watcher that stops reading is ended with
   * RESOURCE_EXHAUSTED and resumes when it reads again (from the history, or a snapshot);
   * otherwise it would hold every later event here.
   */
  static final long MAX_UNREAD_BYTES = 32L * 1024 * 1024;
  /**
   * The same while the watcher reads its catch-up: live events queue behind a snapshot that may
   * take a while to send (128 MiB of keys, say), and a reader that keeps up must not be ended for
   * them, or its resume starts a larger snapshot, which ends the same way, for ever.
   */
  static final long MAX_UNREAD_BYTES_CATCHING_UP = 4 * MAX_UNREAD_BYTES;
  /** A catch-up counts as being read while the stream took a message this recently. */
  static final long CATCH_UP_READ_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

  private final class Subscriber {
    final List<String> lockPrefixes;
    final List<String> keyPrefixes;
    final ServerCallStreamObserver<WatchResponse> out;
    /** The last index this watcher was given or skipped; guarded by the state lock. */
    long lastIndex;
    /** History it skipped since it was last sent anything (state lock); see {@link #progress}. */
    int skippedBatches;
    long skippedBytes;

    /**
     * What the watcher still has to catch up on, built as it is sent; null once sent. Set before
     * the subscriber is reachable by apply, then touched only by the sender (see {@link #pump}).
     */
    private volatile Iterator<WatchResponse> catchUp;
    /** Live responses not yet handed to gRPC: behind the catch-up, or while the stream has no room. */
    private final ConcurrentLinkedQueue<WatchResponse> queued = new ConcurrentLinkedQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    /** Set while a pump for live responses waits on the sender (cleared before it runs, so none is missed). */
    private final AtomicBoolean pumpScheduled = new AtomicBoolean();
    /** Held by the one thread that writes to the stream at a time (gRPC's observer is not thread-safe). */
    private final AtomicBoolean sending = new AtomicBoolean();
    /** When the stream last took a message (System.nanoTime); 0: never. */
    private volatile long lastSentNanos;
    /** Its catch-up went out with live events queued behind it past the usual limit: draining them. */
    private volatile boolean drainingCatchUp;
    /** Why the node ends it; sent by the sender, once. */
    private volatile Status endWith;
    /** Set once it is gone (ended, or its stream broke). */
    private volatile boolean ended;

    Subscriber(WatchRequest req, ServerCallStreamObserver<WatchResponse> out) {
      this.lockPrefixes = covering(req.getLockPrefixesList());
      this.keyPrefixes = covering(req.getKeyPrefixesList());
      this.out = out;
    }

    boolean wants(WatchEvent e) {
      return e.getLockName().isEmpty() ? matches(keyPrefixes, e.getKey()) : matches(lockPrefixes, e.getLockName());
    }

    void startCatchUp(Iterator<WatchResponse> parts) {
      catchUp = parts;
    }

    /**
     * From apply: queues {@code r} for the sender, unless the watcher has left too much unread; a
     * catch-up under way sends it after its last part.
     */
    void sendLive(WatchResponse r) {
      if (ended) {
        return;
      }
      queued.add(r);
      long unread = queuedBytes.addAndGet(r.getSerializedSize());
      if (unread > MAX_UNREAD_BYTES) {
        long sent = lastSentNanos;
        // A reader that took a message lately and still has a catch-up (or the events queued
        // behind one) to read keeps up; and a stream with room is the sender's backlog, not its.
        boolean reading = (catchUp != null || drainingCatchUp) && sent != 0
            && System.nanoTime() - sent < CATCH_UP_READ_NANOS;
        long limit = reading ? MAX_UNREAD_BYTES_CATCHING_UP : MAX_UNREAD_BYTES;
        if (unread > limit && !out.isReady() || unread > MAX_UNREAD_BYTES_CATCHING_UP) {
          end(unreadLimit(limit));
          return;
        }
      }
      if (catchUp == null && pumpScheduled.compareAndSet(false, true)) {
        // Not on the apply thread, which holds the state lock: a thousand watchers of a large
        // value would have it encode and copy each response in turn, with every write waiting.
        // Catch-up parts go out on gRPC's onReady, likewise never here.
        try {
          sender.execute(() -> {
            pumpScheduled.set(false);
            pump();
          });
        } catch (java.util.concurrent.RejectedExecutionException closing) {
          pumpScheduled.set(false);
        }
      }
    }

    /**
     * Sends what is waiting, in order, while the stream has room: the catch-up first, then the
     * queue. One thread at a time; a thread that finds another sending leaves its work to it, and
     * the sender looks again after it lets go, so nothing queued meanwhile is stranded.
     */
    void pump() {
      while (sending.compareAndSet(false, true)) {
        try {
          Status why = endWith;
          if (why != null) {
            if (!ended) {
              gone();
              try {
                out.onError(why.asRuntimeException());
              } catch (RuntimeException alreadyGone) {
                // the stream broke first
              }
            }
            return;
          }
          while (!ended && endWith == null && out.isReady()) {
            WatchResponse next;
            Iterator<WatchResponse> parts = catchUp;
            if (parts != null) {
              if (!parts.hasNext()) {
                catchUp = null;
                drainingCatchUp = queuedBytes.get() > MAX_UNREAD_BYTES;
                continue;
              }
              next = parts.next();
            } else {
              next = queued.poll();
              if (next == null) {
                break;
              }
              if (queuedBytes.addAndGet(-next.getSerializedSize()) <= MAX_UNREAD_BYTES) {
                drainingCatchUp = false;
              }
            }
            out.onNext(next);
            lastSentNanos = System.nanoTime();
          }
        } catch (RuntimeException | Error e) {
          // This watcher's stream is in an unknown state (an Error from gRPC's write, or while
          // building a catch-up part): it goes, the others and the thread do not. Its call is ended
          // too (gRPC has already, after a failed write), so the client resumes from its position.
          gone();
          LOG.warn("A watch stream failed while sending; ended it", e);
          try {
            out.onError(Status.INTERNAL.withDescription("this node failed sending the watch ("
                + e.getClass().getSimpleName() + "); resume it").asRuntimeException());
          } catch (RuntimeException alreadyEnded) {
            // the call was closed already
          }
        } finally {
          sending.set(false);
        }
        if (ended || endWith == null && (!out.isReady() || catchUp == null && queued.isEmpty())) {
          return;
        }
      }
    }

    /** Ends it with {@code why}: whoever sends next tells the client. */
    void end(Status why) {
      if (endWith == null) {
        endWith = why;
      }
      subscribers.remove(this);
      pump();
    }

    void gone() {
      ended = true;
      catchUp = null;
      queued.clear();
      queuedBytes.set(0);
      subscribers.remove(this);
    }
  }

  private static Status unreadLimit(long limit) {
    return Status.RESOURCE_EXHAUSTED.withDescription("this watcher left more than " + limit / (1024 * 1024)
        + " MiB of events unread; resume the watch once it reads again");
  }

  private static boolean matches(List<String> prefixes, String name) {
    for (String p : prefixes) {
      if (name.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WatchHub.class);

  private final StateReader state;
  private final int capacity;
  private final java.util.concurrent.Executor sender;
  private final ArrayDeque<Batch> history = new ArrayDeque<>(); // guarded by the state lock
  private long historyBytes;
  private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();

  /** Open watches on this node. */
  public int subscriberCount() {
    return subscribers.size();
  }
  /** Every entry with events after this index is in {@link #history}; -1 until known. */
  private long coveredAfter = -1;
  /** Why this node serves no watches now (it lost touch with the leader), or null. */
  private volatile String outOfTouch;

  /** {@code sender} writes live responses to the streams: never the apply thread. */
  public WatchHub(StateReader state, int capacity, java.util.concurrent.Executor sender) {
    this.state = state;
    this.capacity = capacity;
    this.sender = sender;
  }

  @Override
  public void onApplied(List<StateEvent> events) {
    List<WatchEvent> out = new ArrayList<>();
    // One entry's events go out together, at its last revision (a batch spans several).
    long index = FencingToken.value(state.read(HoldfastState::fencingEpoch), events.get(events.size() - 1).index());
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
    Batch batch = new Batch(index, List.copyOf(out), bytes);
    history.addLast(batch);
    historyBytes += bytes;
    while (history.size() > capacity || (historyBytes > MAX_HISTORY_BYTES && history.size() > 1)) {
      Batch gone = history.removeFirst();
      historyBytes -= gone.bytes();
      coveredAfter = gone.index();
    }
    for (Subscriber s : subscribers) {
      if (batch.index() > s.lastIndex) {
        s.lastIndex = batch.index();
        WatchResponse r = response(batch, s);
        if (r != null) {
          s.skippedBatches = 0;
          s.skippedBytes = 0;
          s.sendLive(r);
        } else {
          progress(s, batch);
        }
      }
    }
  }

  /**
   * A watcher whose prefixes see nothing while others are busy would fall out of the history, and
   * get the whole state on its next resume (after every failover). Before a quarter of the history
   * has gone by unseen, it is told its position: a response with no events.
   */
  private void progress(Subscriber s, Batch skipped) {
    s.skippedBatches++;
    s.skippedBytes += skipped.bytes();
    if (s.skippedBatches >= Math.max(1, capacity / 4) || s.skippedBytes >= MAX_HISTORY_BYTES / 4) {
      s.skippedBatches = 0;
      s.skippedBytes = 0;
      s.sendLive(WatchResponse.newBuilder().setIndex(skipped.index()).build());
    }
  }

  /** What of {@code b} the subscriber wants, or null if nothing. */
  private static WatchResponse response(Batch b, Subscriber s) {
    List<WatchEvent> wanted = new ArrayList<>();
    for (WatchEvent e : b.events()) {
      if (s.wants(e)) {
        wanted.add(e);
      }
    }
    return wanted.isEmpty() ? null : WatchResponse.newBuilder().setIndex(b.index()).addAllEvents(wanted).build();
  }

  static KeyValue keyValue(KvEntry e) {
    // value() is already a private copy: wrapping it saves a second one.
    return KeyValue.newBuilder().setKey(e.key()).setValue(UnsafeByteOperations.unsafeWrap(e.value()))
        .setRevision(e.revision()).setCreateRevision(e.createRevision()).setFenceLock(e.fenceLock())
        .setFenceToken(e.fenceToken()).setWrittenAtMs(e.writtenAtMs()).build();
  }

  /** The newest position this node has applied (a watch index: the fencing epoch included). */
  public long position() {
    return state.read(s -> FencingToken.value(s.fencingEpoch(), s.lastRevision()));
  }

  /**
   * Starts a watcher: the history after its index, or the current state, then live events. The
   * returned action stops it (the stream was cancelled).
   */
  public Runnable subscribe(WatchRequest req, ServerCallStreamObserver<WatchResponse> out) {
    return subscribe(req, out, out::setOnReadyHandler);
  }

  /** As above; {@code onReady} takes the subscriber's ready handler (gRPC's own, set earlier). */
  public Runnable subscribe(WatchRequest req, ServerCallStreamObserver<WatchResponse> out,
      java.util.function.Consumer<Runnable> onReady) {
    String why = outOfTouch;
    if (why != null) {
      out.onError(Status.UNAVAILABLE.withDescription(why).asRuntimeException());
      return () -> { };
    }
    Subscriber sub = new Subscriber(req, out);
    // The catch-up goes out as the stream has room.
    onReady.accept(sub::pump);
    Status refused = state.read(s -> {
      long epoch = s.fencingEpoch();
      long now = FencingToken.value(epoch, s.lastRevision());
      if (coveredAfter < 0) {
        coveredAfter = now;
      }
      long after = req.getAfterIndex();
      if (after >>> FencingToken.INDEX_BITS > epoch) {
        // A node that has not loaded the restored state yet (a new member) cannot tell this from a
        // position of another cluster: the client tries another node.
        return Status.UNAVAILABLE.withDescription("after_index " + after + " is from fencing epoch "
            + (after >>> FencingToken.INDEX_BITS) + ", and this node is in epoch " + epoch
            + ": it has not caught up with that position; resume on another node");
      }
      if (after == 0 || after < coveredAfter) {
        sub.startCatchUp(snapshotParts(now, snapshotEvents(s, sub), SNAPSHOT_PART_BYTES));
        sub.lastIndex = now;
      } else {
        List<Batch> newer = new ArrayList<>();
        for (Batch b : history) {
          if (b.index() > after) {
            newer.add(b);
          }
        }
        List<WatchResponse> wanted = new ArrayList<>();
        long lastWanted = after;
        for (Batch b : newer) {
          WatchResponse r = response(b, sub);
          if (r != null) {
            wanted.add(r);
            lastWanted = b.index();
          }
        }
        sub.lastIndex = newer.isEmpty() ? after : newer.get(newer.size() - 1).index();
        if (sub.lastIndex > lastWanted) {
          // The history it skipped counts as seen: its next resume starts from here.
          wanted.add(WatchResponse.newBuilder().setIndex(sub.lastIndex).build());
        }
        sub.startCatchUp(wanted.iterator());
      }
      subscribers.add(sub);
      return null;
    });
    if (refused != null) {
      out.onError(refused.asRuntimeException());
      return () -> { };
    }
    sub.pump();
    return sub::gone;
  }

  /**
   * The current state as events, taken under the state lock: held locks are copied (they change in
   * place), keys are referenced (entries are immutable) and turned into messages as they are sent.
   */
  /**
   * The prefixes that cover all of {@code prefixes} ("fleet/" covers "fleet/a"), sorted: the
   * starting state lists each lock and key once, however the prefixes overlap.
   */
  static List<String> covering(List<String> prefixes) {
    List<String> out = new ArrayList<>();
    for (String p : new java.util.TreeSet<>(prefixes)) {
      if (out.isEmpty() || !p.startsWith(out.get(out.size() - 1))) {
        out.add(p);
      }
    }
    return List.copyOf(out);
  }

  private static Iterator<WatchEvent> snapshotEvents(HoldfastState s, Subscriber sub) {
    List<WatchEvent> locks = new ArrayList<>();
    for (String prefix : sub.lockPrefixes) {
      for (LockRecord l : s.locks(prefix)) {
        if (l.isHeld()) {
          locks.add(WatchEvent.newBuilder().setKind(WatchEventKind.LOCK_ACQUIRED).setLockName(l.name())
              .setSessionId(l.holderSessionId()).setToken(l.token()).build());
        }
      }
    }
    List<KvEntry> keys = new ArrayList<>();
    for (String prefix : sub.keyPrefixes) {
      keys.addAll(s.kvList(prefix, Integer.MAX_VALUE));
    }
    return Stream.concat(locks.stream(), keys.stream().map(e -> WatchEvent.newBuilder()
        .setKind(WatchEventKind.KEY_PUT).setKey(e.key()).setKv(keyValue(e)).build())).iterator();
  }

  /**
   * A snapshot as parts of about {@code partBytes}, built one at a time as they are asked for;
   * at least one part, maybe empty, and every part but the last has {@code snapshot_more}.
   */
  static Iterator<WatchResponse> snapshotParts(long index, Iterator<WatchEvent> events, int partBytes) {
    return new Iterator<>() {
      private WatchEvent carried;
      private boolean done;

      @Override
      public boolean hasNext() {
        return !done;
      }

      @Override
      public WatchResponse next() {
        if (done) {
          throw new NoSuchElementException();
        }
        WatchResponse.Builder b = WatchResponse.newBuilder().setIndex(index).setSnapshot(true);
        long bytes = 0;
        while (true) {
          WatchEvent e = carried != null ? carried : events.hasNext() ? events.next() : null;
          carried = null;
          if (e == null) {
            done = true;
            return b.build();
          }
          int size = e.getSerializedSize();
          if (b.getEventsCount() > 0 && bytes + size > partBytes) {
            carried = e;
            return b.setSnapshotMore(true).build();
          }
          b.addEvents(e);
          bytes += size;
        }
      }
    };
  }

  /**
   * How long ago this node last heard from a Raft leader (0 while it leads). Past {@code limitMs}
   * its state may be stale for as long as the cut lasts, and nothing would tell a watcher: its
   * watchers are ended with UNAVAILABLE, and new ones refused, so that they resume on a node that
   * has a leader. Called every few hundred milliseconds.
   */
  public void leaderContact(long sinceMs, long limitMs) {
    if (sinceMs <= limitMs) {
      outOfTouch = null;
      return;
    }
    String why = "this node has not heard from a Raft leader for " + sinceMs + " ms; resume the watch on another node";
    outOfTouch = why;
    // Every call, not only the first: a watcher that subscribed while this one ran is ended next time.
    for (Subscriber s : subscribers) {
      s.end(Status.UNAVAILABLE.withDescription(why));
    }
  }

  @Override
  public void onStateReloaded() {
    // The history no longer joins up with the state: watchers resume (and get a snapshot).
    history.clear();
    historyBytes = 0;
    coveredAfter = state.read(s -> FencingToken.value(s.fencingEpoch(), s.lastRevision()));
    for (Subscriber s : subscribers) {
      s.end(Status.UNAVAILABLE.withDescription("this node reloaded its state; resume the watch"));
    }
  }
}
