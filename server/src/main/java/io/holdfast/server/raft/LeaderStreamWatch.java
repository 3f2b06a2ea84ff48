package io.holdfast.server.raft;

import java.util.EnumSet;
import org.apache.ratis.grpc.server.GrpcServices;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;

/**
 * Tells the {@link DeadLeaderDetector} when a peer's AppendEntries stream into this node's Raft
 * port is cut rather than completed, which is what a dying leader's connections do. Installed on
 * Ratis's own gRPC server through its services customizer; it reads only the sender's id, from the
 * first request of each stream, and when requests carry entries (how busy the leader was before
 * the cut).
 */
final class LeaderStreamWatch implements ServerInterceptor, GrpcServices.Customizer {
  private static final String APPEND_ENTRIES = RaftServerProtocolServiceGrpc.getAppendEntriesMethod().getFullMethodName();

  private final DeadLeaderDetector detector;

  LeaderStreamWatch(DeadLeaderDetector detector) {
    this.detector = detector;
  }

  @Override
  public NettyServerBuilder customize(NettyServerBuilder builder, EnumSet<GrpcServices.Type> types) {
    return types.contains(GrpcServices.Type.SERVER) ? builder.intercept(this) : builder;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    ServerCall.Listener<Q> listener = next.startCall(call, headers);
    if (!APPEND_ENTRIES.equals(call.getMethodDescriptor().getFullMethodName())) {
      return listener;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      private volatile RaftPeerId sender;

      @Override
      public void onMessage(Q message) {
        if (message instanceof AppendEntriesRequestProto request) {
          if (sender == null) {
            sender = RaftPeerId.valueOf(request.getServerRequest().getRequestorId());
          }
          if (request.getEntriesCount() > 0) {
            try {
              detector.entriesFrom(sender);
            } catch (RuntimeException e) {
              // Only a failover hint: whatever happens here, the append must still reach Ratis.
            }
          }
        }
        super.onMessage(message);
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          RaftPeerId from = sender;
          if (from != null) {
            detector.streamCut(from);
          }
        }
      }
    };
  }
}
