package io.holdfast.client.internal;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watch stream that resumes itself: after a failure it reconnects (next endpoint, with backoff)
 * asking for events after the last index it delivered. Batches are delivered on the stream's own
 * callback thread, one at a time, in log order. A batch counts as delivered once the listener
 * returns: if it throws, the watch logs it and resumes from before that batch (with the same
 * backoff), so the listener is given it again.
 */
public final class RealWatch implements Watch {
  private static final Logger LOG = LoggerFactory.getLogger(RealWatch.class);

  private final Caller caller;
  private final List<String> lockPrefixes;
  private final List<String> keyPrefixes;
  private final Consumer<WatchBatch> listener;
  private volatile long lastIndex;
  private volatile boolean closed;
  private ClientCallStreamObserver<WatchRequest> call; // guarded by this
  /** Where the next stream goes; null: the client's current endpoint. A watch's own, so that its failures do not move the client's calls. */
  private String endpoint; // guarded by this
  private int failures; // guarded by this
  /** The batch the listener last threw on, and how many times in a row. */
  private long failingIndex = -1; // guarded by this
  private int listenerFailures; // guarded by this
  static final int MAX_LISTENER_FAILURES = 3;
  private final CompletableFuture<Void> ended = new CompletableFuture<>();

  RealWatch(Caller caller, List<String> lockPrefixes, List<String> keyPrefixes, long afterIndex,
      Consumer<WatchBatch> listener) {
    this.caller = caller;
    this.lockPrefixes = List.copyOf(lockPrefixes);
    this.keyPrefixes = List.copyOf(keyPrefixes);
    this.lastIndex = afterIndex;
    this.listener = listener;
    open();
  }

  private synchronized void open() {
    if (closed) {
      return;
    }
    if (endpoint == null || !caller.endpoints().all().contains(endpoint)) {
      endpoint = caller.endpoints().current();
    }
    String endpoint = this.endpoint;
    WatchRequest req = WatchRequest.newBuilder().addAllLockPrefixes(lockPrefixes).addAllKeyPrefixes(keyPrefixes)
        .setAfterIndex(lastIndex).build();
    WatchServiceGrpc.newStub(caller.endpoints().channel(endpoint)).watch(req,
        new ClientResponseObserver<WatchRequest, WatchResponse>() {
          /** The parts of a snapshot received so far on this stream. */
          private WatchResponse.Builder parts;
          /** The listener threw: what this stream still brings is not delivered; the watch resumes. */
          private boolean abandoned;
          private ClientCallStreamObserver<WatchRequest> mine;

          @Override
          public void beforeStart(ClientCallStreamObserver<WatchRequest> stream) {
            mine = stream;
            call = stream;
          }

          @Override
          public void onNext(WatchResponse r) {
            if (closed || abandoned || r.getIndex() <= lastIndex && !r.getSnapshot()) {
              return;
            }
            if (r.getSnapshot() && (r.getSnapshotMore() || parts != null)) {
              // One snapshot, one batch: the listener never sees part of the state as all of it.
              parts = parts == null ? r.toBuilder() : parts.addAllEvents(r.getEventsList());
              if (r.getSnapshotMore()) {
                return;
              }
              r = parts.setSnapshotMore(false).build();
              parts = null;
            }
            if (r.getEventsCount() > 0 || r.getSnapshot()) {
              try {
                listener.accept(batch(r)); // else progress: only the position moves
              } catch (RuntimeException e) {
                // The position stays before this batch: the resumed stream brings it again. Thrown
                // on, gRPC would cancel the call just the same, but after the position had moved.
                abandoned = true;
                boolean giveUp;
                synchronized (RealWatch.this) {
                  listenerFailures = failingIndex == r.getIndex() ? listenerFailures + 1 : 1;
                  failingIndex = r.getIndex();
                  giveUp = listenerFailures >= MAX_LISTENER_FAILURES;
                }
                if (giveUp) {
                  // Each retry may cost the server a whole snapshot; a listener that always throws
                  // on this batch would stall the watch for ever. End it, and say why.
                  LOG.error("watch listener failed {} times on the batch at index {}; ending the watch",
                      MAX_LISTENER_FAILURES, r.getIndex(), e);
                  closed = true;
                  ended.completeExceptionally(e);
                } else {
                  LOG.warn("watch listener failed on the batch at index {}; resuming before it", r.getIndex(), e);
                }
                mine.cancel("the watch listener failed", e);
                return;
              }
            }
            synchronized (RealWatch.this) {
              failures = 0;
              listenerFailures = 0;
            }
            lastIndex = r.getIndex();
          }

          @Override
          public void onError(Throwable t) {
            failed(endpoint, t, abandoned);
          }

          @Override
          public void onCompleted() {
            failed(endpoint, null, abandoned);
          }
        });
  }

  /** {@code ownCancel}: this watch cancelled the stream (its listener threw); the node is not to blame. */
  private void failed(String endpoint, Throwable t, boolean ownCancel) {
    if (closed) {
      return;
    }
    if (t instanceof io.grpc.StatusRuntimeException e && permanent(e.getStatus().getCode())) {
      // No other node or later retry answers differently: stop, and say why.
      closed = true;
      LOG.warn("watch refused by {}: {}", endpoint, e.getStatus());
      ended.completeExceptionally(Errors.map(e));
      return;
    }
    long delay;
    int inARow;
    synchronized (this) {
      failures++;
      inARow = failures;
      delay = Math.min(2_000, 50L << Math.min(6, failures - 1));
      if (!ownCancel) {
        // Down, cut off, or ended on purpose (a reader too slow, its limit of watches, out of
        // touch with the leader): the next node may serve it. The client's own calls find a dead
        // node themselves; a watch never moves them (most of these say nothing of the node).
        this.endpoint = nextAfter(endpoint);
      }
    }
    if (inARow == 5 || inARow % 50 == 0) {
      LOG.warn("watch could not resume after index {} in {} tries; the last, on {}, ended with {}", lastIndex,
          inARow, endpoint, t == null ? "the stream completed" : t.toString());
    } else {
      LOG.debug("watch on {} ended ({}); resuming after index {} in {} ms", endpoint, t, lastIndex, delay);
    }
    try {
      caller.scheduler().schedule(this::open, delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException clientClosed) {
      closed = true;
    }
  }

  private String nextAfter(String endpoint) {
    List<String> all = caller.endpoints().all();
    int i = all.indexOf(endpoint);
    return all.isEmpty() ? null : all.get((i + 1) % all.size());
  }

  static WatchBatch batch(WatchResponse r) {
    List<WatchEvent> events = new ArrayList<>();
    for (io.holdfast.proto.v1.WatchEvent e : r.getEventsList()) {
      WatchEvent.Kind kind = switch (e.getKind()) {
        case LOCK_ACQUIRED -> WatchEvent.Kind.LOCK_ACQUIRED;
        case LOCK_RELEASED -> WatchEvent.Kind.LOCK_RELEASED;
        case KEY_PUT -> WatchEvent.Kind.KEY_PUT;
        default -> WatchEvent.Kind.KEY_DELETED;
      };
      events.add(new WatchEvent(kind, e.getLockName(), e.getSessionId(), e.getToken(), e.getReason(), e.getKey(),
          e.hasKv() ? RealKvClient.keyValue(e.getKv()) : null));
    }
    return new WatchBatch(r.getIndex(), r.getSnapshot(), events);
  }

  private static boolean permanent(io.grpc.Status.Code code) {
    return code == io.grpc.Status.Code.INVALID_ARGUMENT || code == io.grpc.Status.Code.PERMISSION_DENIED
        || code == io.grpc.Status.Code.UNAUTHENTICATED;
  }

  @Override
  public long lastIndex() {
    return lastIndex;
  }

  @Override
  public CompletableFuture<Void> ended() {
    return ended.copy();
  }

  @Override
  public synchronized void close() {
    closed = true;
    ended.complete(null);
    if (call != null) {
      call.cancel("watch closed", null);
    }
  }
}
