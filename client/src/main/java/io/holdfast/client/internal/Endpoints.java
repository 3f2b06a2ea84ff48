package io.holdfast.client.internal;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The cluster's client endpoints, one channel each, and which one is believed to lead. A
 * redirect moves to the named leader; a failure without a hint moves to the next endpoint.
 */
public final class Endpoints implements AutoCloseable {
  private final List<String> all = new CopyOnWriteArrayList<>();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile String current;
  private final io.grpc.ChannelCredentials credentials;
  private final String bearerToken;

  public Endpoints(List<String> endpoints) {
    this(endpoints, null, null);
  }

  /**
   * {@code tls}: null for plaintext. {@code bearerToken}: sent as {@code authorization: Bearer ...}
   * on every call, or null.
   */
  public Endpoints(List<String> endpoints, io.holdfast.client.TlsConfig tls, String bearerToken) {
    this.credentials = tls == null ? null : credentials(tls);
    this.bearerToken = bearerToken;
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("at least one endpoint is required");
    }
    all.addAll(endpoints);
    current = endpoints.get(0);
  }

  public String current() {
    return current;
  }

  public List<String> all() {
    return List.copyOf(all);
  }

  /**
   * HTTP/2 keepalive pings find a node that stopped answering (paused, or cut off) within about
   * ten seconds, so that a call waiting there fails over instead of hanging.
   */
  public ManagedChannel channel(String endpoint) {
    return channels.computeIfAbsent(endpoint, e -> {
      NettyChannelBuilder b = credentials == null ? NettyChannelBuilder.forTarget(e).usePlaintext()
          : NettyChannelBuilder.forTarget(e, credentials);
      if (bearerToken != null) {
        b.intercept(new BearerToken(bearerToken));
      }
      return b.keepAliveTime(5, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).build();
    });
  }

  private static io.grpc.ChannelCredentials credentials(io.holdfast.client.TlsConfig tls) {
    try {
      io.grpc.TlsChannelCredentials.Builder b = io.grpc.TlsChannelCredentials.newBuilder()
          .trustManager(tls.ca().toFile());
      if (tls.mutual()) {
        b.keyManager(tls.cert().toFile(), tls.key().toFile());
      }
      return b.build();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("cannot read TLS files: " + e.getMessage(), e);
    }
  }

  /** Adds the bearer token to every call's headers. */
  private static final class BearerToken implements io.grpc.ClientInterceptor {
    private static final io.grpc.Metadata.Key<String> AUTHORIZATION =
        io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER);
    private final String header;

    BearerToken(String token) {
      this.header = "Bearer " + token;
    }

    @Override
    public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(io.grpc.MethodDescriptor<Q, R> method,
        io.grpc.CallOptions options, io.grpc.Channel next) {
      return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, io.grpc.Metadata headers) {
          headers.put(AUTHORIZATION, header);
          super.start(listener, headers);
        }
      };
    }
  }

  /** A node named {@code endpoint} as the leader. */
  public void leaderHint(String endpoint) {
    if (!all.contains(endpoint)) {
      all.add(endpoint);
    }
    current = endpoint;
  }

  /** {@code endpoint} failed without naming a leader: try the next one. */
  public void failed(String endpoint) {
    if (endpoint.equals(current)) {
      int i = all.indexOf(endpoint);
      current = all.get((i + 1) % all.size());
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
