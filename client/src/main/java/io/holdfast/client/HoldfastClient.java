package io.holdfast.client;

import io.holdfast.client.internal.ClientCore;
import io.holdfast.client.internal.Endpoints;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The entry point to a Holdfast cluster. Create one per application and share it; it is
 * thread-safe and {@link AutoCloseable}.
 *
 * <pre>{@code
 * try (HoldfastClient client = HoldfastClient.builder()
 *         .endpoints("10.0.0.1:7400", "10.0.0.2:7400", "10.0.0.3:7400")
 *         .clientName("orchestrator")
 *         .build();
 *      Session session = client.newSession(Duration.ofSeconds(10));
 *      LockLease lease = session.lock("fleet/config")) {
 *   configStore.write(newConfig, lease.token());   // the store refuses older tokens
 * }
 * }</pre>
 *
 * <p>Calls follow the leader on their own: a follower's redirect is followed at once, an
 * unreachable node is skipped, and with no leader anywhere the {@link RetryPolicy} backs off
 * (never a busy loop) until it gives up with {@link ClusterUnavailableException}. The endpoint
 * list follows the cluster's members ({@link Builder#memberSync}), so a long-running client keeps
 * finding the cluster after the members it was given have been replaced.
 */
public final class HoldfastClient implements AutoCloseable {
  private final ClientCore core;

  private HoldfastClient(ClientCore core) {
    this.core = core;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Opens a session with the given TTL (within the cluster's bounds) and keeps it alive. */
  public Session newSession(Duration ttl) {
    return core.newSession(ttl, "");
  }

  /**
   * Opens a session that holds {@code exclusiveKey} (e.g. "orchestrator/node-7"): an older live
   * session with the same key (this process's previous incarnation) is ended at once, and its locks
   * move on without waiting out its TTL.
   */
  public Session newSession(Duration ttl, String exclusiveKey) {
    return core.newSession(ttl, exclusiveKey);
  }

  public CompletableFuture<Session> newSessionAsync(Duration ttl) {
    return core.newSessionAsync(ttl, "");
  }

  /** The fenced key-value store (config-sized values, revisions, compare-and-set, fenced writes). */
  public KvClient kv() {
    return core.kv();
  }

  /**
   * Watches locks under {@code lockPrefixes} and keys under {@code keyPrefixes} ("" for all),
   * starting after revision {@code afterIndex} (0: with the current state). {@code listener} gets
   * every matching entry once, in log order, across failovers; a batch it throws on is given to
   * it again (see {@link Watch}). A batch is one log entry, and its index is the entry's last
   * revision: commands that arrived together share an entry, so resuming after a revision inside
   * one (a put's own, say) gives that whole entry again, the put included. Resume from a batch's
   * {@link WatchBatch#index()} ({@link Watch#lastIndex()}) to get nothing twice.
   */
  public Watch watch(List<String> lockPrefixes, List<String> keyPrefixes, long afterIndex,
      java.util.function.Consumer<WatchBatch> listener) {
    return core.watch(lockPrefixes, keyPrefixes, afterIndex, listener);
  }

  /** The same watch as a {@link java.util.concurrent.Flow.Publisher}: one resuming watch per subscriber. */
  public java.util.concurrent.Flow.Publisher<WatchBatch> watchPublisher(List<String> lockPrefixes,
      List<String> keyPrefixes, long afterIndex) {
    return new io.holdfast.client.internal.WatchPublisher(core, lockPrefixes, keyPrefixes, afterIndex);
  }

  /** Leader election named {@code name} (a lock name; the leader announces itself in {@code name/leader}). */
  public Election election(String name) {
    return new io.holdfast.client.internal.RealElection(this, name);
  }

  /** The operator's view and tools (status, listings, revoke, admin expiry, audit). */
  public AdminClient admin() {
    return core.admin();
  }

  /** Who holds {@code name}, read linearizably from the cluster. */
  public LockDescription describeLock(String name) {
    return core.describeLock(name);
  }

  /** The endpoint the client currently believes leads. */
  public String currentEndpoint() {
    return core.endpoints().current();
  }

  @Override
  public void close() {
    core.close();
  }

  /**
   * Configures a {@link HoldfastClient}. Only {@link #endpoints} is required; {@link #tls} and
   * {@link #bearerToken} say how to reach and authenticate to a secured cluster.
   */
  public static final class Builder {
    private final List<String> endpoints = new ArrayList<>();
    private String name = "holdfast-client";
    private String host = defaultHost();
    private long pid = ProcessHandle.current().pid();
    private final Map<String, String> labels = new LinkedHashMap<>();
    private Duration callTimeout = Duration.ofSeconds(5);
    private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
    private Executor executor;
    private TlsConfig tls;
    private String bearerToken;
    private Duration memberSync = Duration.ofSeconds(30);

    private Builder() {}

    private static String defaultHost() {
      try {
        return InetAddress.getLocalHost().getHostName();
      } catch (Exception e) {
        return Optional.ofNullable(System.getenv("HOSTNAME")).orElse("unknown");
      }
    }

    /** {@code host:port} of each node's client API (several, so the client can fail over). */
    public Builder endpoints(String... endpoints) {
      return endpoints(Arrays.asList(endpoints));
    }

    public Builder endpoints(List<String> endpoints) {
      for (String e : endpoints) {
        for (String part : e.split(",")) {
          if (!part.isBlank()) {
            this.endpoints.add(part.trim());
          }
        }
      }
      return this;
    }

    /** The name shown as the holder of this client's locks. Default "holdfast-client". */
    public Builder clientName(String name) {
      this.name = name;
      return this;
    }

    /** Default: this machine's host name. */
    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** Default: this process's pid. */
    public Builder pid(long pid) {
      this.pid = pid;
      return this;
    }

    public Builder label(String key, String value) {
      labels.put(key, value);
      return this;
    }

    /**
     * How long one attempt of a call may take before it is retried elsewhere; at least 1 ms.
     * Default 5 s. A timed lock or a tryLock gives up after its wait plus one call timeout, and
     * no call outlives its retry budget ({@link RetryPolicy#maxElapsed}) by an attempt.
     */
    public Builder callTimeout(Duration timeout) {
      this.callTimeout = timeout;
      return this;
    }

    public Builder retryPolicy(RetryPolicy policy) {
      this.retryPolicy = policy;
      return this;
    }

    /**
     * Connects with TLS (and mutual TLS when {@code tls} has a client certificate, whose CN or SAN
     * the cluster takes as this client's identity). Default: plaintext, for clusters configured so.
     */
    public Builder tls(TlsConfig tls) {
      this.tls = tls;
      return this;
    }

    /**
     * Authenticates every call with this bearer token (sent as {@code authorization: Bearer ...});
     * the cluster maps it to an identity. Send tokens only over TLS outside a dev machine.
     */
    public Builder bearerToken(String token) {
      if (token != null && (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e))) {
        throw new IllegalArgumentException("bearerToken must be printable ASCII without spaces");
      }
      this.bearerToken = token;
      return this;
    }

    /**
     * How often the client refreshes its endpoints from the cluster's member list (and at once
     * when a redirect names a member it does not know), so that it keeps finding the cluster
     * after the members it was given are replaced. The configured endpoints stay as a fallback.
     * Default 30 s; {@link Duration#ZERO} keeps to the configured endpoints and the redirects,
     * e.g. when the members' advertised client addresses cannot be reached from this client.
     */
    public Builder memberSync(Duration interval) {
      if (interval == null || interval.isNegative()) {
        throw new IllegalArgumentException("memberSync must be zero (off) or positive, got " + interval);
      }
      this.memberSync = interval;
      return this;
    }

    /**
     * Where session listeners and the dependents of {@link Session#onExpired} run: each session's
     * one at a time, in order, even on a pool. Default: one daemon thread of the client's own.
     * What the executor refuses (once shut down) runs on a thread of the client's instead, so that
     * no session event is lost. Give an executor that runs tasks on threads of its own, not on
     * the calling thread: that would be one of the client's, which keep the sessions alive.
     */
    public Builder executor(Executor executor) {
      this.executor = executor;
      return this;
    }

    public HoldfastClient build() {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("endpoints: at least one host:port is required");
      }
      for (String e : endpoints) {
        if (!Endpoints.isHostPort(e)) {
          throw new IllegalArgumentException("endpoints: '" + e + "' is not host:port");
        }
      }
      if (callTimeout.compareTo(Duration.ofMillis(1)) < 0) {
        // Deadlines are set in whole milliseconds: less would be a deadline of zero, every call failing.
        throw new IllegalArgumentException("callTimeout must be positive (at least 1 ms), got " + callTimeout);
      }
      var identity = io.holdfast.proto.v1.ClientIdentity.newBuilder().setName(name).setHost(host).setPid(pid)
          .putAllLabels(labels).build();
      return new HoldfastClient(new ClientCore(new Endpoints(endpoints, tls, bearerToken), retryPolicy, callTimeout,
          identity, executor, memberSync));
    }
  }

}
