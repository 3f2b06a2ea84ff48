package io.holdfast.chaos;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;

/**
 * Fault {@code ack-without-commit}: the keepalive stream is answered by the front door itself,
 * "alive" at once, and the keepalives never reach the leader's session clock. Clients believe
 * their sessions are renewed; the cluster expires them one TTL after they opened and gives their
 * locks away while the holders still trust their leases.
 */
final class AckWithoutCommitInterceptor implements ServerInterceptor {
  @Override
  @SuppressWarnings("unchecked")
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!call.getMethodDescriptor().getFullMethodName().equals(SessionServiceGrpc.getKeepAliveMethod().getFullMethodName())) {
      return next.startCall(call, headers);
    }
    call.sendHeaders(new Metadata());
    call.request(1);
    return new ServerCall.Listener<>() {
      @Override
      public void onMessage(Q message) {
        KeepAliveRequest k = (KeepAliveRequest) message;
        call.sendMessage((R) KeepAliveResponse.newBuilder().setSessionId(k.getSessionId()).setSeq(k.getSeq())
            .setAlive(true).build());
        call.request(1);
      }

      @Override
      public void onHalfClose() {
        call.close(Status.OK, new Metadata());
      }
    };
  }
}
