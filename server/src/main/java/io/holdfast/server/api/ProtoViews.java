package io.holdfast.server.api;

import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockState;
import io.holdfast.proto.v1.SessionInfo;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.SessionRecord;
import io.holdfast.server.state.Waiter;
import java.util.TreeMap;

/** Maps between the domain state and the v1 API messages; the only place that knows both. */
final class ProtoViews {
  private ProtoViews() {}

  static ClientInfo clientInfo(ClientIdentity c) {
    return new ClientInfo(c.getName(), c.getHost(), c.getPid(), new TreeMap<>(c.getLabelsMap()));
  }

  static ClientIdentity identity(ClientInfo c) {
    return ClientIdentity.newBuilder().setName(c.name()).setHost(c.host()).setPid(c.pid())
        .putAllLabels(c.labels()).build();
  }

  /** The lock as the state has it; a lock absent from the state is free. */
  static LockInfo lockInfo(HoldfastState state, String name) {
    LockRecord l = state.lock(name);
    if (l == null) {
      return LockInfo.newBuilder().setName(name).setState(LockState.FREE).build();
    }
    return lockInfo(state, l);
  }

  static LockInfo lockInfo(HoldfastState state, LockRecord l) {
    LockInfo.Builder b = LockInfo.newBuilder().setName(l.name());
    if (l.isHeld()) {
      b.setState(LockState.HELD).setHolderSessionId(l.holderSessionId()).setToken(l.token())
          .setAcquiredAtMs(l.acquiredAtMs());
      SessionRecord holder = state.session(l.holderSessionId());
      if (holder != null) {
        b.setHolder(identity(holder.client()));
      }
    } else {
      b.setState(LockState.FREE).setToken(l.token());
    }
    for (Waiter w : l.waiters()) {
      io.holdfast.proto.v1.Waiter.Builder wb = io.holdfast.proto.v1.Waiter.newBuilder()
          .setSessionId(w.sessionId()).setQueuedAtMs(w.queuedAtMs());
      SessionRecord s = state.session(w.sessionId());
      if (s != null) {
        wb.setClient(identity(s.client()));
      }
      b.addWaiters(wb);
    }
    return b.build();
  }

  static SessionInfo sessionInfo(HoldfastState state, SessionRecord s) {
    return SessionInfo.newBuilder().setSessionId(s.id()).setClient(identity(s.client())).setTtlMs(s.ttlMs())
        .setCreatedAtMs(s.createdAtMs()).setRenewedAtMs(s.renewedAtMs())
        .addAllHeldLocks(state.heldLocks(s.id())).build();
  }
}
