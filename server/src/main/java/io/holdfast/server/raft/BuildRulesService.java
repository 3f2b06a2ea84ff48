package io.holdfast.server.raft;

import io.holdfast.server.statemachine.proto.SupportedRulesReply;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.grpc.netty.NegotiationType;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.ServerCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContextBuilder;

/**
 * Which apply rules a node's build knows, asked on its Raft port before the leader raises the
 * cluster's rules or adds the node as a member. A gRPC service of its own on Ratis's server rather
 * than a Ratis request: Ratis answers a node's requests only once the node is in the
 * configuration, and a node about to be added is not yet. It runs under the peers' TLS.
 */
final class BuildRulesService {
  static final String SERVICE = "holdfast.internal.BuildRules";

  /** What a node said: its id (so a wrong address is noticed) and the highest rules it knows. */
  record Answer(String nodeId, int supported) {}

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> SUPPORTED = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Supported"))
      .setRequestMarshaller(BYTES)
      .setResponseMarshaller(BYTES)
      .build();

  private BuildRulesService() {}

  /** The service a node adds to its Raft port: it answers with {@code nodeId} and {@code supported}. */
  static ServerServiceDefinition definition(String nodeId, int supported) {
    byte[] reply = SupportedRulesReply.newBuilder().setSupported(supported).setNodeId(nodeId).build().toByteArray();
    return ServerServiceDefinition.builder(SERVICE)
        .addMethod(SUPPORTED, ServerCalls.asyncUnaryCall((byte[] request, StreamObserver<byte[]> out) -> {
          out.onNext(reply);
          out.onCompleted();
        }))
        .build();
  }

  /**
   * Asks the node whose Raft port is {@code address}, with the cluster's peer TLS ({@code null}:
   * plaintext). Fails when it does not answer within {@code timeoutMs}, including a build from
   * before this service (UNIMPLEMENTED).
   */
  static CompletableFuture<Answer> ask(String address, GrpcTlsConfig tls, long timeoutMs) {
    ManagedChannel channel;
    try {
      channel = channel(address, tls);
    } catch (RuntimeException | SSLException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Answer> answer = new CompletableFuture<>();
    try {
      ClientCalls.asyncUnaryCall(channel.newCall(SUPPORTED, CallOptions.DEFAULT.withDeadlineAfter(timeoutMs,
          TimeUnit.MILLISECONDS)), new byte[0], new StreamObserver<>() {
            @Override
            public void onNext(byte[] value) {
              try {
                SupportedRulesReply r = SupportedRulesReply.parseFrom(value);
                answer.complete(new Answer(r.getNodeId(), r.getSupported()));
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                answer.completeExceptionally(e);
              }
            }

            @Override
            public void onError(Throwable t) {
              answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
              answer.completeExceptionally(new IllegalStateException("no answer"));
            }
          });
    } catch (RuntimeException e) {
      answer.completeExceptionally(e);
    }
    // shutdownNow does not block: the channel goes as soon as the one call is over.
    return answer.whenComplete((a, error) -> channel.shutdownNow());
  }

  private static ManagedChannel channel(String address, GrpcTlsConfig tls) throws SSLException {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).proxyDetector(target -> null).disableRetry();
    if (tls == null) {
      return b.negotiationType(NegotiationType.PLAINTEXT).build();
    }
    SslContextBuilder ssl = GrpcSslContexts.forClient();
    TrustManager trust = tls.getTrustManager() == null ? null : tls.getTrustManager().getTrustManager();
    if (trust != null) {
      ssl.trustManager(trust);
    }
    KeyManager key = tls.getKeyManager() == null ? null : tls.getKeyManager().getKeyManager();
    if (tls.getMtlsEnabled() && key != null) {
      ssl.keyManager(key);
    }
    return b.useTransportSecurity().sslContext(ssl.build()).build();
  }
}
