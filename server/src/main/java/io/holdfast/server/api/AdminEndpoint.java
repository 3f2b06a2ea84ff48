package io.holdfast.server.api;

import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.proto.v1.ExpireSessionRequest;
import io.holdfast.proto.v1.ExpireSessionResponse;
import io.holdfast.proto.v1.ListAuditRequest;
import io.holdfast.proto.v1.ListAuditResponse;
import io.holdfast.proto.v1.Member;
import io.holdfast.proto.v1.RevokeRequest;
import io.holdfast.proto.v1.RevokeResponse;
import io.holdfast.server.config.PeerConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.AuditEntry;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.Result;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The admin service: cluster status, the safe bypass (revoke, admin expiry), the audit log. */
public final class AdminEndpoint extends AdminServiceGrpc.AdminServiceImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(AdminEndpoint.class);
  public static final String VERSION = "0.1.0";
  static final int MAX_AUDIT = 1_000;

  private final ServerConfig config;
  private final RaftNode raft;
  private final ApiErrors errors;
  private final Responses responses;

  private final Access access;

  public AdminEndpoint(ServerConfig config, RaftNode raft, ApiErrors errors, Access access) {
    this.access = access;
    this.config = config;
    this.raft = raft;
    this.errors = errors;
    this.responses = new Responses(raft, errors);
  }

  @Override
  public void clusterStatus(ClusterStatusRequest req, StreamObserver<ClusterStatusResponse> out) {
    try {
      String leader = raft.leaderId();
      ClusterStatusResponse.Builder b = ClusterStatusResponse.newBuilder()
          .setMemberId(config.nodeId())
          .setClusterId(config.clusterId().toString())
          .setTerm(raft.term())
          .setAppliedIndex(raft.appliedIndex())
          .setCommitIndex(raft.commitIndex())
          .setRole(raft.role())
          .setMinSessionTtlMs(config.minSessionTtlMs())
          .setMaxSessionTtlMs(config.maxSessionTtlMs())
          .setVersion(VERSION);
      if (leader != null) {
        b.setLeaderId(leader);
        PeerConfig lp = config.peer(leader);
        if (lp != null) {
          b.setLeaderClientAddress(lp.clientAddress().toString());
        }
      }
      for (PeerConfig p : config.peers()) {
        b.addMembers(Member.newBuilder().setId(p.id()).setPeerAddress(p.peerAddress().toString())
            .setClientAddress(p.clientAddress().toString()).setLeader(p.id().equals(leader)));
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(errors.of(e));
    }
  }

  @Override
  public void revoke(RevokeRequest req, StreamObserver<RevokeResponse> out) {
    String bad = Names.checkRequestId(req.getRequestId());
    if (bad == null) {
      bad = Names.checkLockName(req.getLockName());
    }
    if (bad == null) {
      bad = access.checkLength("lock name", req.getLockName());
    }
    if (bad == null && req.getReason().isBlank()) {
      bad = "reason is required: it goes into the audit log";
    }
    if (bad == null && req.getSuccessorSessionId() < 0) {
      bad = "successor_session_id must not be negative";
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    var denied = access.require(io.holdfast.server.security.Verb.ADMIN, req.getLockName());
    if (denied != null) {
      out.onError(denied);
      return;
    }
    String requestedBy = requestedBy(req.getRequestedBy());
    if (req.getDryRun()) {
      // A dry run is a linearizable read: nothing is logged, nothing changes.
      raft.readBarrier().whenComplete((v, err) -> {
        if (err != null) {
          out.onError(errors.of(err));
          return;
        }
        Result r = raft.stateMachine().read(s -> s.previewRevoke(req.getLockName(), req.getSuccessorSessionId()));
        responses.answer(r, null, out, res -> revoked(req, (Result.Revoked) res, true));
      });
      return;
    }
    Command.Revoke cmd = new Command.Revoke(req.getRequestId(), req.getLockName(), req.getReason(),
        req.getSuccessorSessionId(), requestedBy);
    responses.submit(cmd, out, r -> {
      Result.Revoked rv = (Result.Revoked) r;
      // At debug: every node logs the lock taken from its holder once, as it applies the entry.
      LOG.debug("lock={} revoke requested_by='{}' reason='{}' session={} token={} now={}", req.getLockName(),
          requestedBy, req.getReason(), rv.formerHolderSessionId(), rv.formerToken(),
          rv.grantedToSessionId() != 0 ? "held by session " + rv.grantedToSessionId() + " token " + rv.newToken()
              : rv.orphanedForMs() > 0 ? "orphaned for " + rv.orphanedForMs() + " ms" : "free");
      return revoked(req, rv, false);
    });
  }

  /**
   * The audit log's "requested by": the authenticated identity, with any different self-declared
   * name beside it. With auth off nobody is authenticated, so the declared name is all there is
   * (the proto's documented meaning).
   */
  private static String requestedBy(String declared) {
    io.holdfast.server.security.Identity id = io.holdfast.server.security.Identity.current();
    if (id.source() == io.holdfast.server.security.Identity.Source.ANONYMOUS) {
      return declared.isBlank() ? id.name() : declared;
    }
    if (declared.isBlank() || declared.equals(id.name())) {
      return id.name();
    }
    return id.name() + " (declared '" + Names.printable(declared) + "')";
  }

  private RevokeResponse revoked(RevokeRequest req, Result.Revoked r, boolean dryRun) {
    return RevokeResponse.newBuilder().setHeader(responses.header()).setDryRun(dryRun)
        .setFormerHolderSessionId(r.formerHolderSessionId()).setFormerToken(r.formerToken())
        .setGrantedToSessionId(r.grantedToSessionId()).setNewToken(r.newToken()).setOrphanedForMs(r.orphanedForMs())
        .setLock(lockView(req.getLockName())).build();
  }

  private io.holdfast.proto.v1.LockInfo lockView(String name) {
    return raft.stateMachine().read(s -> ProtoViews.lockInfo(s, name));
  }

  @Override
  public void expireSession(ExpireSessionRequest req, StreamObserver<ExpireSessionResponse> out) {
    String bad = Names.checkRequestId(req.getRequestId());
    if (bad == null && req.getSessionId() <= 0) {
      bad = "session_id must be positive, got " + req.getSessionId();
    }
    if (bad == null && req.getReason().isBlank()) {
      bad = "reason is required: it goes into the audit log";
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    // A session may hold any lock, so ending one is admin over every name.
    var denied = access.requireAllUnder(io.holdfast.server.security.Verb.ADMIN, "");
    if (denied != null) {
      out.onError(denied);
      return;
    }
    String requestedBy = requestedBy(req.getRequestedBy());
    Command.AdminExpireSession cmd = new Command.AdminExpireSession(req.getRequestId(), req.getSessionId(),
        req.getReason(), requestedBy);
    responses.submit(cmd, out, r -> {
      Result.SessionExpired x = (Result.SessionExpired) r;
      LOG.debug("session={} admin expiry requested_by='{}' reason='{}' released_locks={}", req.getSessionId(),
          requestedBy,
          req.getReason(), x.releasedLocks());
      return ExpireSessionResponse.newBuilder().setHeader(responses.header()).addAllReleasedLocks(x.releasedLocks())
          .build();
    });
  }

  @Override
  public void listAudit(ListAuditRequest req, StreamObserver<ListAuditResponse> out) {
    if (req.getLimit() < 0 || req.getLimit() > MAX_AUDIT) {
      out.onError(errors.invalid("limit must be between 0 (default 100) and " + MAX_AUDIT + ", got " + req.getLimit()));
      return;
    }
    if (!req.getLockName().isEmpty()) {
      String bad = Names.checkLockName(req.getLockName());
      if (bad == null) {
        bad = access.checkLength("lock name", req.getLockName());
      }
      if (bad != null) {
        out.onError(errors.invalid(bad));
        return;
      }
    }
    // The audit log names holders and operators: reading it needs read on the lock (or on all).
    var denied = access.requireAllUnder(io.holdfast.server.security.Verb.READ, req.getLockName());
    if (denied != null) {
      out.onError(denied);
      return;
    }
    int limit = req.getLimit() == 0 ? 100 : req.getLimit();
    CompletableFuture<Void> barrier = req.getStaleOk() ? CompletableFuture.completedFuture(null) : raft.readBarrier();
    barrier.whenComplete((v, err) -> {
      if (err != null) {
        out.onError(errors.of(err));
        return;
      }
      ListAuditResponse.Builder b = ListAuditResponse.newBuilder().setHeader(responses.header());
      for (AuditEntry a : raft.stateMachine().read(s -> s.audit(req.getAfterIndex(), req.getLockName(), limit))) {
        b.addEntries(ProtoViews.audit(a));
      }
      out.onNext(b.build());
      out.onCompleted();
    });
  }
}
