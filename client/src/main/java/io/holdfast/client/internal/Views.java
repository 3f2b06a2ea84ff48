package io.holdfast.client.internal;

import io.holdfast.client.AuditRecord;
import io.holdfast.client.ClusterStatus;
import io.holdfast.client.LockDescription;
import io.holdfast.client.SessionDescription;
import io.holdfast.proto.v1.AuditEntry;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.Member;
import io.holdfast.proto.v1.SessionInfo;
import io.holdfast.proto.v1.Waiter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Maps the wire messages to the client's records: the only place in the client that knows both. */
final class Views {
  private Views() {}

  private static Instant instant(long ms) {
    return ms == 0 ? null : Instant.ofEpochMilli(ms);
  }

  static LockDescription lock(LockInfo l) {
    LockDescription.State state = switch (l.getState()) {
      case HELD -> LockDescription.State.HELD;
      case ORPHANED -> LockDescription.State.ORPHANED;
      default -> LockDescription.State.FREE;
    };
    List<LockDescription.Waiter> waiters = new ArrayList<>();
    for (Waiter w : l.getWaitersList()) {
      waiters.add(new LockDescription.Waiter(w.getSessionId(), w.getClient().getName(), w.getClient().getHost(),
          w.getClient().getPid(), instant(w.getQueuedAtMs())));
    }
    return new LockDescription(l.getName(), state, l.getHolderSessionId(), l.getHolder().getName(),
        l.getHolder().getHost(), l.getHolder().getPid(), l.getToken(), instant(l.getAcquiredAtMs()),
        Duration.ofMillis(l.getHolderTtlLeftMs()), waiters, Duration.ofMillis(l.getLockDelayMs()),
        Duration.ofMillis(l.getMaxHoldMs()), l.getFormerHolderSessionId(), l.getFormerHolder().getName(),
        l.getFormerHolder().getHost(), l.getFormerHolder().getPid(), instant(l.getFreedAtMs()),
        Duration.ofMillis(l.getGrantableInMs()), l.getFreeReason(), l.getHolder().getLabelsMap(),
        l.getHolder().getAuthenticatedIdentity());
  }

  static SessionDescription session(SessionInfo s) {
    return new SessionDescription(s.getSessionId(), s.getClient().getName(), s.getClient().getHost(),
        s.getClient().getPid(), s.getClient().getLabelsMap(), Duration.ofMillis(s.getTtlMs()),
        Duration.ofMillis(s.getTtlLeftMs()), instant(s.getCreatedAtMs()), instant(s.getRenewedAtMs()),
        s.getHeldLocksList(), s.getWaitingOnList(), s.getExclusiveKey(), s.getClient().getAuthenticatedIdentity());
  }

  static AuditRecord audit(AuditEntry a) {
    return new AuditRecord(a.getIndex(), instant(a.getTimeMs()), a.getKind(), a.getLockName(), a.getSessionId(),
        a.getClient().getName(), a.getClient().getHost(), a.getClient().getPid(), a.getToken(), a.getLocksList(),
        a.getReason(), a.getRequestedBy(), a.getSuccessorSessionId(), a.getLocksNotListed());
  }

  static ClusterStatus status(ClusterStatusResponse r) {
    List<ClusterStatus.Member> members = new ArrayList<>();
    for (Member m : r.getMembersList()) {
      members.add(new ClusterStatus.Member(m.getId(), m.getPeerAddress(), m.getClientAddress(), m.getLeader()));
    }
    return new ClusterStatus(r.getMemberId(), r.getClusterId(), r.getRole(), r.getLeaderId(),
        r.getLeaderClientAddress(), r.getTerm(), r.getAppliedIndex(), r.getCommitIndex(), members,
        Duration.ofMillis(r.getMinSessionTtlMs()), Duration.ofMillis(r.getMaxSessionTtlMs()), r.getVersion(),
        r.getApplyRules(), r.getApplyRulesSupported());
  }
}
