package io.holdfast.server.api;

import io.holdfast.proto.v1.HeldLock;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.server.ops.ServerMetrics;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.session.RenewalCheckpointer;
import io.holdfast.server.state.FencingToken;
import java.util.concurrent.CompletableFuture;

/**
 * The leader's side of a keepalive, whichever way it came: from a client's own stream, or passed
 * on by a follower for a client that cannot reach the leader.
 */
final class LeaderRenewals {
  private final RaftNode raft;
  private final RenewalCheckpointer checkpointer;
  private final ServerMetrics metrics;

  LeaderRenewals(RaftNode raft, RenewalCheckpointer checkpointer, ServerMetrics metrics) {
    this.raft = raft;
    this.checkpointer = checkpointer;
    this.metrics = metrics;
  }

  /**
   * Whether the session exists in this leader's applied state. A ready leader has applied every
   * open a client can have heard of, so one it does not know is gone (or never was).
   */
  boolean knows(long sessionId) {
    return raft.stateMachine().read(s -> s.session(sessionId) != null);
  }

  /** Renews the session in the next checkpoint and answers {@code seq} once that is committed. */
  CompletableFuture<KeepAliveResponse> renew(long sessionId, long seq) {
    var timer = metrics.keepalive();
    return checkpointer.renew(sessionId).whenComplete((renewed, err) -> timer.stop())
        .thenApply(renewed -> answer(sessionId, seq, renewed));
  }

  /** The answer to {@code seq} for a renewed (or, if {@code renewed} is false, unknown) session. */
  KeepAliveResponse answer(long sessionId, long seq, boolean renewed) {
    KeepAliveResponse.Builder b = KeepAliveResponse.newBuilder().setSessionId(sessionId).setSeq(seq)
        .setAlive(renewed);
    if (!renewed) {
      b.setError(io.holdfast.proto.v1.ErrorCode.SESSION_NOT_FOUND);
    } else {
      raft.stateMachine().read(s -> {
        // In token terms, so that the client can tell which of its grants this answer covers.
        b.setAsOfIndex(FencingToken.value(s.fencingEpoch(), s.lastRevision()));
        for (String name : s.heldLocks(sessionId)) {
          b.addHeldLocks(HeldLock.newBuilder().setName(name).setToken(s.lock(name).token()));
        }
        return null;
      });
    }
    return b.build();
  }
}
