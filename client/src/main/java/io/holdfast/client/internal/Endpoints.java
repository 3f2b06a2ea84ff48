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

  public Endpoints(List<String> endpoints) {
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
    return channels.computeIfAbsent(endpoint, e -> NettyChannelBuilder.forTarget(e).usePlaintext()
        .keepAliveTime(5, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).build());
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
