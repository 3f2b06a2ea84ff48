package io.holdfast.chaos;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.HeldLock;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.function.Supplier;

/**
 * Fault {@code skip-fencing}: clients see one frozen token (the fencing epoch's first) for every
 * grant, as if the server never advanced the fence. Everything else keeps working: a release
 * with the frozen token is mapped back to the real one if the caller still holds the lock, and the
 * held locks in keepalive answers show the frozen token, so the client does not think it lost them.
 */
final class SkipFencingInterceptor implements ServerInterceptor {
  private final Supplier<HoldfastStateMachine> state;

  SkipFencingInterceptor(Supplier<HoldfastStateMachine> state) {
    this.state = state;
  }

  static long frozen(long token) {
    return (token >>> 48 << 48) + 1;
  }

  @Override
  @SuppressWarnings("unchecked")
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (method.equals(LockServiceGrpc.getAcquireMethod().getFullMethodName())) {
      return next.startCall(new SimpleForwardingServerCall<>(call) {
        @Override
        public void sendMessage(R message) {
          AcquireResponse r = (AcquireResponse) message;
          super.sendMessage(r.getGranted() ? (R) r.toBuilder().setToken(frozen(r.getToken())).build() : message);
        }
      }, headers);
    }
    if (method.equals(SessionServiceGrpc.getKeepAliveMethod().getFullMethodName())) {
      return next.startCall(new SimpleForwardingServerCall<>(call) {
        @Override
        public void sendMessage(R message) {
          KeepAliveResponse.Builder b = ((KeepAliveResponse) message).toBuilder();
          for (int i = 0; i < b.getHeldLocksCount(); i++) {
            HeldLock h = b.getHeldLocks(i);
            b.setHeldLocks(i, h.toBuilder().setToken(frozen(h.getToken())));
          }
          super.sendMessage((R) b.build());
        }
      }, headers);
    }
    if (method.equals(LockServiceGrpc.getReleaseMethod().getFullMethodName())) {
      return new SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
        @Override
        public void onMessage(Q message) {
          ReleaseRequest r = (ReleaseRequest) message;
          long[] held = state.get().read(s -> {
            LockRecord l = s.lock(r.getLockName());
            return l == null ? null : new long[] {l.holderSessionId(), l.token()};
          });
          if (held != null && held[0] == r.getSessionId() && frozen(held[1]) == r.getToken()) {
            message = (Q) r.toBuilder().setToken(held[1]).build();
          }
          super.onMessage(message);
        }
      };
    }
    return next.startCall(call, headers);
  }
}
