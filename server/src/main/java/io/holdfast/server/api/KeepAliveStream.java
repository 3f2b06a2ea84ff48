package io.holdfast.server.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One client's keepalive stream on the leader. Per session it has at most one renewal in flight:
 * keepalives that arrive meanwhile are answered together, by one more renewal started after the
 * last of them arrived (so no acknowledgement rests on a checkpoint proposed before its keepalive
 * arrived). A client that sends faster than checkpoints commit, or never reads its answers,
 * therefore costs the leader one renewal per session per checkpoint, not one per message, and it
 * is read no faster than its answers drain.
 */
final class KeepAliveStream implements StreamObserver<KeepAliveRequest> {
  /** What the stream needs from the leader (this node, or the leader a follower relays to). */
  interface Leader {
    /** Why this keepalive is refused (the stream then ends with it), or null. */
    Throwable refusal(KeepAliveRequest req);

    /**
     * False only if the session is known to be gone (or never was): it is then answered at once,
     * without a renewal.
     */
    boolean mayExist(long sessionId);

    /** Renews the session in the next checkpoint and answers {@code seq} once that is committed. */
    CompletableFuture<KeepAliveResponse> renew(long sessionId, long seq);

    /** The answer to {@code seq} for a session that does not exist. */
    KeepAliveResponse notFound(long sessionId, long seq);

    /** The status a failed renewal ends the stream with. */
    Throwable failure(Throwable renewalError);
  }

  private static final long NONE = Long.MIN_VALUE;

  private final ServerCallStreamObserver<KeepAliveResponse> call;
  private final Leader leader;
  private final int chunk;
  /** Session id -> the newest seq that arrived while its renewal was in flight, or NONE. */
  private final Map<Long, Long> inFlight = new HashMap<>();
  private boolean closed;
  // Touched only by gRPC's serialized delivery of this stream's messages and onReady.
  private int received;
  private boolean requestWhenReady;

  KeepAliveStream(ServerCallStreamObserver<KeepAliveResponse> call, Leader leader, int chunk) {
    this.call = call;
    this.leader = leader;
    this.chunk = chunk;
    call.disableAutoRequest();
    call.setOnReadyHandler(this::onReady);
    call.request(2 * chunk);
  }

  @Override
  public void onNext(KeepAliveRequest req) {
    if (++received == chunk) {
      received = 0;
      // Read on only while the answers drain: a client that stops reading stops being read.
      if (call.isReady()) {
        call.request(chunk);
      } else {
        requestWhenReady = true;
      }
    }
    Throwable refused = leader.refusal(req);
    if (refused != null) {
      fail(refused);
      return;
    }
    long id = req.getSessionId();
    if (!leader.mayExist(id)) {
      // Answered at once: no checkpoint (no log entry) for an id that names no session.
      send(leader.notFound(id, req.getSeq()));
      return;
    }
    synchronized (this) {
      if (closed) {
        return;
      }
      if (inFlight.containsKey(id)) {
        inFlight.put(id, req.getSeq());
        return;
      }
      inFlight.put(id, NONE);
    }
    renew(id, req.getSeq());
  }

  private void onReady() {
    if (requestWhenReady && call.isReady()) {
      requestWhenReady = false;
      call.request(chunk);
    }
  }

  private void renew(long id, long seq) {
    leader.renew(id, seq).whenComplete((answer, err) -> {
      if (err != null) {
        fail(leader.failure(err));
        return;
      }
      send(answer);
      long next;
      synchronized (this) {
        Long wanted = inFlight.get(id);
        if (closed || wanted == null || wanted == NONE) {
          inFlight.remove(id);
          return;
        }
        next = wanted;
        inFlight.put(id, NONE);
      }
      renew(id, next);
    });
  }

  private void send(KeepAliveResponse r) {
    synchronized (this) {
      if (!closed && !call.isCancelled()) {
        call.onNext(r);
      }
    }
  }

  private void fail(Throwable t) {
    synchronized (this) {
      if (!closed) {
        closed = true;
        inFlight.clear();
        if (!call.isCancelled()) {
          call.onError(t);
        }
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    synchronized (this) {
      closed = true;
      inFlight.clear();
    }
  }

  @Override
  public void onCompleted() {
    synchronized (this) {
      if (!closed) {
        closed = true;
        inFlight.clear();
        call.onCompleted();
      }
    }
  }
}
