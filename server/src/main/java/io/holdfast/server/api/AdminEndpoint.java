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
import io.holdfast.proto.v1.AddMemberRequest;
import io.holdfast.proto.v1.AddMemberResponse;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.ListMembersResponse;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.RemoveMemberResponse;
import io.holdfast.proto.v1.SaveSnapshotRequest;
import io.holdfast.proto.v1.SnapshotChunk;
import io.holdfast.proto.v1.SnapshotHeader;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.proto.v1.TransferLeaderResponse;
import io.holdfast.server.backup.BackupFile;
import io.holdfast.server.config.ConfigException;
import io.holdfast.server.config.HostPort;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftCallException;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import io.holdfast.server.state.AuditEntry;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.Result;
import java.util.List;
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
          .setVersion(VERSION)
          .setApplyRules(raft.stateMachine().writeRules())
          .setApplyRulesSupported(raft.stateMachine().supportedRules());
      if (leader != null) {
        b.setLeaderId(leader);
        String address = raft.clientAddressOf(leader);
        if (address != null) {
          b.setLeaderClientAddress(address);
        }
      }
      // Members come from the replicated Raft configuration, so nodes added or removed at run time
      // show up here on every node, whatever its config file says.
      b.addAllMembers(members(leader));
      out.onNext(b.build());
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(errors.of(e));
    }
  }

  private java.util.List<Member> members(String leader) {
    java.util.List<Member> out = new java.util.ArrayList<>();
    for (RaftNode.Member m : raft.members()) {
      out.add(Member.newBuilder().setId(m.id()).setPeerAddress(m.peerAddress()).setClientAddress(m.clientAddress())
          .setLeader(m.id().equals(leader)).build());
    }
    return out;
  }

  // ---- membership and leadership -------------------------------------------------------------

  @Override
  public void listMembers(ListMembersRequest req, StreamObserver<ListMembersResponse> out) {
    // stale_ok: clients refreshing their endpoint lists; any member's copy will do for that.
    responses.read(req.getStaleOk(), out, () -> ListMembersResponse.newBuilder().setHeader(responses.header())
        .addAllMembers(members(raft.leaderIdOrNull())).build());
  }

  @Override
  public void addMember(AddMemberRequest req, StreamObserver<AddMemberResponse> out) {
    String bad = checkMemberId(req.getId());
    HostPort peer = null;
    HostPort client = null;
    try {
      if (bad == null) {
        peer = HostPort.parse("peer_address", req.getPeerAddress());
        client = HostPort.parse("client_address", req.getClientAddress());
      }
    } catch (ConfigException e) {
      bad = e.getMessage();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deniedClusterAdmin(out)) {
      return;
    }
    if (!raft.isLeader()) {
      out.onError(errors.of(notLeader()));
      return;
    }
    java.util.List<RaftNode.Member> current = raft.members();
    for (RaftNode.Member m : current) {
      String clash = m.id().equals(req.getId()) ? "id"
          : m.peerAddress().equals(peer.toString()) || m.clientAddress().equals(peer.toString()) ? "peer address"
          : m.peerAddress().equals(client.toString()) || m.clientAddress().equals(client.toString())
          ? "client address" : null;
      if (clash != null) {
        out.onError(io.grpc.Status.ALREADY_EXISTS.withDescription("member " + m.id() + " already has this " + clash
            + " (" + m + ")").asRuntimeException());
        return;
      }
    }
    // Ratis stages a new member until it catches up, and keeps trying a node that never answers,
    // blocking other changes meanwhile: refuse at once when nothing listens on its peer port.
    // The connect may take its whole 2 s timeout: not on a call thread, which keepalives share.
    HostPort peerAddress = peer;
    HostPort clientAddress = client;
    java.util.concurrent.Executor probe = task -> {
      Thread t = new Thread(task, "holdfast-member-probe");
      t.setDaemon(true);
      t.start();
    };
    java.util.concurrent.CompletableFuture.supplyAsync(() -> unreachable(peerAddress), probe).whenComplete((unreachable, e) -> {
      if (e != null || unreachable != null) {
        out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription(req.getId() + "'s peer address " + peerAddress
            + " does not accept connections (" + (e != null ? e : unreachable) + "): start the node (join: true) first")
            .asRuntimeException());
        return;
      }
      java.util.List<RaftNode.Member> next = new java.util.ArrayList<>(current);
      next.add(new RaftNode.Member(req.getId(), peerAddress.toString(), clientAddress.toString()));
      LOG.info("Adding member {} (peer {}, client {}) to {}", req.getId(), peerAddress, clientAddress, current);
      raft.changeMembers(current, next).whenComplete((v, err) -> {
        if (err != null) {
          out.onError(membershipError(err));
          return;
        }
        LOG.info("Member {} added; members now {}", req.getId(), raft.members());
        out.onNext(AddMemberResponse.newBuilder().setHeader(responses.header())
            .addAllMembers(members(raft.leaderIdOrNull())).build());
        out.onCompleted();
      });
    });
  }

  @Override
  public void removeMember(RemoveMemberRequest req, StreamObserver<RemoveMemberResponse> out) {
    String bad = checkMemberId(req.getId());
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    if (deniedClusterAdmin(out)) {
      return;
    }
    if (!raft.isLeader()) {
      out.onError(errors.of(notLeader()));
      return;
    }
    java.util.List<RaftNode.Member> current = raft.members();
    java.util.List<RaftNode.Member> next = new java.util.ArrayList<>(current);
    if (!next.removeIf(m -> m.id().equals(req.getId()))) {
      out.onError(io.grpc.Status.NOT_FOUND.withDescription("'" + req.getId() + "' is not a member (members: "
          + ids(current) + ")").asRuntimeException());
      return;
    }
    if (req.getId().equals(raft.nodeId())) {
      out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription("'" + req.getId() + "' is the leader; "
          + "transfer leadership first (holdfast leader transfer), then remove it").asRuntimeException());
      return;
    }
    if (next.isEmpty()) {
      out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription("cannot remove the last member")
          .asRuntimeException());
      return;
    }
    // The new configuration must be able to commit: with n3 down, removing n2 from {n1, n2, n3}
    // leaves {n1, n3}, which needs both, and every write would wait for n3.
    java.util.List<String> answering = new java.util.ArrayList<>();
    for (RaftNode.Member m : next) {
      if (m.id().equals(raft.nodeId()) || answersLeader(m.id())) {
        answering.add(m.id());
      }
    }
    if (answering.size() * 2 <= next.size()) {
      out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription("removing '" + req.getId() + "' would leave "
          + ids(next) + ", of which only " + answering + " answer the leader: no write could commit until the "
          + "others return. Bring them back first, or remove a member that is down").asRuntimeException());
      return;
    }
    LOG.info("Removing member {} from {}", req.getId(), ids(current));
    raft.changeMembers(current, next).whenComplete((v, err) -> {
      if (err != null) {
        out.onError(membershipError(err));
        return;
      }
      LOG.info("Member {} removed; members now {}", req.getId(), ids(raft.members()));
      out.onNext(RemoveMemberResponse.newBuilder().setHeader(responses.header())
          .addAllMembers(members(raft.leaderIdOrNull())).build());
      out.onCompleted();
    });
  }

  /** Entries a transfer target may be behind: more would be a long catch-up, or a snapshot install. */
  static final long MAX_TRANSFER_LAG = 10_000;

  private boolean answersLeader(String id) {
    RaftNode.FollowerProgress p = raft.progressOf(id);
    return p != null && p.lastHeardMsAgo() <= config.electionTimeoutMinMs();
  }

  /** Why {@code id} should not be handed leadership now, or null. */
  private String unfitForLeadership(String id) {
    RaftNode.FollowerProgress p = raft.progressOf(id);
    if (p == null || p.lastHeardMsAgo() > config.electionTimeoutMinMs()) {
      return "'" + id + "' has not answered the leader " + (p == null ? "yet" : "for " + p.lastHeardMsAgo() + " ms")
          + " (down or cut off)";
    }
    long behind = raft.commitIndex() - p.matchIndex();
    if (p.matchIndex() >= 0 && behind > MAX_TRANSFER_LAG) {
      return "'" + id + "' is " + behind + " entries behind the leader (more than " + MAX_TRANSFER_LAG
          + "); wait until it catches up";
    }
    return null;
  }

  @Override
  public void transferLeader(TransferLeaderRequest req, StreamObserver<TransferLeaderResponse> out) {
    if (req.getTimeoutMs() < 0 || req.getTimeoutMs() > 300_000) {
      out.onError(errors.invalid("timeout_ms must be between 0 (default 10 s) and 300000, got " + req.getTimeoutMs()));
      return;
    }
    if (!req.getTo().isEmpty() && checkMemberId(req.getTo()) != null) {
      out.onError(errors.invalid(checkMemberId(req.getTo())));
      return;
    }
    if (deniedClusterAdmin(out)) {
      return;
    }
    if (!raft.isLeader()) {
      out.onError(errors.of(notLeader()));
      return;
    }
    String to = req.getTo();
    if (to.isEmpty()) {
      to = raft.freshestFollower(config.electionTimeoutMinMs());
      if (to == null) {
        out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription("no follower to hand leadership to")
            .asRuntimeException());
        return;
      }
    } else if (raft.members().stream().noneMatch(m -> m.id().equals(req.getTo()))) {
      out.onError(io.grpc.Status.NOT_FOUND.withDescription("'" + req.getTo() + "' is not a member (members: "
          + ids(raft.members()) + ")").asRuntimeException());
      return;
    }
    String target = to;
    if (target.equals(raft.nodeId())) {
      out.onNext(TransferLeaderResponse.newBuilder().setHeader(responses.header()).setLeaderId(target).build());
      out.onCompleted();
      return;
    }
    // While a transfer is pending the leader takes no writes, renewals included: a target that is
    // down or far behind would hold every session's keepalives for the whole timeout.
    String unfit = unfitForLeadership(target);
    if (unfit != null) {
      out.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription(unfit + "; leadership stays with '"
          + raft.nodeId() + "'").asRuntimeException());
      return;
    }
    // While it is pending no write commits, checkpoints of renewals included, and a target that dies
    // after the check above ends it only at the timeout: a few elections' time, whatever was asked.
    long cap = 5 * config.electionTimeoutMaxMs();
    long timeout = Math.min(cap, req.getTimeoutMs() == 0 ? 10_000 : req.getTimeoutMs());
    LOG.info("Transferring leadership from {} to {}", raft.nodeId(), target);
    raft.transferLeadership(target, timeout).whenComplete((v, err) -> {
      if (err != null) {
        out.onError(membershipError(err));
        return;
      }
      LOG.info("Leadership transferred to {}", target);
      out.onNext(TransferLeaderResponse.newBuilder().setHeader(responses.header()).setLeaderId(target).build());
      out.onCompleted();
    });
  }

  static final int PROBE_TIMEOUT_MS = 2_000;

  /** Null if a TCP connection to {@code address} opens within the probe timeout, else why not. */
  private static String unreachable(HostPort address) {
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(new java.net.InetSocketAddress(address.host(), address.port()), PROBE_TIMEOUT_MS);
      return null;
    } catch (java.io.IOException e) {
      return e.getClass().getSimpleName() + ": " + e.getMessage();
    }
  }

  private RaftCallException notLeader() {
    return raft.notLeader("not the leader");
  }

  private io.grpc.StatusRuntimeException membershipError(Throwable err) {
    Throwable t = err;
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof RaftNode.MembershipException m) {
      return io.grpc.Status.FAILED_PRECONDITION.withDescription(m.getMessage()).asRuntimeException();
    }
    if (t instanceof RaftNode.MembershipBusyException b) {
      return io.grpc.Status.ABORTED.withDescription(b.getMessage()).asRuntimeException();
    }
    return errors.of(t);
  }

  private static String checkMemberId(String id) {
    return id.matches("[A-Za-z0-9_-]{1,64}") ? null
        : "member id '" + Names.printable(id) + "' must be 1-64 letters, digits, '_' or '-'";
  }

  private static java.util.List<String> ids(java.util.List<RaftNode.Member> members) {
    return members.stream().map(RaftNode.Member::id).toList();
  }

  // ---- backups -----------------------------------------------------------------------------

  static final int CHUNK_BYTES = 1 << 20;

  @Override
  public void saveSnapshot(SaveSnapshotRequest req, StreamObserver<SnapshotChunk> out) {
    // A backup holds every key's value and every session's identity: admin over every name.
    if (deniedClusterAdmin(out)) {
      return;
    }
    // The barrier makes the backup linearizable: it holds every write acknowledged before the call.
    raft.readBarrier().whenComplete((v, err) -> {
      if (err != null) {
        out.onError(errors.of(err));
        return;
      }
      try {
        HoldfastStateMachine.Export export = raft.stateMachine().export();
        byte[] bytes = export.bytes();
        SnapshotHeader header = SnapshotHeader.newBuilder().setFormatVersion(BackupFile.FORMAT_VERSION)
            .setClusterId(config.clusterId().toString()).setAppliedIndex(export.index())
            .setFencingEpoch(export.fencingEpoch()).setTakenAtMs(System.currentTimeMillis())
            .setTakenBy(config.nodeId()).setSizeBytes(bytes.length)
            .setSha256(com.google.protobuf.ByteString.copyFrom(BackupFile.sha256(bytes))).build();
        out.onNext(SnapshotChunk.newBuilder().setHeader(header).build());
        for (int off = 0; off < bytes.length; off += CHUNK_BYTES) {
          out.onNext(SnapshotChunk.newBuilder()
              .setData(com.google.protobuf.ByteString.copyFrom(bytes, off, Math.min(CHUNK_BYTES, bytes.length - off)))
              .build());
        }
        out.onCompleted();
        LOG.info("Served a backup at index {} (fencing epoch {}, {} bytes)", export.index(), export.fencingEpoch(),
            bytes.length);
      } catch (RuntimeException e) {
        out.onError(errors.of(e));
      }
    });
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
    if (bad == null && req.getExpectedToken() < 0) {
      bad = "expected_token must not be negative, got " + req.getExpectedToken();
    }
    if (bad == null) {
      bad = checkAuditText(req.getReason(), req.getRequestedBy());
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    var denied = access.require(io.holdfast.server.security.Verb.ADMIN, req.getLockName());
    if (denied == null) {
      denied = access.requireSuccessorMayLock(req.getSuccessorSessionId(), req.getLockName());
    }
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
        try {
          Result r = raft.stateMachine().read(s -> s.previewRevoke(req.getLockName(), req.getSuccessorSessionId(),
              req.getExpectedToken()));
          responses.answer(r, null, out, res -> revoked(req, (Result.Revoked) res, true));
        } catch (RuntimeException e) {
          out.onError(errors.of(e));
        }
      });
      return;
    }
    Command.Revoke cmd = new Command.Revoke(req.getRequestId(), req.getLockName(), req.getReason(),
        req.getSuccessorSessionId(), requestedBy, req.getExpectedToken());
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

  /** Longest self-declared "requested by": it is kept in the replicated audit log. */
  static final int MAX_REQUESTED_BY = 256;

  /** The free text an admin action writes into the audit log, checked before it is proposed. */
  private static String checkAuditText(String reason, String requestedBy) {
    if (reason.length() > io.holdfast.server.state.HoldfastState.MAX_REASON) {
      return "reason is " + reason.length() + " characters long; the limit is "
          + io.holdfast.server.state.HoldfastState.MAX_REASON;
    }
    if (requestedBy.length() > MAX_REQUESTED_BY) {
      return "requested_by is " + requestedBy.length() + " characters long; the limit is " + MAX_REQUESTED_BY;
    }
    return null;
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

  /**
   * Membership, leadership and backups act on the whole cluster, so they need admin over every
   * name, as ending a session does; answers PERMISSION_DENIED and returns true otherwise.
   */
  private boolean deniedClusterAdmin(StreamObserver<?> out) {
    var denied = access.requireAllUnder(io.holdfast.server.security.Verb.ADMIN, "");
    if (denied != null) {
      out.onError(denied);
      return true;
    }
    return false;
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
    if (bad == null) {
      bad = checkAuditText(req.getReason(), req.getRequestedBy());
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
    // The call's identity is not visible on the thread that completes the barrier.
    String identity = Access.who();
    boolean readsAll = access.canAllUnder(identity, io.holdfast.server.security.Verb.READ, "");
    CompletableFuture<Void> barrier = req.getStaleOk() ? CompletableFuture.completedFuture(null) : raft.readBarrier();
    barrier.whenComplete((v, err) -> {
      if (err != null) {
        out.onError(errors.of(err));
        return;
      }
      ListAuditResponse.Builder b = ListAuditResponse.newBuilder().setHeader(responses.header());
      List<AuditEntry> entries;
      try {
        entries = raft.stateMachine().read(s -> s.audit(req.getAfterIndex(), req.getLockName(), limit));
      } catch (RuntimeException e) {
        out.onError(errors.of(e));
        return;
      }
      for (AuditEntry a : entries) {
        var entry = ProtoViews.audit(a);
        if (!readsAll && entry.getLocksCount() > 0) {
          // An expiry lists every lock the session held; a caller allowed one lock sees only the
          // names it may read.
          entry = entry.toBuilder().clearLocks()
              .addAllLocks(a.locks().stream().filter(n -> access.can(identity, io.holdfast.server.security.Verb.READ, n))
                  .toList())
              .build();
        }
        b.addEntries(entry);
      }
      out.onNext(b.build());
      out.onCompleted();
    });
  }
}
