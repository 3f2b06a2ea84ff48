package io.holdfast.server.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.statemachine.proto.Identity;
import io.holdfast.server.statemachine.proto.Label;
import java.util.Map;
import java.util.TreeMap;

/** Maps commands between the domain records and their log encoding (protobuf). */
public final class CommandCodec {
  private CommandCodec() {}

  /** A decoded log entry payload; {@code applyRules}: see LogEntry.RULES (0 in entries from before them). */
  /** {@code fencingEpoch}: the writing leader's, or -1 in entries from before leaders said it. */
  public record Decoded(long leaderTimeMs, Command command, int applyRules, long fencingEpoch, long carriedMs) {}

  public static byte[] encode(Command c, long leaderTimeMs) {
    return toProto(c).setLeaderTimeMs(leaderTimeMs).setApplyRules(LogEntry.RULES).build().toByteArray();
  }

  /**
   * What {@code c} adds to a log entry as one command of a batch, in bytes: its encoding plus the
   * batch's framing, so never less than it takes. A put's value is counted, not copied.
   */
  public static long entryBytes(Command c) {
    if (c instanceof Command.Put p) {
      Command.Put empty = new Command.Put(p.requestId(), p.key(), new byte[0], p.expectedRevision(), p.fenceLock(),
          p.fenceToken(), p.maxKvBytes());
      // The value's tag and length prefix, and the longer length prefixes of the messages around it.
      return toProto(empty).build().getSerializedSize() + (long) p.valueLength() + 24;
    }
    return toProto(c).build().getSerializedSize() + 8;
  }

  public static Decoded decode(byte[] bytes) throws InvalidProtocolBufferException {
    var p = io.holdfast.server.statemachine.proto.Command.parseFrom(bytes);
    return new Decoded(p.getLeaderTimeMs(), fromProto(p), p.getApplyRules(),
        p.hasFencingEpoch() ? p.getFencingEpoch() : -1, p.getCarriedMs());
  }

  /**
   * Stamps an encoded command with the leader's time and the cluster's apply rules {@code rules}
   * (done in startTransaction). {@code supportedRules}: the most this leader can apply itself.
   */
  public static byte[] stamp(byte[] bytes, long leaderTimeMs, int rules, int supportedRules)
      throws InvalidProtocolBufferException {
    return checked(bytes, supportedRules).toBuilder().setLeaderTimeMs(leaderTimeMs)
        .setApplyRules(Math.min(rules, supportedRules)).build().toByteArray();
  }

  /** As above, with the leader's fencing epoch, which every member checks against its own. */
  public static byte[] stamp(byte[] bytes, long leaderTimeMs, int rules, int supportedRules, long fencingEpoch)
      throws InvalidProtocolBufferException {
    return stamp(bytes, leaderTimeMs, rules, supportedRules, fencingEpoch, 0);
  }

  /** As above, with the time a new leader carries across the failover ({@code carriedMs}; 0: none). */
  public static byte[] stamp(byte[] bytes, long leaderTimeMs, int rules, int supportedRules, long fencingEpoch,
      long carriedMs) throws InvalidProtocolBufferException {
    return checked(bytes, supportedRules).toBuilder().setLeaderTimeMs(leaderTimeMs)
        .setApplyRules(Math.min(rules, supportedRules)).setFencingEpoch(fencingEpoch).setCarriedMs(carriedMs).build()
        .toByteArray();
  }

  /**
   * As {@link #stamp}, for a command another node encoded (a follower passing a client's write on):
   * decoded and encoded again by this build, so that fields a newer build added, which older
   * members would ignore and newer ones apply, never reach the log.
   */
  public static byte[] stampForeign(byte[] bytes, long leaderTimeMs, int rules, int supportedRules)
      throws InvalidProtocolBufferException {
    return toProto(foreign(bytes, supportedRules)).setLeaderTimeMs(leaderTimeMs)
        .setApplyRules(Math.min(rules, supportedRules)).build().toByteArray();
  }

  /** As above, with the leader's fencing epoch (see {@link #stamp(byte[], long, int, int, long)}). */
  public static byte[] stampForeign(byte[] bytes, long leaderTimeMs, int rules, int supportedRules, long fencingEpoch)
      throws InvalidProtocolBufferException {
    return stampForeign(foreign(bytes, supportedRules), leaderTimeMs, rules, supportedRules, fencingEpoch);
  }

  /** A command another node encoded, decoded if a leader that knows rules up to {@code supportedRules} may log it. */
  public static Command foreign(byte[] bytes, int supportedRules) throws InvalidProtocolBufferException {
    var p = checked(bytes, supportedRules);
    refuseLeaderOnly(p);
    return fromProto(p);
  }

  /**
   * Renewals, expiries and rule raises come from the leader's own clock and negotiation, never from
   * another node: one logged for a Raft-port client could keep a dead holder's session alive, end a
   * live one, or raise the rules past what a member knows.
   */
  private static void refuseLeaderOnly(io.holdfast.server.statemachine.proto.Command p)
      throws InvalidProtocolBufferException {
    switch (p.getKindCase()) {
      case CHECKPOINT, EXPIRE_SESSION, RAISE_APPLY_RULES -> throw new InvalidProtocolBufferException(
          "only the leader proposes " + p.getKindCase().name().toLowerCase(java.util.Locale.ROOT)
          + ": not taken from another node");
      case BATCH -> {
        for (var inner : p.getBatch().getCommandsList()) {
          refuseLeaderOnly(inner);
        }
      }
      default -> { }
    }
  }

  /** As above, for a foreign command already decoded ({@link #foreign}), perhaps given the leader's limits. */
  public static byte[] stampForeign(Command c, long leaderTimeMs, int rules, int supportedRules, long fencingEpoch) {
    return stampForeign(c, leaderTimeMs, rules, supportedRules, fencingEpoch, 0);
  }

  /** As above, with the time a new leader carries across the failover ({@code carriedMs}; 0: none). */
  public static byte[] stampForeign(Command c, long leaderTimeMs, int rules, int supportedRules, long fencingEpoch,
      long carriedMs) {
    return toProto(c).setLeaderTimeMs(leaderTimeMs)
        .setApplyRules(Math.min(rules, supportedRules)).setFencingEpoch(fencingEpoch).setCarriedMs(carriedMs).build()
        .toByteArray();
  }

  /** {@code bytes} parsed, if a leader that knows rules up to {@code supportedRules} may log it. */
  private static io.holdfast.server.statemachine.proto.Command checked(byte[] bytes, int supportedRules)
      throws InvalidProtocolBufferException {
    var p = io.holdfast.server.statemachine.proto.Command.parseFrom(bytes);
    // Every replica stops at an entry it cannot decode (HoldfastStateMachine), so nothing that
    // this build could not decode may reach the log: not even from a stray Raft client.
    checkKinds(p, true);
    int raise = raisedRules(p);
    if (raise > supportedRules) {
      throw new InvalidProtocolBufferException("cannot raise the apply rules to " + raise + ": this node knows rules up to "
          + supportedRules);
    }
    return p;
  }

  private static int raisedRules(io.holdfast.server.statemachine.proto.Command p) {
    int most = p.hasRaiseApplyRules() ? p.getRaiseApplyRules().getRules() : 0;
    for (var inner : p.getBatch().getCommandsList()) {
      most = Math.max(most, raisedRules(inner));
    }
    return most;
  }

  /** The rules {@code c} raises the cluster to (the highest, in a batch); 0 if it raises none. */
  public static int raisedRules(Command c) {
    if (c instanceof Command.RaiseApplyRules r) {
      return Math.max(r.rules(), 0);
    }
    if (c instanceof Command.Batch b) {
      int most = 0;
      for (Command inner : b.commands()) {
        most = Math.max(most, raisedRules(inner));
      }
      return most;
    }
    return 0;
  }

  private static void checkKinds(io.holdfast.server.statemachine.proto.Command p, boolean top)
      throws InvalidProtocolBufferException {
    var kind = p.getKindCase();
    if (kind == io.holdfast.server.statemachine.proto.Command.KindCase.KIND_NOT_SET) {
      throw new InvalidProtocolBufferException("the request holds no command this node knows");
    }
    if (kind == io.holdfast.server.statemachine.proto.Command.KindCase.BATCH) {
      if (!top) {
        throw new InvalidProtocolBufferException("a batch cannot hold a batch");
      }
      for (var inner : p.getBatch().getCommandsList()) {
        checkKinds(inner, false);
      }
    }
  }

  private static io.holdfast.server.statemachine.proto.Command.Builder toProto(Command c) {
    var b = io.holdfast.server.statemachine.proto.Command.newBuilder();
    if (c instanceof Command.OpenSession o) {
      b.setOpenSession(io.holdfast.server.statemachine.proto.OpenSession.newBuilder()
          .setRequestId(o.requestId()).setTtlMs(o.ttlMs()).setClient(identity(o.client()))
          .setExclusiveKey(o.exclusiveKey()).setMaxSessionsPerIdentity(o.maxSessionsPerIdentity()));
    } else if (c instanceof Command.CloseSession o) {
      b.setCloseSession(io.holdfast.server.statemachine.proto.CloseSession.newBuilder()
          .setRequestId(o.requestId()).setSessionId(o.sessionId()));
    } else if (c instanceof Command.ExpireSession o) {
      b.setExpireSession(io.holdfast.server.statemachine.proto.ExpireSession.newBuilder()
          .setSessionId(o.sessionId()).setExpectedRenewedIndex(o.expectedRenewedIndex()));
    } else if (c instanceof Command.Acquire o) {
      b.setAcquire(io.holdfast.server.statemachine.proto.Acquire.newBuilder()
          .setRequestId(o.requestId()).setSessionId(o.sessionId()).setLockName(o.lockName())
          .setWaitMs(o.waitMs()).setLockDelayMs(o.lockDelayMs()).setMaxHoldMs(o.maxHoldMs())
          .setMaxLocksPerSession(o.maxLocksPerSession()).setMaxWaitersPerLock(o.maxWaitersPerLock()));
    } else if (c instanceof Command.CancelWait o) {
      b.setCancelWait(io.holdfast.server.statemachine.proto.CancelWait.newBuilder()
          .setRequestId(o.requestId()).setSessionId(o.sessionId()).setLockName(o.lockName())
          .setAcquireRequestId(o.acquireRequestId()).setReleaseIfGranted(o.releaseIfGranted()));
    } else if (c instanceof Command.Release o) {
      b.setRelease(io.holdfast.server.statemachine.proto.Release.newBuilder()
          .setRequestId(o.requestId()).setSessionId(o.sessionId()).setLockName(o.lockName())
          .setToken(o.token()).setResent(o.resent()));
    } else if (c instanceof Command.Revoke o) {
      b.setRevoke(io.holdfast.server.statemachine.proto.Revoke.newBuilder()
          .setRequestId(o.requestId()).setLockName(o.lockName()).setReason(o.reason())
          .setSuccessorSessionId(o.successorSessionId()).setRequestedBy(o.requestedBy())
          .setExpectedToken(o.expectedToken()));
    } else if (c instanceof Command.AdminExpireSession o) {
      b.setAdminExpireSession(io.holdfast.server.statemachine.proto.AdminExpireSession.newBuilder()
          .setRequestId(o.requestId()).setSessionId(o.sessionId()).setReason(o.reason())
          .setRequestedBy(o.requestedBy()));
    } else if (c instanceof Command.Put o) {
      b.setPut(io.holdfast.server.statemachine.proto.Put.newBuilder().setRequestId(o.requestId()).setKey(o.key())
          .setValue(com.google.protobuf.ByteString.copyFrom(o.value())).setExpectedRevision(o.expectedRevision())
          .setFenceLock(o.fenceLock()).setFenceToken(o.fenceToken()).setMaxKvBytes(o.maxKvBytes()));
    } else if (c instanceof Command.Delete o) {
      b.setDelete(io.holdfast.server.statemachine.proto.Delete.newBuilder().setRequestId(o.requestId()).setKey(o.key())
          .setExpectedRevision(o.expectedRevision()).setFenceLock(o.fenceLock()).setFenceToken(o.fenceToken()));
    } else if (c instanceof Command.Checkpoint o) {
      var cp = io.holdfast.server.statemachine.proto.Checkpoint.newBuilder();
      for (long id : o.renewedSessionIds()) {
        cp.addRenewedSessionIds(id);
      }
      b.setCheckpoint(cp);
    } else if (c instanceof Command.RaiseApplyRules o) {
      b.setRaiseApplyRules(io.holdfast.server.statemachine.proto.RaiseApplyRules.newBuilder().setRules(o.rules()));
    } else if (c instanceof Command.Batch o) {
      var batch = io.holdfast.server.statemachine.proto.CommandBatch.newBuilder();
      for (Command inner : o.commands()) {
        batch.addCommands(toProto(inner));
      }
      b.setBatch(batch);
    } else {
      throw new IllegalArgumentException("unknown command " + c);
    }
    return b;
  }

  private static Command fromProto(io.holdfast.server.statemachine.proto.Command p)
      throws InvalidProtocolBufferException {
    switch (p.getKindCase()) {
      case OPEN_SESSION: {
        var o = p.getOpenSession();
        return new Command.OpenSession(o.getRequestId(), o.getTtlMs(), clientInfo(o.getClient()),
            o.getExclusiveKey(), o.getMaxSessionsPerIdentity());
      }
      case CLOSE_SESSION:
        return new Command.CloseSession(p.getCloseSession().getRequestId(), p.getCloseSession().getSessionId());
      case EXPIRE_SESSION:
        return new Command.ExpireSession(p.getExpireSession().getSessionId(),
            p.getExpireSession().getExpectedRenewedIndex());
      case ACQUIRE: {
        var o = p.getAcquire();
        return new Command.Acquire(o.getRequestId(), o.getSessionId(), o.getLockName(), o.getWaitMs(),
            o.getLockDelayMs(), o.getMaxHoldMs(), o.getMaxLocksPerSession(), o.getMaxWaitersPerLock());
      }
      case CANCEL_WAIT: {
        var o = p.getCancelWait();
        return new Command.CancelWait(o.getRequestId(), o.getSessionId(), o.getLockName(),
            o.getAcquireRequestId(), o.getReleaseIfGranted());
      }
      case RELEASE: {
        var o = p.getRelease();
        return new Command.Release(o.getRequestId(), o.getSessionId(), o.getLockName(), o.getToken(), o.getResent());
      }
      case REVOKE: {
        var o = p.getRevoke();
        return new Command.Revoke(o.getRequestId(), o.getLockName(), o.getReason(), o.getSuccessorSessionId(),
            o.getRequestedBy(), o.getExpectedToken());
      }
      case ADMIN_EXPIRE_SESSION: {
        var o = p.getAdminExpireSession();
        return new Command.AdminExpireSession(o.getRequestId(), o.getSessionId(), o.getReason(), o.getRequestedBy());
      }
      case PUT: {
        var o = p.getPut();
        return new Command.Put(o.getRequestId(), o.getKey(), o.getValue().toByteArray(), o.getExpectedRevision(),
            o.getFenceLock(), o.getFenceToken(), o.getMaxKvBytes());
      }
      case DELETE: {
        var o = p.getDelete();
        return new Command.Delete(o.getRequestId(), o.getKey(), o.getExpectedRevision(), o.getFenceLock(),
            o.getFenceToken());
      }
      case CHECKPOINT: {
        var cp = p.getCheckpoint();
        long[] ids = new long[cp.getRenewedSessionIdsCount()];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = cp.getRenewedSessionIds(i);
        }
        return new Command.Checkpoint(ids);
      }
      case RAISE_APPLY_RULES:
        return new Command.RaiseApplyRules(p.getRaiseApplyRules().getRules());
      case BATCH: {
        java.util.List<Command> commands = new java.util.ArrayList<>(p.getBatch().getCommandsCount());
        for (var inner : p.getBatch().getCommandsList()) {
          if (inner.getKindCase() == io.holdfast.server.statemachine.proto.Command.KindCase.BATCH) {
            throw new InvalidProtocolBufferException("a batch cannot hold a batch");
          }
          commands.add(fromProto(inner));
        }
        return new Command.Batch(commands);
      }
      default:
        throw new InvalidProtocolBufferException("log entry holds no known command: " + p.getKindCase());
    }
  }

  static Identity identity(ClientInfo c) {
    Identity.Builder b = Identity.newBuilder().setName(c.name()).setHost(c.host()).setPid(c.pid())
        .setPrincipal(c.principal());
    for (Map.Entry<String, String> e : c.labels().entrySet()) {
      b.addLabels(Label.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
    }
    return b.build();
  }

  static ClientInfo clientInfo(Identity i) {
    TreeMap<String, String> labels = new TreeMap<>();
    for (Label l : i.getLabelsList()) {
      labels.put(l.getKey(), l.getValue());
    }
    return new ClientInfo(i.getName(), i.getHost(), i.getPid(), labels, i.getPrincipal());
  }
}
