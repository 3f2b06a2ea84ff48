package io.holdfast.server.api;

import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.ResponseHeader;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/** Submits a command and answers a unary call with its mapped result or its mapped failure. */
final class Responses {
  private final RaftNode raft;
  private final ApiErrors errors;

  Responses(RaftNode raft, ApiErrors errors) {
    this.raft = raft;
    this.errors = errors;
  }

  ResponseHeader header() {
    return ResponseHeader.newBuilder().setMemberId(raft.nodeId()).setAppliedIndex(raft.appliedIndex()).build();
  }

  <T> void submit(Command cmd, StreamObserver<T> out, Function<Result, T> onSuccess) {
    raft.submit(cmd).whenComplete((r, err) -> answer(r, err, out, onSuccess));
  }

  <T> void answer(Result r, Throwable err, StreamObserver<T> out, Function<Result, T> onSuccess) {
    try {
      if (err != null) {
        out.onError(errors.of(err));
      } else if (r instanceof Result.Failure f) {
        out.onError(errors.of(f));
      } else {
        out.onNext(onSuccess.apply(r));
        out.onCompleted();
      }
    } catch (RuntimeException e) {
      // The call may have been cancelled by the client meanwhile; nothing else to tell it.
      if (!(e instanceof IllegalStateException)) {
        out.onError(errors.of(e));
      }
    }
  }

  static <T> CompletableFuture<T> failed(Throwable t) {
    return CompletableFuture.failedFuture(t);
  }
}
