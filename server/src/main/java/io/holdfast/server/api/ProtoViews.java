package io.holdfast.server.api;

import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockState;
import io.holdfast.proto.v1.SessionInfo;
import io.holdfast.server.state.AuditEntry;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.SessionRecord;
import io.holdfast.server.state.Waiter;
import java.util.List;
import java.util.TreeMap;

/** Maps between the domain state and the v1 API messages; the only place that knows both. */
final class ProtoViews {
  private ProtoViews() {}

  /** The declared fields only: authenticated_identity in a request is ignored, never trusted. */
  static ClientInfo clientInfo(ClientIdentity c) {
    return new ClientInfo(c.getName(), c.getHost(), c.getPid(), new TreeMap<>(c.getLabelsMap()));
  }

  static ClientIdentity identity(ClientInfo c) {
    return ClientIdentity.newBuilder().setName(c.name()).setHost(c.host()).setPid(c.pid())
        .putAllLabels(c.labels()).setAuthenticatedIdentity(c.principal()).build();
  }

  /** The lock as the state has it; a lock absent from the state is free. */
  static LockInfo lockInfo(HoldfastState state, String name) {
    return lockInfo(state, name, true);
  }

  static LockInfo lockInfo(HoldfastState state, String name, boolean withWaiters) {
    LockRecord l = state.lock(name);
    if (l == null) {
      return LockInfo.newBuilder().setName(name).setState(LockState.FREE).build();
    }
    return lockInfo(state, l, withWaiters);
  }

  static LockInfo lockInfo(HoldfastState state, LockRecord l) {
    return lockInfo(state, l, true);
  }

  /** The lock's view; {@code withWaiters} false leaves out its queue (an acquire's answer). */
  static LockInfo lockInfo(HoldfastState state, LockRecord l, boolean withWaiters) {
    LockInfo.Builder b = LockInfo.newBuilder().setName(l.name()).setToken(l.token())
        .setLockDelayMs(l.lockDelayMs()).setMaxHoldMs(l.maxHoldMs());
    if (l.isHeld()) {
      b.setState(LockState.HELD).setHolderSessionId(l.holderSessionId()).setAcquiredAtMs(l.acquiredAtMs())
          .setHolderTtlLeftMs(state.ttlLeftMs(l.holderSessionId()));
      SessionRecord holder = state.session(l.holderSessionId());
      if (holder != null) {
        b.setHolder(identity(holder.client()));
      }
    } else if (l.isOrphaned()) {
      b.setState(LockState.ORPHANED).setFormerHolderSessionId(l.formerHolderSessionId())
          .setFormerHolder(identity(l.formerHolder())).setFreedAtMs(l.freedAtMs()).setFreeReason(l.freeReason())
          .setAcquiredAtMs(l.acquiredAtMs())
          .setGrantableInMs(Math.max(0, l.grantableAtClockMs() - state.clock().elapsedMs()));
    } else {
      b.setState(LockState.FREE);
    }
    for (Waiter w : withWaiters ? l.waiters() : List.<Waiter>of()) {
      io.holdfast.proto.v1.Waiter.Builder wb = io.holdfast.proto.v1.Waiter.newBuilder()
          .setSessionId(w.sessionId()).setQueuedAtMs(w.queuedAtMs());
      SessionRecord s = state.session(w.sessionId());
      if (s != null) {
        // Without labels: up to 16 KB each, times a queue of a thousand, in every view of the lock.
        ClientInfo c = s.client();
        wb.setClient(ClientIdentity.newBuilder().setName(c.name()).setHost(c.host()).setPid(c.pid())
            .setAuthenticatedIdentity(c.principal()));
      }
      b.addWaiters(wb);
    }
    return b.build();
  }

  static SessionInfo sessionInfo(HoldfastState state, SessionRecord s) {
    return SessionInfo.newBuilder().setSessionId(s.id()).setClient(identity(s.client())).setTtlMs(s.ttlMs())
        .setCreatedAtMs(s.createdAtMs()).setRenewedAtMs(s.renewedAtMs())
        .addAllHeldLocks(state.heldLocks(s.id())).setExclusiveKey(s.exclusiveKey())
        .setTtlLeftMs(state.ttlLeftMs(s.id())).addAllWaitingOn(state.waitingOn(s.id())).build();
  }

  static io.holdfast.proto.v1.AuditEntry audit(AuditEntry a) {
    return io.holdfast.proto.v1.AuditEntry.newBuilder().setIndex(a.index()).setTimeMs(a.wallMs())
        .setKind(a.kind().name()).setLockName(a.lockName()).setSessionId(a.sessionId())
        .setClient(identity(a.client())).setToken(a.token()).addAllLocks(a.locks()).setReason(a.reason())
        .setRequestedBy(a.requestedBy()).setSuccessorSessionId(a.successorSessionId())
        .setLocksNotListed(a.locksNotListed()).build();
  }
}
