package io.holdfast.server.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchResponse;
import io.holdfast.proto.v1.WatchServiceGrpc;
import io.holdfast.server.state.Names;

/** The watch service: a stream of lock and key events, served by any node from its applied log. */
public final class WatchEndpoint extends WatchServiceGrpc.WatchServiceImplBase {
  static final int MAX_PREFIXES = 64;

  private final WatchHub hub;
  private final ApiErrors errors;
  private final Access access;
  private final int maxPerConnection;
  /** A linearizable point (ReadIndex): this node has applied everything committed before it. */
  private final java.util.function.Supplier<java.util.concurrent.CompletableFuture<Void>> readBarrier;
  /**
   * Where a start goes on after its barrier: Ratis completes ReadIndex futures on its apply thread
   * (on a follower), and copying a large prefix's state there would hold up every entry behind it.
   */
  private final java.util.concurrent.Executor starts;
  // Open watch streams per client connection (its remote address and port).
  private final java.util.concurrent.ConcurrentHashMap<java.net.SocketAddress, Integer> open =
      new java.util.concurrent.ConcurrentHashMap<>();

  public WatchEndpoint(WatchHub hub, ApiErrors errors, Access access, int maxPerConnection,
      java.util.function.Supplier<java.util.concurrent.CompletableFuture<Void>> readBarrier,
      java.util.concurrent.Executor starts) {
    this.readBarrier = readBarrier;
    this.starts = starts;
    this.hub = hub;
    this.errors = errors;
    this.access = access;
    this.maxPerConnection = maxPerConnection;
  }

  @Override
  public void watch(WatchRequest req, StreamObserver<WatchResponse> out) {
    String bad = null;
    if (req.getLockPrefixesCount() + req.getKeyPrefixesCount() == 0) {
      bad = "watch at least one lock prefix or key prefix (an empty prefix means all)";
    } else if (req.getLockPrefixesCount() + req.getKeyPrefixesCount() > MAX_PREFIXES) {
      bad = "at most " + MAX_PREFIXES + " prefixes per watch";
    } else if (req.getAfterIndex() < 0) {
      bad = "after_index must not be negative, got " + req.getAfterIndex();
    } else {
      for (String p : req.getLockPrefixesList()) {
        bad = p.length() > Names.MAX_LOCK_NAME ? "lock prefix longer than " + Names.MAX_LOCK_NAME : bad;
      }
      for (String p : req.getKeyPrefixesList()) {
        bad = p.length() > Names.MAX_LOCK_NAME ? "key prefix longer than " + Names.MAX_LOCK_NAME : bad;
      }
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    // Events carry values and holders, what read guards: a watch needs read as well as watch.
    for (var verb : java.util.List.of(io.holdfast.server.security.Verb.WATCH, io.holdfast.server.security.Verb.READ)) {
      for (String p : req.getLockPrefixesList()) {
        var denied = access.requireAllUnder(verb, p);
        if (denied != null) {
          out.onError(denied);
          return;
        }
      }
      for (String p : req.getKeyPrefixesList()) {
        var denied = access.requireAllUnder(verb, p);
        if (denied != null) {
          out.onError(denied);
          return;
        }
      }
    }
    java.net.SocketAddress conn = io.holdfast.server.security.Identity.connection();
    if (conn != null && maxPerConnection > 0) {
      int now = open.merge(conn, 1, Integer::sum);
      if (now > maxPerConnection) {
        open.computeIfPresent(conn, (k, n) -> n == 1 ? null : n - 1);
        out.onError(errors.of(io.holdfast.server.state.ErrorCode.RESOURCE_EXHAUSTED, "this connection already has "
            + maxPerConnection + " open watches; the limit is " + maxPerConnection + " (max-watches-per-connection)"));
        return;
      }
    }
    ServerCallStreamObserver<WatchResponse> call = (ServerCallStreamObserver<WatchResponse>) out;
    java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable release = () -> {
      if (conn != null && maxPerConnection > 0 && ended.compareAndSet(false, true)) {
        open.computeIfPresent(conn, (k, n) -> n == 1 ? null : n - 1);
      }
    };
    // The handlers go on first: whatever happens in subscribe, the connection's slot comes back.
    java.util.concurrent.atomic.AtomicReference<Runnable> unsubscribe = new java.util.concurrent.atomic.AtomicReference<>(
        () -> { });
    call.setOnCancelHandler(() -> {
      unsubscribe.get().run();
      release.run();
    });
    call.setOnCloseHandler(release);
    // gRPC takes the ready handler only now, before this method returns; the subscriber comes later.
    java.util.concurrent.atomic.AtomicReference<Runnable> onReady = new java.util.concurrent.atomic.AtomicReference<>(
        () -> { });
    call.setOnReadyHandler(() -> onReady.get().run());
    long after = req.getAfterIndex();
    if (after != 0 && after <= hub.position()) {
      start(req, call, onReady, unsubscribe, release);
      return;
    }
    // A watch that starts with the current state says "this is now": first make sure this node has
    // applied everything committed (a restarted node holds its last snapshot, a new member nothing).
    // So does one that resumes from a position this node has not reached yet.
    readBarrier.get().whenCompleteAsync((v, err) -> {
      if (call.isCancelled()) {
        return;
      }
      if (err != null) {
        release.run();
        out.onError(io.grpc.Status.UNAVAILABLE.withDescription("this node cannot confirm it is up to date ("
            + describe(err) + "); start the watch on another node").asRuntimeException());
        return;
      }
      long now = hub.position();
      if (after > now) {
        // Every position a watcher was given is committed, and this node has now applied all that
        // was: one beyond it was never handed out (a typo, another cluster's), and waiting would
        // silently drop every event up to it.
        release.run();
        out.onError(errors.invalid("after_index " + after + " is ahead of the cluster's newest revision " + now
            + ": it was not given by this cluster (0 starts with the current state)"));
        return;
      }
      start(req, call, onReady, unsubscribe, release);
    }, starts);
  }

  private static String describe(Throwable t) {
    Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }

  private void start(WatchRequest req, ServerCallStreamObserver<WatchResponse> call,
      java.util.concurrent.atomic.AtomicReference<Runnable> onReady,
      java.util.concurrent.atomic.AtomicReference<Runnable> unsubscribe, Runnable release) {
    try {
      unsubscribe.set(hub.subscribe(req, call, onReady::set));
      if (call.isCancelled()) {
        unsubscribe.get().run(); // cancelled while it started: the cancel handler saw nothing to stop
      }
    } catch (RuntimeException e) {
      release.run();
      call.onError(io.grpc.Status.INTERNAL.withDescription("the watch could not start: " + e).asRuntimeException());
    }
  }
}
