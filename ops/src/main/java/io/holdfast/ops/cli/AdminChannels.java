package io.holdfast.ops.cli;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.client.internal.Endpoints;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.ClusterStatusResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Raw AdminService stubs for the operator commands the client library does not wrap (membership,
 * leadership, backups): finds the leader from any endpoint's cluster status, following its
 * leader address, which may name a member the endpoint list does not know.
 */
final class AdminChannels implements AutoCloseable {
  private final List<String> endpoints;
  private final Duration timeout;
  /** The client's channels: the same TLS and bearer token as every other command. */
  private final Endpoints channels;

  AdminChannels(Endpoints channels, List<String> endpoints, Duration timeout) {
    this.channels = channels;
    this.endpoints = endpoints;
    this.timeout = timeout;
  }

  ManagedChannel channel(String endpoint) {
    return channels.channel(endpoint);
  }

  AdminServiceGrpc.AdminServiceBlockingStub stub(String endpoint, Duration deadline) {
    return AdminServiceGrpc.newBlockingStub(channel(endpoint)).withDeadlineAfter(deadline.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  ClusterStatusResponse status(String endpoint) {
    return stub(endpoint, Duration.ofSeconds(2)).clusterStatus(ClusterStatusRequest.getDefaultInstance());
  }

  /** The client endpoint of the leader, waiting up to the timeout for one to be known. */
  String leader() {
    long end = System.nanoTime() + timeout.toNanos();
    StatusRuntimeException last = null;
    do {
      for (String e : endpoints) {
        try {
          ClusterStatusResponse s = status(e);
          if ("LEADER".equals(s.getRole())) {
            return e;
          }
          String hint = s.getLeaderClientAddress();
          if (!hint.isEmpty() && "LEADER".equals(status(hint).getRole())) {
            return hint;
          }
        } catch (StatusRuntimeException x) {
          last = x;
        }
      }
      sleep(200);
    } while (System.nanoTime() < end);
    throw Status.UNAVAILABLE.withDescription("no leader found within " + timeout.toMillis() + " ms via "
        + endpoints + (last == null ? "" : " (last error: " + last.getStatus() + ")")).asRuntimeException();
  }

  /** Any endpoint that answers. */
  String any() {
    StatusRuntimeException last = null;
    for (String e : endpoints) {
      try {
        status(e);
        return e;
      } catch (StatusRuntimeException x) {
        last = x;
      }
    }
    throw Status.UNAVAILABLE.withDescription("no endpoint of " + endpoints + " answers"
        + (last == null ? "" : " (last error: " + last.getStatus() + ")")).asRuntimeException();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    }
  }

  @Override
  public void close() {
    channels.close();
  }
}
