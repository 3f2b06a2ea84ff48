package io.holdfast.server.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One client's keepalive stream on the leader. Per session it has at most one renewal in flight:
 * keepalives that arrive meanwhile are answered together, by one more renewal started after the
 * last of them arrived (so no acknowledgement rests on a checkpoint proposed before its keepalive
 * arrived). A client that sends faster than checkpoints commit, or never reads its answers,
 * therefore costs the leader one renewal per session per checkpoint, not one per message, and it
 * is read no faster than its answers drain. Keepalives of sessions the leader does not know share
 * read barriers the same way: one in flight per stream, the next one started for all that came
 * meanwhile, and the stream is not read on while too many wait for it.
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

    /**
     * Completes once this node is confirmed to lead, with its state applied up to the moment of the
     * call (a read barrier); fails if it does not lead.
     */
    CompletableFuture<Void> confirmLeading();

    /**
     * Why a keepalive for a session this node does not know is refused (the stream then ends with
     * it), or null: each costs a read barrier, so it is charged to the identity's request rate.
     */
    Throwable unknownRefusal();

    /** Renews the session in the next checkpoint and answers {@code seq} once that is committed. */
    CompletableFuture<KeepAliveResponse> renew(long sessionId, long seq);

    /** The answer to {@code seq} for a session that does not exist. */
    KeepAliveResponse notFound(long sessionId, long seq);

    /** The status a failed renewal ends the stream with. */
    Throwable failure(Throwable renewalError);
  }

  private static final long NONE = Long.MIN_VALUE;
  /** Keepalives of unknown sessions that may wait for a read barrier before the stream is read on. */
  static final int MAX_AWAITING_CONFIRMATION = 4_096;
  /**
   * Sessions whose renewal is in flight before the stream stops being read. On a follower each is
   * a read the leader answers (a relay), so this bounds what one stream of made-up ids can cost;
   * a client's real sessions are renewed in a checkpoint's few milliseconds, far below it.
   */
  static final int MAX_IN_FLIGHT = 16_384;

  private record Unknown(long sessionId, long seq) {}

  private final ServerCallStreamObserver<KeepAliveResponse> call;
  private final Leader leader;
  private final int chunk;
  /** Session id -> the newest seq that arrived while its renewal was in flight, or NONE. */
  private final Map<Long, Long> inFlight = new HashMap<>();
  private boolean closed;
  /** Unknown sessions' keepalives that arrived after the read barrier in flight began. */
  private List<Unknown> awaitingConfirmation = new ArrayList<>();
  private boolean confirming;
  /** Chunks of messages due to be asked for once the answers drain and few enough wait for a barrier. */
  private int owedChunks;
  // Touched only by gRPC's serialized delivery of this stream's messages.
  private int received;

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
      synchronized (this) {
        owedChunks++;
        readOn();
      }
    }
    Throwable refused = leader.refusal(req);
    if (refused != null) {
      fail(refused);
      return;
    }
    long id = req.getSessionId();
    if (leader.mayExist(id)) {
      admit(id, req.getSeq());
      return;
    }
    Throwable limited = leader.unknownRefusal();
    if (limited != null) {
      fail(limited);
      return;
    }
    // No checkpoint (no log entry) for an id that names no session. But a leader deposed without
    // knowing it yet has not seen the sessions opened since on the new one: only once it is
    // confirmed to lead, with everything committed before applied, does "not known" mean gone.
    // The barrier must begin after the keepalive arrived: one begun before may miss its open.
    List<Unknown> batch = null;
    synchronized (this) {
      if (closed) {
        return;
      }
      awaitingConfirmation.add(new Unknown(id, req.getSeq()));
      if (!confirming) {
        confirming = true;
        batch = awaitingConfirmation;
        awaitingConfirmation = new ArrayList<>();
      }
    }
    if (batch != null) {
      confirm(batch);
    }
  }

  /** One read barrier for {@code batch}; then one for whatever came meanwhile. */
  private void confirm(List<Unknown> batch) {
    CompletableFuture<Void> barrier;
    try {
      barrier = leader.confirmLeading();
    } catch (RuntimeException e) {
      barrier = CompletableFuture.failedFuture(e);
    }
    barrier.whenComplete((v, err) -> {
      List<Unknown> next = null;
      try {
        if (err != null) {
          fail(leader.failure(err));
          return;
        }
        for (Unknown u : batch) {
          if (leader.mayExist(u.sessionId())) {
            admit(u.sessionId(), u.seq());
          } else {
            send(leader.notFound(u.sessionId(), u.seq()));
          }
        }
        synchronized (this) {
          if (closed) {
            return;
          }
          if (awaitingConfirmation.isEmpty()) {
            confirming = false;
          } else {
            next = awaitingConfirmation;
            awaitingConfirmation = new ArrayList<>();
          }
          readOn();
        }
      } catch (RuntimeException e) {
        // Unanswered, these keepalives would hold every later unknown one: end the stream instead.
        fail(leader.failure(e));
        return;
      }
      if (next != null) {
        confirm(next);
      }
    });
  }

  /**
   * Asks for the chunks owed while the answers drain (a client that stops reading stops being
   * read) and fewer than the limit wait for a barrier. Hold this.
   */
  private void readOn() {
    while (owedChunks > 0 && call.isReady() && awaitingConfirmation.size() < MAX_AWAITING_CONFIRMATION
        && inFlight.size() < MAX_IN_FLIGHT) {
      owedChunks--;
      call.request(chunk);
    }
  }

  /** Renews the session now, or folds {@code seq} into the renewal already in flight for it. */
  private void admit(long id, long seq) {
    synchronized (this) {
      if (closed) {
        return;
      }
      if (inFlight.containsKey(id)) {
        inFlight.put(id, seq);
        return;
      }
      inFlight.put(id, NONE);
    }
    renew(id, seq);
  }

  private void onReady() {
    synchronized (this) {
      readOn();
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
          if (!closed) {
            readOn(); // below the cap again, maybe
          }
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
        awaitingConfirmation.clear();
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
      awaitingConfirmation.clear();
    }
  }

  @Override
  public void onCompleted() {
    synchronized (this) {
      if (!closed) {
        closed = true;
        inFlight.clear();
        awaitingConfirmation.clear();
        call.onCompleted();
      }
    }
  }
}
