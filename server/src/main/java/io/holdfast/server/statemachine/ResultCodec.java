package io.holdfast.server.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Result;

/** Maps results between the domain records and protobuf (Ratis replies and snapshots). */
public final class ResultCodec {
  private ResultCodec() {}

  public static byte[] encode(Result r) {
    return toProto(r).toByteArray();
  }

  public static Result decode(byte[] bytes) throws InvalidProtocolBufferException {
    return fromProto(io.holdfast.server.statemachine.proto.Result.parseFrom(bytes));
  }

  static io.holdfast.server.statemachine.proto.Result toProto(Result r) {
    var b = io.holdfast.server.statemachine.proto.Result.newBuilder().setKind(r.getClass().getSimpleName());
    if (r instanceof Result.Failure f) {
      b.setErrorCode(f.code().name()).setMessage(f.message()).setToken(f.currentToken());
    } else if (r instanceof Result.SessionOpened o) {
      b.setSessionId(o.sessionId()).setTtlMs(o.ttlMs());
    } else if (r instanceof Result.SessionClosed o) {
      b.addAllLocks(o.releasedLocks());
    } else if (r instanceof Result.SessionExpired o) {
      b.setFlag(o.expired()).addAllLocks(o.releasedLocks());
    } else if (r instanceof Result.Granted o) {
      b.setToken(o.token());
    } else if (r instanceof Result.Queued o) {
      b.setPosition(o.position());
    } else if (r instanceof Result.NotGranted o) {
      b.setSessionId(o.holderSessionId());
    } else if (r instanceof Result.Released o) {
      b.setSessionId(o.nextHolderSessionId());
    } else if (r instanceof Result.WaitCancelled o) {
      b.setFlag(o.wasGranted()).setPosition(o.released() ? 1 : 0).setToken(o.token());
    } else if (r instanceof Result.Revoked o) {
      b.setSessionId(o.formerHolderSessionId()).setToken(o.formerToken()).setSessionId2(o.grantedToSessionId())
          .setToken2(o.newToken()).setTtlMs(o.orphanedForMs());
    } else if (r instanceof Result.KvWritten o) {
      b.setToken(o.revision()).setFlag(o.existed());
    } else if (r instanceof Result.ApplyRulesRaised o) {
      b.setPosition(o.rules());
    } else if (r instanceof Result.CheckpointApplied o) {
      b.addAllSessionIds(o.missingSessionIds());
    } else if (r instanceof Result.Batch o) {
      for (Result inner : o.results()) {
        b.addBatch(toProto(inner));
      }
    }
    return b.build();
  }

  static Result fromProto(io.holdfast.server.statemachine.proto.Result p) throws InvalidProtocolBufferException {
    switch (p.getKind()) {
      case "Failure":
        return new Result.Failure(ErrorCode.valueOf(p.getErrorCode()), p.getMessage(), p.getToken());
      case "SessionOpened":
        return new Result.SessionOpened(p.getSessionId(), p.getTtlMs());
      case "SessionClosed":
        return new Result.SessionClosed(p.getLocksList());
      case "SessionExpired":
        return new Result.SessionExpired(p.getFlag(), p.getLocksList());
      case "Granted":
        return new Result.Granted(p.getToken());
      case "Queued":
        return new Result.Queued((int) p.getPosition());
      case "NotGranted":
        return new Result.NotGranted(p.getSessionId());
      case "Released":
        return new Result.Released(p.getSessionId());
      case "WaitCancelled":
        return new Result.WaitCancelled(p.getFlag(), p.getPosition() == 1, p.getToken());
      case "Revoked":
        return new Result.Revoked(p.getSessionId(), p.getToken(), p.getSessionId2(), p.getToken2(), p.getTtlMs());
      case "KvWritten":
        return new Result.KvWritten(p.getToken(), p.getFlag());
      case "ApplyRulesRaised":
        return new Result.ApplyRulesRaised((int) p.getPosition());
      case "CheckpointApplied":
        return new Result.CheckpointApplied(p.getSessionIdsList());
      case "Batch": {
        java.util.List<Result> results = new java.util.ArrayList<>(p.getBatchCount());
        for (var inner : p.getBatchList()) {
          results.add(fromProto(inner));
        }
        return new Result.Batch(results);
      }
      default:
        throw new InvalidProtocolBufferException("unknown result kind '" + p.getKind() + "'");
    }
  }
}
