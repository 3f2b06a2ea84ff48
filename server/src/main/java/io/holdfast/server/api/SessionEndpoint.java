package io.holdfast.server.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.CloseSessionRequest;
import io.holdfast.proto.v1.CloseSessionResponse;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.OpenSessionResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.session.RenewalCheckpointer;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.LeaderLimits;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The session service: open, keep alive (a stream), close. */
public final class SessionEndpoint extends SessionServiceGrpc.SessionServiceImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(SessionEndpoint.class);
  static final int MAX_NAME = 128;
  static final int MAX_HOST = 256;
  static final int MAX_LABELS = 32;
  static final int MAX_LABEL_TEXT = 256;
  /**
   * Keepalives are asked of gRPC in chunks. With gRPC's default of one request per message, each
   * keepalive waits for a hop to the transport thread and back before the next is read, and one
   * stream that carries many sessions' keepalives falls behind on a busy machine.
   */
  static final int KEEPALIVE_REQUEST_CHUNK = 64;

  private final ServerConfig config;
  private final RaftNode raft;
  private final ApiErrors errors;
  private final Responses responses;

  private final io.holdfast.server.ops.ServerMetrics metrics;

  private final Access access;
  private final LeaderRenewals renewals;
  private final ForwardedKeepAlives relay;
  private final io.holdfast.server.security.RateLimiter rate;

  /**
   * {@code rate}: the identities' request rate (the front door's), which keepalives for sessions
   * this node does not know are charged to: each costs a read barrier, or a read on the leader.
   */
  public SessionEndpoint(ServerConfig config, RaftNode raft, RenewalCheckpointer checkpointer, ApiErrors errors,
      io.holdfast.server.ops.ServerMetrics metrics, Access access, io.holdfast.server.security.RateLimiter rate) {
    this.rate = rate;
    this.access = access;
    this.metrics = metrics;
    this.config = config;
    this.raft = raft;
    this.errors = errors;
    this.responses = new Responses(raft, errors);
    this.renewals = new LeaderRenewals(raft, checkpointer, metrics);
    this.relay = new ForwardedKeepAlives(raft, renewals, access, metrics.registry());
    raft.stateMachine().answerPeerQueriesWith(relay::answer);
  }

  @Override
  public void openSession(OpenSessionRequest req, StreamObserver<OpenSessionResponse> out) {
    String bad = Names.checkRequestId(req.getRequestId());
    if (bad == null) {
      bad = checkTtl(req.getTtlMs());
    }
    if (bad == null) {
      bad = checkIdentity(req.getClient());
    }
    if (bad == null && !req.getExclusiveKey().isEmpty()) {
      String why = Names.checkLockName(req.getExclusiveKey());
      if (why == null) {
        why = access.checkLength("key", req.getExclusiveKey());
      }
      bad = why == null ? null : "exclusive_key: " + why.replace("lock name", "key");
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (!req.getExclusiveKey().isEmpty()) {
      // A key is held as a lock is: an identity without lock on it could otherwise take the key of
      // another identity that has no live session, and keep that identity from opening with it.
      var denied = access.requireExclusiveKey(req.getExclusiveKey());
      if (denied != null) {
        out.onError(denied);
        return;
      }
    }
    long maxSessions = config.limits().maxSessions();
    if (maxSessions > 0 && leads()) {
      // Checked before proposing, not in apply: opens already in flight may pass it by a few, which a
      // memory bound allows. Only by the leader: a follower's count may be stale, and it redirects the
      // open or passes it on to the leader, which checks it with its own limit (LeaderLimits).
      String requestId = req.getRequestId();
      String key = req.getExclusiveKey();
      int live = raft.stateMachine().read(s -> s.opensPastLimit(maxSessions, requestId, key) ? s.sessionCount() : -1);
      if (live >= 0) {
        out.onError(errors.of(io.holdfast.server.state.ErrorCode.RESOURCE_EXHAUSTED,
            LeaderLimits.sessionLimitRefusal(live, maxSessions)));
        return;
      }
    }
    String principal = Access.who();
    // Per identity, so not for the anonymous one: it is every unauthenticated client at once.
    boolean anonymous = io.holdfast.server.security.Identity.current().source()
        == io.holdfast.server.security.Identity.Source.ANONYMOUS;
    Command.OpenSession cmd = new Command.OpenSession(req.getRequestId(), req.getTtlMs(),
        ProtoViews.clientInfo(req.getClient()).withPrincipal(principal), req.getExclusiveKey(),
        anonymous ? 0 : config.limits().maxSessionsPerIdentity());
    responses.submit(cmd, out, r -> {
      Result.SessionOpened o = (Result.SessionOpened) r;
      LOG.info("session={} opened identity='{}' client='{}' host='{}' pid={} ttl_ms={}", o.sessionId(), principal,
          Names.printable(req.getClient().getName()), Names.printable(req.getClient().getHost()),
          req.getClient().getPid(), o.ttlMs());
      return OpenSessionResponse.newBuilder().setHeader(responses.header()).setSessionId(o.sessionId())
          .setTtlMs(o.ttlMs()).build();
    });
  }

  private boolean leads() {
    try {
      return raft.isLeader();
    } catch (RuntimeException closing) {
      return false;
    }
  }

  @Override
  public void closeSession(CloseSessionRequest req, StreamObserver<CloseSessionResponse> out) {
    String bad = Names.checkRequestId(req.getRequestId());
    if (bad == null && req.getSessionId() <= 0) {
      bad = "session_id must be positive, got " + req.getSessionId();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    access.withOwnSession(req.getSessionId(), out, () -> responses.submit(
        new Command.CloseSession(req.getRequestId(), req.getSessionId()), out, r -> {
          Result.SessionClosed c = (Result.SessionClosed) r;
          LOG.debug("session={} closed by its client released_locks={}", req.getSessionId(), c.releasedLocks());
          return CloseSessionResponse.newBuilder().setHeader(responses.header())
              .addAllReleasedLocks(c.releasedLocks()).build();
        }));
  }

  @Override
  public StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<KeepAliveResponse> out) {
    // Read here, on the call's context: renewals after the first run on other threads.
    String principal = Access.who();
    boolean limited = io.holdfast.server.security.Identity.current().source()
        != io.holdfast.server.security.Identity.Source.ANONYMOUS;
    return new KeepAliveStream((ServerCallStreamObserver<KeepAliveResponse>) out, new KeepAliveStream.Leader() {
      @Override
      public Throwable refusal(KeepAliveRequest req) {
        if (raft.isLeader()) {
          return access.requireOwner(req.getSessionId());
        }
        if (req.getForward()) {
          // Relayed to the leader, which checks the owner against its own state. Each relay is a
          // read on the leader: one for a session this node does not know (made up, or opened a
          // moment ago) is charged to the identity's rate, as a call would be.
          return renewals.knows(req.getSessionId()) ? null : unknownRefusal();
        }
        // Only the leader renews; tell the client where to go and end the stream.
        return errors.of(raft.notLeader("keepalives go to the leader"));
      }

      @Override
      public Throwable unknownRefusal() {
        if (!limited || rate.tryAcquire(principal)) {
          return null;
        }
        return errors.of(ErrorCode.RESOURCE_EXHAUSTED, "identity '" + principal + "' sends keepalives for "
            + "sessions this node does not know faster than its request rate (rate-limit-per-identity)");
      }

      @Override
      public boolean mayExist(long sessionId) {
        // A follower's state may not have the open yet: the leader decides.
        return !raft.isLeader() || renewals.knows(sessionId);
      }

      @Override
      public java.util.concurrent.CompletableFuture<Void> confirmLeading() {
        return raft.readBarrier();
      }

      @Override
      public java.util.concurrent.CompletableFuture<KeepAliveResponse> renew(long sessionId, long seq) {
        if (!raft.isLeader()) {
          return relay.forward(sessionId, seq, principal);
        }
        // A keepalive let through for relaying skipped the owner check, and this node may have
        // become the leader since.
        var denied = access.requireOwner(sessionId, principal);
        return denied != null ? java.util.concurrent.CompletableFuture.failedFuture(denied)
            : renewals.renew(sessionId, seq);
      }

      @Override
      public KeepAliveResponse notFound(long sessionId, long seq) {
        return renewals.answer(sessionId, seq, false);
      }

      @Override
      public Throwable failure(Throwable renewalError) {
        return errors.of(renewalError);
      }
    }, KEEPALIVE_REQUEST_CHUNK);
  }

  private String checkTtl(long ttlMs) {
    if (ttlMs < config.minSessionTtlMs() || ttlMs > config.maxSessionTtlMs()) {
      return "ttl_ms " + ttlMs + " is out of bounds [" + config.minSessionTtlMs() + ", "
          + config.maxSessionTtlMs() + "]";
    }
    return null;
  }

  static String checkIdentity(ClientIdentity c) {
    if (c.getName().length() > MAX_NAME) {
      return "client.name is " + c.getName().length() + " characters long; the limit is " + MAX_NAME;
    }
    if (c.getHost().length() > MAX_HOST) {
      return "client.host is " + c.getHost().length() + " characters long; the limit is " + MAX_HOST;
    }
    if (c.getPid() < 0) {
      return "client.pid must not be negative, got " + c.getPid();
    }
    if (c.getLabelsCount() > MAX_LABELS) {
      return "client.labels has " + c.getLabelsCount() + " entries; the limit is " + MAX_LABELS;
    }
    for (Map.Entry<String, String> e : c.getLabelsMap().entrySet()) {
      if (e.getKey().isEmpty() || e.getKey().length() > MAX_LABEL_TEXT || e.getValue().length() > MAX_LABEL_TEXT) {
        return "client.labels: keys must be 1-" + MAX_LABEL_TEXT + " characters and values at most "
            + MAX_LABEL_TEXT + " (key '" + Names.printable(e.getKey()) + "')";
      }
    }
    return null;
  }
}
