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
  private final boolean fencedWrites;

  Responses(RaftNode raft, ApiErrors errors) {
    this(raft, errors, false);
  }

  /** {@code fencedWrites}: stale-token failures are fenced writes refused, not stale lock calls. */
  Responses(RaftNode raft, ApiErrors errors, boolean fencedWrites) {
    this.raft = raft;
    this.errors = errors;
    this.fencedWrites = fencedWrites;
  }

  ResponseHeader header() {
    return ResponseHeader.newBuilder().setMemberId(raft.nodeId()).setAppliedIndex(raft.appliedIndex()).build();
  }

  /** Call on the call's own thread: whether the client asked for forwarding is read from its context. */
  <T> void submit(Command cmd, StreamObserver<T> out, Function<Result, T> onSuccess) {
    raft.submit(cmd, ForwardRequest.asked()).whenComplete((r, err) -> answer(r, err, out, onSuccess));
  }

  <T> void answer(Result r, Throwable err, StreamObserver<T> out, Function<Result, T> onSuccess) {
    try {
      if (err != null) {
        out.onError(errors.of(err));
      } else if (r instanceof Result.Failure f) {
        out.onError(fencedWrites ? errors.ofFencedWrite(f) : errors.of(f));
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

  /** Answers from local state, after a ReadIndex barrier unless a stale read was asked for. */
  <T> void read(boolean staleOk, StreamObserver<T> out, java.util.function.Supplier<T> answer) {
    CompletableFuture<Void> barrier = staleOk ? CompletableFuture.completedFuture(null) : raft.readBarrier();
    barrier.whenComplete((v, err) -> {
      if (err != null) {
        out.onError(errors.of(err));
        return;
      }
      try {
        out.onNext(answer.get());
        out.onCompleted();
      } catch (RuntimeException e) {
        out.onError(errors.of(e));
      }
    });
  }
}
