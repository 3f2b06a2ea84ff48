package io.holdfast.client.internal;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The cluster's client endpoints, one channel each, and which one is believed to lead. A
 * redirect moves to the named leader; a failure without a hint moves to the next endpoint.
 * An endpoint that could not be reached is suspect for a second: after a leader dies, its
 * followers keep naming it until they elect another, and following those hints only costs time.
 *
 * <p>The list starts as the configured seeds and follows the cluster's members ({@link #learn}):
 * a client that outlives every member it was configured with still finds the ones that replaced
 * them.
 */
public final class Endpoints implements AutoCloseable {
  /** The largest answer the client takes: a 16 MiB value with room to spare. */
  static final int MAX_INBOUND_BYTES = 32 * 1024 * 1024;
  private final List<String> seeds;
  // Immutable, replaced whole: readers never see a list half-way through a change.
  private volatile List<String> all;
  private volatile Runnable onUnknownLeader = () -> { };
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile String current;
  private final Map<String, Long> unreachableAt = new ConcurrentHashMap<>();
  private final io.grpc.ChannelCredentials credentials;
  private final String bearerToken;

  /** Whether {@code endpoint} is host:port (a port of digits); what the builder and the CLI accept. */
  public static boolean isHostPort(String endpoint) {
    int colon = endpoint.lastIndexOf(':');
    return colon > 0 && colon < endpoint.length() - 1
        && endpoint.substring(colon + 1).chars().allMatch(Character::isDigit);
  }

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
    seeds = List.copyOf(new java.util.LinkedHashSet<>(endpoints));
    all = seeds;
    current = seeds.get(0);
  }

  /** Runs when a redirect names a leader this list does not have: the members have changed. */
  public void onUnknownLeader(Runnable action) {
    this.onUnknownLeader = action;
  }

  /**
   * The cluster's members' client endpoints, as the cluster reports them: they come first, then
   * the seeds that are not among them (a fallback, should the members' addresses not be
   * reachable from here). Endpoints learned before and no longer members are dropped, with their
   * channels. An empty list changes nothing.
   */
  public void learn(List<String> members) {
    if (members.isEmpty()) {
      return;
    }
    List<String> dropped;
    synchronized (this) {
      java.util.LinkedHashSet<String> next = new java.util.LinkedHashSet<>(members);
      next.addAll(seeds);
      List<String> before = all;
      all = List.copyOf(next);
      dropped = before.stream().filter(e -> !next.contains(e)).toList();
      if (!next.contains(current)) {
        current = all.get(0);
      }
    }
    for (String e : dropped) {
      ManagedChannel ch = channels.remove(e);
      if (ch != null) {
        ch.shutdown();
      }
      unreachableAt.remove(e);
    }
  }

  public String current() {
    return current;
  }

  public List<String> all() {
    return all;
  }

  /**
   * HTTP/2 keepalive pings find a node that stopped answering (paused, or cut off) within about
   * ten seconds, so that a call waiting there fails over instead of hanging. gRPC's own retry is
   * off: {@link Caller} retries with the same request id, and gRPC's buffering wrapper around
   * every call cost the client a few per cent of its CPU for retries it never made.
   */
  public ManagedChannel channel(String endpoint) {
    return channels.computeIfAbsent(endpoint, e -> {
      NettyChannelBuilder b = credentials == null ? NettyChannelBuilder.forTarget(e).usePlaintext()
          : NettyChannelBuilder.forTarget(e, credentials);
      if (bearerToken != null) {
        b.intercept(new BearerToken(bearerToken));
      }
      // A value may be up to 16 MiB (the server's max-value-bytes ceiling); gRPC's default is 4 MiB.
      return b.keepAliveTime(5, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).disableRetry()
          .maxInboundMessageSize(MAX_INBOUND_BYTES).build();
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
    boolean unknown;
    synchronized (this) {
      unknown = !all.contains(endpoint);
      if (unknown) {
        List<String> next = new java.util.ArrayList<>(all);
        next.add(endpoint);
        all = List.copyOf(next);
      }
      current = endpoint;
    }
    if (unknown) {
      onUnknownLeader.run();
    }
  }

  /** {@code endpoint} answered without naming a leader it is worth going to: try the next one. */
  public void failed(String endpoint) {
    // Under the lock of leaderHint and learn: a hint that lands between the check and the move
    // must not be overwritten with the next endpoint.
    synchronized (this) {
      if (endpoint.equals(current)) {
        current = next(endpoint);
      }
    }
  }

  /** No answer at all from {@code endpoint} (refused, reset): suspect it, and try the next one. */
  public void unreachable(String endpoint) {
    long now = System.nanoTime();
    unreachableAt.put(endpoint, now);
    silentAt.put(endpoint, now);
    failed(endpoint);
  }

  /**
   * {@code endpoint} did not answer within an attempt's deadline (a whole call timeout: cut off, or
   * badly overloaded), or is known to be out of this client's reach (a session renews around it).
   */
  public void silent(String endpoint) {
    silentAt.put(endpoint, System.nanoTime());
  }

  /** {@code endpoint} answered: it is in reach. */
  public void heard(String endpoint) {
    if (!silentAt.isEmpty()) {
      silentAt.remove(endpoint);
    }
  }

  /**
   * Whether {@code endpoint} went unanswered (refused, reset or past a deadline) within the last
   * {@link #SILENT_NANOS}: a leader that the followers name but this client cannot reach, so a
   * write goes through a follower instead.
   */
  public boolean wentSilent(String endpoint) {
    return markedWithin(silentAt, endpoint, SILENT_NANOS);
  }

  /** Whether {@code marks} holds a mark of {@code endpoint} younger than {@code windowNanos}; drops an older one. */
  private static boolean markedWithin(Map<String, Long> marks, String endpoint, long windowNanos) {
    Long at = marks.get(endpoint);
    if (at == null) {
      return false;
    }
    if (System.nanoTime() - at > windowNanos) {
      marks.remove(endpoint, at);
      return false;
    }
    return true;
  }

  /** How long a silent endpoint is not written to directly: a few attempts, so a healed cut is seen soon. */
  static final long SILENT_NANOS = TimeUnit.SECONDS.toNanos(5);
  private final Map<String, Long> silentAt = new ConcurrentHashMap<>();

  /** Whether {@code endpoint} failed to answer within the last {@link #SUSPECT_NANOS}. */
  public boolean suspect(String endpoint) {
    return markedWithin(unreachableAt, endpoint, SUSPECT_NANOS);
  }

  /** How long an unreachable endpoint stays suspect: about one election. */
  static final long SUSPECT_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** The endpoint after {@code endpoint} in order, skipping suspects unless all are. */
  private String next(String endpoint) {
    List<String> order = all;
    int i = order.indexOf(endpoint);
    for (int k = 1; k <= order.size(); k++) {
      String candidate = order.get(Math.floorMod(i + k, order.size()));
      if (!suspect(candidate)) {
        return candidate;
      }
    }
    return order.get(Math.floorMod(i + 1, order.size()));
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
