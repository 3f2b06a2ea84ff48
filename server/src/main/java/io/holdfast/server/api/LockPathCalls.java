package io.holdfast.server.api;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.holdfast.proto.v1.LockServiceGrpc;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * Runs the lock calls (acquire, release, cancel-wait) on the gRPC transport thread that read them,
 * and every other call on the call pool. The hand-off to the pool cost each of these calls a
 * thread wake-up on the leader, on the path of every lock operation.
 *
 * <p>Only calls whose handlers cannot block qualify: they check their input, read the state under
 * its lock for a few microseconds and queue a command for Raft, whose answer arrives on a future.
 * The command queue never makes a caller wait: at most two entries are in flight in Ratis, so
 * Ratis's own queues stay far from their limits.
 */
public final class LockPathCalls implements ServerCallExecutorSupplier {
  private static final Set<String> ON_TRANSPORT_THREAD = Set.of(
      LockServiceGrpc.getAcquireMethod().getFullMethodName(),
      LockServiceGrpc.getReleaseMethod().getFullMethodName(),
      LockServiceGrpc.getCancelWaitMethod().getFullMethodName());
  private static final Executor DIRECT = Runnable::run;

  @Override
  public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata metadata) {
    // null: the server's own executor (the call pool).
    return ON_TRANSPORT_THREAD.contains(call.getMethodDescriptor().getFullMethodName()) ? DIRECT : null;
  }

  /** Whether {@code fullMethodName} runs on the transport thread. */
  static boolean onTransportThread(String fullMethodName) {
    return ON_TRANSPORT_THREAD.contains(fullMethodName);
  }
}
