package io.holdfast.server.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.AuditEntry;
import io.holdfast.server.state.KvEntry;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.Waiter;
import io.holdfast.server.statemachine.proto.AuditRecord;
import io.holdfast.server.statemachine.proto.CachedResult;
import io.holdfast.server.statemachine.proto.KvRecord;
import io.holdfast.server.statemachine.proto.LockStateRecord;
import io.holdfast.server.statemachine.proto.OpenedSession;
import io.holdfast.server.statemachine.proto.SessionState;
import io.holdfast.server.statemachine.proto.Snapshot;
import io.holdfast.server.statemachine.proto.WaiterState;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes the whole state as one protobuf message. The encoding is deterministic (no maps; every
 * list in the image's own sorted or insertion order), so equal states give equal bytes.
 */
public final class SnapshotCodec {
  /**
   * The newest format: 3 carries a last revision ahead of the last applied index (commands were
   * batched), so that a binary from before batches refuses it rather than hand out tokens again.
   */
  static final int FORMAT_VERSION = 3;
  /** 2 carries a fencing epoch above 0. */
  static final int FORMAT_WITH_EPOCH = 2;
  /** Epoch 0 keeps writing format 1, which every earlier version reads the same way. */
  static final int FORMAT_WITHOUT_EPOCH = 1;

  private SnapshotCodec() {}

  public static byte[] encode(StateImage img) {
    Snapshot.Builder b = Snapshot.newBuilder()
        // A raised epoch marks the snapshot format 2, so that a binary from before epochs refuses
        // it rather than read it as epoch 0 and repeat tokens after a downgrade.
        .setFormatVersion(img.lastRevision() > img.lastAppliedIndex() ? FORMAT_VERSION
            : img.fencingEpoch() == 0 ? FORMAT_WITHOUT_EPOCH : FORMAT_WITH_EPOCH)
        .setLastAppliedIndex(img.lastAppliedIndex())
        .setLastRevision(img.lastRevision())
        .setClusterRules(img.clusterRules())
        .setLastAppliedTerm(img.lastAppliedTerm())
        .setClockMs(img.clockElapsedMs())
        .setLastStampMs(img.clockLastStampMs())
        .setLastStampTerm(img.clockLastStampTerm())
        .setWallMs(img.clockWallMs())
        .setFencingEpoch(img.fencingEpoch());
    for (StateImage.SessionImage s : img.sessions()) {
      SessionState.Builder sb = SessionState.newBuilder().setId(s.id()).setTtlMs(s.ttlMs())
          .setClient(CommandCodec.identity(s.client())).setCreatedAtMs(s.createdAtMs())
          .setRenewedAtMs(s.renewedAtMs()).setRenewedAtClockMs(s.renewedAtClockMs())
          .setRenewedIndex(s.renewedIndex()).setExclusiveKey(s.exclusiveKey());
      for (StateImage.CachedRequest r : s.recentRequests()) {
        sb.addRecentRequests(CachedResult.newBuilder().setRequestId(r.requestId())
            .setFingerprint(r.fingerprint()).setAtClockMs(r.atClockMs())
            .setResult(ResultCodec.toProto(r.result())));
      }
      b.addSessions(sb);
    }
    for (StateImage.LockImage l : img.locks()) {
      LockStateRecord.Builder lb = LockStateRecord.newBuilder().setName(l.name())
          .setHolderSessionId(l.holderSessionId()).setGrantRequestId(l.grantRequestId())
          .setToken(l.token()).setAcquiredAtMs(l.acquiredAtMs()).setLockDelayMs(l.lockDelayMs())
          .setMaxHoldMs(l.maxHoldMs()).setHoldDeadlineClockMs(l.holdDeadlineClockMs())
          .setGrantableAtClockMs(l.grantableAtClockMs()).setFormerHolderSessionId(l.formerHolderSessionId())
          .setFormerHolder(CommandCodec.identity(l.formerHolder())).setFreedAtMs(l.freedAtMs())
          .setFreeReason(l.freeReason());
      for (Waiter w : l.waiters()) {
        lb.addWaiters(WaiterState.newBuilder().setSessionId(w.sessionId()).setRequestId(w.requestId())
            .setQueuedAtMs(w.queuedAtMs()).setDeadlineClockMs(w.deadlineClockMs()).setLockDelayMs(w.lockDelayMs())
            .setMaxHoldMs(w.maxHoldMs()));
      }
      b.addLocks(lb);
    }
    for (StateImage.OpenImage o : img.recentOpens()) {
      b.addRecentOpens(OpenedSession.newBuilder().setRequestId(o.requestId()).setFingerprint(o.fingerprint())
          .setSessionId(o.sessionId()).setTtlMs(o.ttlMs()));
    }
    for (StateImage.CachedRequest r : img.adminRequests()) {
      b.addAdminRequests(CachedResult.newBuilder().setRequestId(r.requestId()).setFingerprint(r.fingerprint())
          .setAtClockMs(r.atClockMs()).setResult(ResultCodec.toProto(r.result())));
    }
    for (AuditEntry a : img.audit()) {
      b.addAudit(AuditRecord.newBuilder().setIndex(a.index()).setWallMs(a.wallMs()).setKind(a.kind().name())
          .setLockName(a.lockName()).setSessionId(a.sessionId()).setClient(CommandCodec.identity(a.client()))
          .setToken(a.token()).addAllLocks(a.locks()).setReason(a.reason()).setRequestedBy(a.requestedBy())
          .setSuccessorSessionId(a.successorSessionId()).setLocksNotListed(a.locksNotListed()));
    }
    for (KvEntry k : img.kv()) {
      b.addKv(KvRecord.newBuilder().setKey(k.key()).setValue(com.google.protobuf.ByteString.copyFrom(k.value()))
          .setRevision(k.revision()).setCreateRevision(k.createRevision()).setFenceLock(k.fenceLock())
          .setFenceToken(k.fenceToken()).setWrittenAtMs(k.writtenAtMs()));
    }
    for (StateImage.CachedRequest r : img.kvRequests()) {
      b.addKvRequests(CachedResult.newBuilder().setRequestId(r.requestId()).setFingerprint(r.fingerprint())
          .setAtClockMs(r.atClockMs()).setResult(ResultCodec.toProto(r.result())));
    }
    return b.build().toByteArray();
  }

  public static StateImage decode(byte[] bytes) throws InvalidProtocolBufferException {
    Snapshot p = Snapshot.parseFrom(bytes);
    if (p.getFormatVersion() < FORMAT_WITHOUT_EPOCH || p.getFormatVersion() > FORMAT_VERSION) {
      throw new InvalidProtocolBufferException("snapshot format " + p.getFormatVersion()
          + " is not supported (expected " + FORMAT_WITHOUT_EPOCH + " to " + FORMAT_VERSION + ")");
    }
    if (p.getFormatVersion() == FORMAT_WITHOUT_EPOCH && p.getFencingEpoch() != 0) {
      throw new InvalidProtocolBufferException("snapshot format 1 cannot carry fencing epoch " + p.getFencingEpoch());
    }
    // What the format promises, checked: a file cut short at a field boundary still parses, and the
    // fields written last (epoch, last revision) are the first to go.
    if (p.getFormatVersion() == FORMAT_WITH_EPOCH && p.getFencingEpoch() <= 0) {
      throw new InvalidProtocolBufferException("snapshot format 2 must carry a fencing epoch above 0, got "
          + p.getFencingEpoch() + " (truncated?)");
    }
    if (p.getFormatVersion() == FORMAT_VERSION && p.getLastRevision() <= p.getLastAppliedIndex()) {
      throw new InvalidProtocolBufferException("snapshot format 3 must carry a last revision above its index "
          + p.getLastAppliedIndex() + ", got " + p.getLastRevision() + " (truncated?)");
    }
    List<StateImage.SessionImage> sessions = new ArrayList<>();
    for (SessionState s : p.getSessionsList()) {
      List<StateImage.CachedRequest> reqs = new ArrayList<>();
      for (CachedResult r : s.getRecentRequestsList()) {
        reqs.add(new StateImage.CachedRequest(r.getRequestId(), r.getFingerprint(),
            ResultCodec.fromProto(r.getResult()), r.getAtClockMs()));
      }
      sessions.add(new StateImage.SessionImage(s.getId(), s.getTtlMs(), CommandCodec.clientInfo(s.getClient()),
          s.getCreatedAtMs(), s.getRenewedAtMs(), s.getRenewedAtClockMs(), s.getRenewedIndex(), reqs,
          s.getExclusiveKey()));
    }
    List<StateImage.LockImage> locks = new ArrayList<>();
    for (LockStateRecord l : p.getLocksList()) {
      List<Waiter> waiters = new ArrayList<>();
      for (WaiterState w : l.getWaitersList()) {
        waiters.add(new Waiter(w.getSessionId(), w.getRequestId(), w.getQueuedAtMs(), w.getDeadlineClockMs(),
            w.getLockDelayMs(), w.getMaxHoldMs()));
      }
      locks.add(new StateImage.LockImage(l.getName(), l.getHolderSessionId(), l.getGrantRequestId(),
          l.getToken(), l.getAcquiredAtMs(), waiters, l.getLockDelayMs(), l.getMaxHoldMs(),
          l.getHoldDeadlineClockMs(), l.getGrantableAtClockMs(), l.getFormerHolderSessionId(),
          CommandCodec.clientInfo(l.getFormerHolder()), l.getFreedAtMs(), l.getFreeReason()));
    }
    List<StateImage.OpenImage> opens = new ArrayList<>();
    for (OpenedSession o : p.getRecentOpensList()) {
      opens.add(new StateImage.OpenImage(o.getRequestId(), o.getFingerprint(), o.getSessionId(), o.getTtlMs()));
    }
    List<StateImage.CachedRequest> admin = new ArrayList<>();
    for (CachedResult r : p.getAdminRequestsList()) {
      admin.add(new StateImage.CachedRequest(r.getRequestId(), r.getFingerprint(), ResultCodec.fromProto(r.getResult()),
          r.getAtClockMs()));
    }
    List<AuditEntry> audit = new ArrayList<>();
    for (AuditRecord a : p.getAuditList()) {
      audit.add(new AuditEntry(a.getIndex(), a.getWallMs(), AuditEntry.Kind.valueOf(a.getKind()), a.getLockName(),
          a.getSessionId(), CommandCodec.clientInfo(a.getClient()), a.getToken(), a.getLocksList(), a.getReason(),
          a.getRequestedBy(), a.getSuccessorSessionId(), a.getLocksNotListed()));
    }
    List<KvEntry> kv = new ArrayList<>();
    for (KvRecord k : p.getKvList()) {
      kv.add(new KvEntry(k.getKey(), k.getValue().toByteArray(), k.getRevision(), k.getCreateRevision(),
          k.getFenceLock(), k.getFenceToken(), k.getWrittenAtMs()));
    }
    List<StateImage.CachedRequest> kvRequests = new ArrayList<>();
    for (CachedResult r : p.getKvRequestsList()) {
      kvRequests.add(new StateImage.CachedRequest(r.getRequestId(), r.getFingerprint(),
          ResultCodec.fromProto(r.getResult()), r.getAtClockMs()));
    }
    return new StateImage(p.getLastAppliedIndex(), p.getLastAppliedTerm(), p.getClockMs(), p.getLastStampMs(),
        p.getLastStampTerm(), p.getWallMs(), sessions, locks, opens, admin, audit, kv, kvRequests,
        p.getFencingEpoch(), Math.max(p.getLastRevision(), p.getLastAppliedIndex()),
        Math.max(p.getClusterRules(), io.holdfast.server.state.LogEntry.NEGOTIATED_FROM));
  }
}
