package io.holdfast.chaos;

import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.RevokeRequest;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Fault {@code grant-without-holder-check}: an acquire of a lock that another live session holds
 * takes it at once, as if the grant never looked at the holder. Done with the admin revoke (the
 * caller named as successor) before the acquire goes on, so tokens still advance and the old
 * holder's late writes are still refused: only the checks on who may hold when can see it.
 */
final class GrantWithoutHolderCheckInterceptor implements ServerInterceptor {
  private final Supplier<HoldfastStateMachine> state;
  private final String self;
  private volatile ManagedChannel channel;

  GrantWithoutHolderCheckInterceptor(Supplier<HoldfastStateMachine> state, String selfEndpoint) {
    this.state = state;
    this.self = selfEndpoint;
  }

  private ManagedChannel channel() {
    if (channel == null) {
      synchronized (this) {
        if (channel == null) {
          channel = NettyChannelBuilder.forTarget(self).usePlaintext().build();
        }
      }
    }
    return channel;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!call.getMethodDescriptor().getFullMethodName().equals(LockServiceGrpc.getAcquireMethod().getFullMethodName())) {
      return next.startCall(call, headers);
    }
    return new SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
      @Override
      public void onMessage(Q message) {
        AcquireRequest a = (AcquireRequest) message;
        Long holder = state.get().read(s -> {
          LockRecord l = s.lock(a.getLockName());
          return l == null || !l.isHeld() ? null : l.holderSessionId();
        });
        if (holder != null && holder != a.getSessionId()) {
          try {
            AdminServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(2, TimeUnit.SECONDS)
                .revoke(RevokeRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
                    .setLockName(a.getLockName()).setSuccessorSessionId(a.getSessionId())
                    .setReason("chaos fault grant-without-holder-check").build());
          } catch (RuntimeException e) {
            // not the leader, or the holder moved: let the acquire go on as it would
          }
        }
        super.onMessage(message);
      }
    };
  }
}
