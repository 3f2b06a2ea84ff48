package io.holdfast.server.api;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.server.raft.RaftCallException;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.statemachine.proto.ForwardedKeepAlive;
import io.holdfast.server.statemachine.proto.ForwardedKeepAliveReply;
import io.holdfast.server.statemachine.proto.PeerQuery;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Keepalives that a follower passes on to the leader, for a client that reaches the follower but
 * not the leader (a one-sided partition, a firewall rule, a broken route). Without them such a
 * client loses its session, and with it its locks, while the cluster is healthy. The follower only
 * relays, over Raft's links; the leader checks that the identity the follower authenticated owns
 * the session, renews it and answers exactly as on its own stream. Clients ask for this
 * ({@code KeepAliveRequest.forward}) only after failing to reach the leader, so a healthy cluster
 * carries no relayed traffic.
 */
final class ForwardedKeepAlives {
  private final RaftNode raft;
  private final LeaderRenewals renewals;
  private final Access access;
  private final com.codahale.metrics.Counter relayed;
  private final com.codahale.metrics.Counter served;

  ForwardedKeepAlives(RaftNode raft, LeaderRenewals renewals, Access access,
      com.codahale.metrics.MetricRegistry registry) {
    this.raft = raft;
    this.renewals = renewals;
    this.access = access;
    this.relayed = registry.counter("holdfast_keepalives_relayed_to_leader");
    this.served = registry.counter("holdfast_keepalives_relayed_by_followers");
  }

  /** On a follower: passes one keepalive of {@code principal}'s on to the leader and returns its answer. */
  CompletableFuture<KeepAliveResponse> forward(long sessionId, long seq, String principal) {
    relayed.inc();
    byte[] query = PeerQuery.newBuilder().setKeepalive(ForwardedKeepAlive.newBuilder()
        .setSessionId(sessionId).setSeq(seq).setPrincipal(principal)).build().toByteArray();
    String leaderId = raft.leaderIdOrNull();
    String leaderAddress = leaderId == null ? null : raft.clientAddressOf(leaderId);
    return raft.askLeader(query).thenApply(bytes -> {
      ForwardedKeepAliveReply reply;
      KeepAliveResponse response;
      try {
        reply = ForwardedKeepAliveReply.parseFrom(bytes);
        response = KeepAliveResponse.parseFrom(reply.getResponse());
      } catch (InvalidProtocolBufferException e) {
        throw new CompletionException(new RaftCallException(ErrorCode.NO_LEADER, null,
            "the leader's answer to a relayed keepalive could not be read: " + e.getMessage()));
      }
      if (!reply.getDenied().isEmpty()) {
        throw new CompletionException(new RaftCallException(ErrorCode.PERMISSION_DENIED, null, reply.getDenied()));
      }
      if (response.getSessionId() != sessionId || response.getSeq() != seq) {
        // An empty answer: the leader runs a version that does not know relayed keepalives.
        throw new CompletionException(new RaftCallException(ErrorCode.NO_LEADER, null,
            "the leader did not answer the relayed keepalive (does it run an older version?)"));
      }
      KeepAliveResponse.Builder relayed = response.toBuilder().setRelayed(true);
      if (leaderAddress != null) {
        relayed.setLeader(leaderAddress);
      }
      return relayed.build();
    });
  }

  /** On the leader: answers a query a follower sent with {@link #forward}. */
  CompletableFuture<byte[]> answer(byte[] query) {
    PeerQuery q;
    try {
      q = PeerQuery.parseFrom(query);
    } catch (InvalidProtocolBufferException e) {
      return CompletableFuture.failedFuture(new IllegalArgumentException("unreadable peer query: " + e.getMessage()));
    }
    if (!q.hasKeepalive()) {
      return CompletableFuture.failedFuture(new IllegalArgumentException("unknown peer query: " + q.getKindCase()));
    }
    ForwardedKeepAlive k = q.getKeepalive();
    served.inc();
    var denied = access.requireOwner(k.getSessionId(), k.getPrincipal());
    if (denied != null) {
      String why = denied.getStatus().getDescription();
      return CompletableFuture.completedFuture(ForwardedKeepAliveReply.newBuilder()
          .setDenied(why == null ? "permission denied" : why).build().toByteArray());
    }
    CompletableFuture<KeepAliveResponse> answer = renewals.knows(k.getSessionId())
        ? renewals.renew(k.getSessionId(), k.getSeq())
        : CompletableFuture.completedFuture(renewals.answer(k.getSessionId(), k.getSeq(), false));
    return answer.thenApply(r -> ForwardedKeepAliveReply.newBuilder().setResponse(r.toByteString()).build().toByteArray());
  }
}
