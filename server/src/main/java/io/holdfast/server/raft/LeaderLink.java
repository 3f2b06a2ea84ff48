package io.holdfast.server.raft;

import io.holdfast.server.state.ErrorCode;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * A follower's line to the current leader over Raft's own port (and its peer TLS), for what a
 * client could not bring to the leader itself. Each query is a Ratis read-only request that the
 * leader's state machine answers; nothing goes through the log. One Ratis client is kept for the
 * leader of the moment and replaced when the leader changes: a new one costs a connection and,
 * with peer TLS, a handshake.
 */
final class LeaderLink implements AutoCloseable {
  /**
   * A query or write the leader has not answered in this long has failed. A write's wait for a
   * writer and its send fit together in the bound the forwarding caller answers its client by:
   * longer, a write would stay in flight (and hold one of the {@link #WRITERS}) after its client
   * was told to retry, which logs a second copy of it.
   */
  private final long timeoutMs;

  private record Link(RaftPeer leader, RaftClient client) {}

  private final RaftGroupId groupId;
  private final Parameters parameters;
  private Link link; // guarded by this
  private boolean closed; // guarded by this
  private final ExecutorService closer = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "holdfast-leader-link-closer");
    t.setDaemon(true);
    return t;
  });
  /** Writes passed on at once, and queued behind them; more are refused (the client retries). */
  static final int WRITERS = 8;
  static final int WRITE_QUEUE = 200;
  private final java.util.concurrent.ThreadPoolExecutor writers = new java.util.concurrent.ThreadPoolExecutor(WRITERS,
      WRITERS, 30, java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(WRITE_QUEUE),
      r -> {
        Thread t = new Thread(r, "holdfast-forward");
        t.setDaemon(true);
        return t;
      });

  {
    writers.allowCoreThreadTimeOut(true);
  }

  LeaderLink(RaftGroupId groupId, Parameters parameters, long timeoutMs) {
    this.groupId = groupId;
    this.parameters = parameters;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Sends {@code query} to {@code leader} and completes with its answer, or with a
   * {@link RaftCallException}: NO_LEADER when the leader could not be reached or no longer leads
   * (the caller may try again once a leader is known).
   */
  CompletableFuture<byte[]> ask(RaftPeer leader, byte[] query) {
    Link l;
    try {
      l = linkTo(leader);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(unreachable(leader, e));
    }
    CompletableFuture<RaftClientReply> sent;
    try {
      // Linearizable: the leader confirms it still leads before it answers (a Raft ReadIndex).
      sent = l.client().async().sendReadOnlyUnordered(Message.valueOf(ByteString.copyFrom(query)), leader.getId());
    } catch (RuntimeException e) {
      drop(l);
      return CompletableFuture.failedFuture(unreachable(leader, e));
    }
    return sent.handle((reply, error) -> {
      Throwable failure = error != null ? error : reply.isSuccess() ? null : reply.getException();
      if (failure != null) {
        while (failure instanceof CompletionException && failure.getCause() != null) {
          failure = failure.getCause();
        }
        if (error != null && !(failure instanceof NotLeaderException)) {
          // No answer at all (a timeout, a broken channel): make the link again next time. A node
          // that answered with a refusal (no longer the leader) showed the link works.
          drop(l);
        }
        throw new CompletionException(unreachable(leader, failure));
      }
      return reply.getMessage().getContent().toByteArray();
    });
  }

  /**
   * Sends {@code command} (an encoded command) to {@code leader} as a Ratis write: the leader logs
   * it as it would its own client's. Completes with the leader's reply (success or not), or with a
   * NO_LEADER {@link RaftCallException} when there was no answer.
   */
  CompletableFuture<RaftClientReply> write(RaftPeer leader, byte[] command, long giveUpAtNanos) {
    CompletableFuture<RaftClientReply> sent = new CompletableFuture<>();
    try {
      // Ratis's async writes are ordered per client: one failure fails every later one, and a full
      // window blocks the caller (a gRPC thread). Blocking sends on a pool of their own instead.
      writers.execute(() -> {
        if (System.nanoTime() - giveUpAtNanos > 0) {
          // Queued past its caller's bound: the client has moved on (and retries with the same id).
          sent.completeExceptionally(unreachable(leader, new java.util.concurrent.TimeoutException("queued too long")));
          return;
        }
        Link l = null;
        try {
          l = linkTo(leader);
          sent.complete(l.client().io().send(Message.valueOf(ByteString.copyFrom(command))));
        } catch (org.apache.ratis.protocol.exceptions.StateMachineException refused) {
          // The leader answered: it would not log the command. The link is fine.
          sent.completeExceptionally(refused);
        } catch (java.io.IOException | RuntimeException e) {
          if (l != null) {
            drop(l);
          }
          sent.completeExceptionally(unreachable(leader, e));
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Busy (or stopping): a retryable refusal, so that the client backs off and comes again.
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.NO_LEADER, null,
          "this node is already passing " + WRITE_QUEUE + " writes on to the leader; try again shortly"));
    }
    return sent;
  }

  private static RaftCallException unreachable(RaftPeer leader, Throwable why) {
    return new RaftCallException(ErrorCode.NO_LEADER, null,
        "could not pass the request on to the leader " + leader.getId() + ": " + why);
  }

  private synchronized Link linkTo(RaftPeer leader) {
    if (closed) {
      throw new IllegalStateException("the node is stopping");
    }
    if (link != null && link.leader().getId().equals(leader.getId())
        && link.leader().getAddress().equals(leader.getAddress())) {
      return link;
    }
    if (link != null) {
      closeLater(link.client());
    }
    link = new Link(leader, PeerRaftClients.to(leader, groupId, parameters, timeoutMs));
    return link;
  }

  /** A link whose transport failed is made again on the next ask (its channel may be stuck). */
  private synchronized void drop(Link l) {
    if (link == l) {
      link = null;
      closeLater(l.client());
    }
  }

  private void closeLater(RaftClient client) {
    PeerRaftClients.closeLater(closer, client);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (link != null) {
      closeLater(link.client());
      link = null;
    }
    closer.shutdown();
    writers.shutdown();
  }
}
