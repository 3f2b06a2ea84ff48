package io.holdfast.client.internal;

import io.holdfast.client.AdminClient;
import io.holdfast.client.AuditRecord;
import io.holdfast.client.ClusterStatus;
import io.holdfast.client.LockDescription;
import io.holdfast.client.RevokeOutcome;
import io.holdfast.client.SessionDescription;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.ExpireSessionRequest;
import io.holdfast.proto.v1.ListAuditRequest;
import io.holdfast.proto.v1.ListLocksRequest;
import io.holdfast.proto.v1.ListSessionsRequest;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.RevokeRequest;
import io.holdfast.proto.v1.RevokeResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** AdminClient over the retrying caller. */
final class RealAdminClient implements AdminClient {
  private final Caller caller;
  private final Duration callTimeout;

  RealAdminClient(Caller caller, Duration callTimeout) {
    this.caller = caller;
    this.callTimeout = callTimeout;
  }

  @Override
  public ClusterStatus status() {
    // Any member answers; with the current endpoint down, the caller moves on to the next.
    ClusterStatus s = Views.status(Errors.join(caller.call("cluster status", callTimeout,
        (ch, t) -> AdminServiceGrpc.newFutureStub(ch).withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
            .clusterStatus(ClusterStatusRequest.getDefaultInstance()))));
    // A follower's answer: ask the leader it names for its own.
    if (!"LEADER".equals(s.role()) && !s.leaderEndpoint().isEmpty()) {
      caller.endpoints().leaderHint(s.leaderEndpoint());
      s = memberStatus(s.leaderEndpoint(), callTimeout);
    }
    return s;
  }

  @Override
  public ClusterStatus memberStatus(String endpoint, Duration timeout) {
    try {
      return Views.status(AdminServiceGrpc.newBlockingStub(caller.endpoints().channel(endpoint))
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .clusterStatus(ClusterStatusRequest.getDefaultInstance()));
    } catch (RuntimeException e) {
      throw Errors.map(e);
    }
  }

  @Override
  public List<LockDescription> locks(String prefix) {
    return Errors.join(caller.call("list locks", callTimeout, (ch, t) -> LockServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .listLocks(ListLocksRequest.newBuilder().setPrefix(prefix).build())))
        .getLocksList().stream().map(Views::lock).toList();
  }

  @Override
  public LockDescription lock(String name) {
    return Views.lock(Errors.join(caller.call("describe " + name, callTimeout, (ch, t) -> LockServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .describeLock(DescribeLockRequest.newBuilder().setLockName(name).build()))).getLock());
  }

  @Override
  public List<SessionDescription> sessions() {
    return Errors.join(caller.call("list sessions", callTimeout, (ch, t) -> LockServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .listSessions(ListSessionsRequest.getDefaultInstance())))
        .getSessionsList().stream().map(Views::session).toList();
  }

  @Override
  public RevokeOutcome revoke(String lock, String reason, long successorSessionId, boolean dryRun,
      String requestedBy) {
    return revoke(lock, reason, successorSessionId, dryRun, requestedBy, 0);
  }

  @Override
  public RevokeOutcome revoke(String lock, String reason, long successorSessionId, boolean dryRun,
      String requestedBy, long expectedToken) {
    if (expectedToken < 0) {
      throw new IllegalArgumentException("expectedToken must not be negative, got " + expectedToken);
    }
    String requestId = RequestIds.next();
    RevokeResponse r = Errors.join(caller.write("revoke " + lock, callTimeout, (ch, t) -> AdminServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .revoke(RevokeRequest.newBuilder().setRequestId(requestId).setLockName(lock).setReason(reason)
            .setSuccessorSessionId(successorSessionId).setDryRun(dryRun).setRequestedBy(requestedBy)
            .setExpectedToken(expectedToken).build())));
    return new RevokeOutcome(r.getDryRun(), r.getFormerHolderSessionId(), r.getFormerToken(),
        r.getGrantedToSessionId(), r.getNewToken(), Duration.ofMillis(r.getOrphanedForMs()), Views.lock(r.getLock()));
  }

  @Override
  public List<String> expireSession(long sessionId, String reason, String requestedBy) {
    String requestId = RequestIds.next();
    return Errors.join(caller.write("expire session " + sessionId, callTimeout, (ch, t) -> AdminServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .expireSession(ExpireSessionRequest.newBuilder().setRequestId(requestId).setSessionId(sessionId)
            .setReason(reason).setRequestedBy(requestedBy).build()))).getReleasedLocksList();
  }

  @Override
  public List<AuditRecord> audit(long afterIndex, String lock, int limit) {
    return Errors.join(caller.call("audit", callTimeout, (ch, t) -> AdminServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .listAudit(ListAuditRequest.newBuilder().setAfterIndex(afterIndex).setLockName(lock).setLimit(limit).build())))
        .getEntriesList().stream().map(Views::audit).toList();
  }
}
