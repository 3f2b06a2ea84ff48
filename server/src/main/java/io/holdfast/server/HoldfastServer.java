package io.holdfast.server;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.holdfast.server.api.AdminEndpoint;
import io.holdfast.server.api.ApiErrors;
import io.holdfast.server.api.GrantWaiters;
import io.holdfast.server.api.KvEndpoint;
import io.holdfast.server.api.LockEndpoint;
import io.holdfast.server.api.SessionEndpoint;
import io.holdfast.server.api.WatchEndpoint;
import io.holdfast.server.api.WatchHub;
import com.codahale.metrics.MetricRegistry;
import io.holdfast.server.config.SecurityConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.api.Access;
import io.holdfast.server.security.AccessPolicy;
import io.holdfast.server.security.AuthInterceptor;
import io.holdfast.server.security.RateLimiter;
import io.holdfast.server.security.TlsFiles;
import io.holdfast.server.security.TokenFile;
import io.holdfast.server.ops.AdminHttpServer;
import io.holdfast.server.ops.GrpcMetrics;
import io.holdfast.server.ops.RatisMetricsBridge;
import io.holdfast.server.ops.ServerMetrics;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.raft.PartialSnapshots;
import io.holdfast.server.raft.StorageProbe;
import io.holdfast.server.session.LeaderSessionClock;
import io.holdfast.server.session.RenewalCheckpointer;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One Holdfast node: its Raft server, the leader's session duties, and the client API. */
public final class HoldfastServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HoldfastServer.class);
  static final long EXPIRY_SCAN_MS = 50;
  /** Calls one client connection may have open at once (etcd sets no limit). */
  static final int MAX_CALLS_PER_CONNECTION = 100_000;
  /** How long calls on a client connection that reached its age may go on (see clientCertConnectionMaxAgeMs). */
  static final long CERT_CONNECTION_GRACE_MS = 60_000;

  private final ServerConfig config;
  /** How often the leader checks whether the cluster's apply rules can be raised (only while they can). */
  public static final long APPLY_RULES_CHECK_MS = 5_000;
  /** How often the node checks it can still write its Raft storage (see StorageProbe). */
  static final long STORAGE_PROBE_MS = 1_000;
  /** How often a running node looks for partial snapshots left by failed installs (see PartialSnapshots). */
  static final long PARTIAL_SNAPSHOT_SWEEP_MS = 60_000;

  private final HoldfastStateMachine stateMachine;
  private final RaftNode raft;
  private final LeaderSessionClock sessionClock;
  private final RenewalCheckpointer checkpointer;
  private final ExecutorService responseExecutor;
  private final ExecutorService callExecutor;
  /** Writes watch events to their streams, off the apply thread (see WatchHub). */
  private final ExecutorService watchSender = Executors.newFixedThreadPool(2, named("holdfast-watch-send"));
  private final ScheduledExecutorService timers;
  /** Its own thread: a disk that hangs must not hold up the timers of waits and sessions. */
  private final ScheduledExecutorService storageProbe =
      Executors.newSingleThreadScheduledExecutor(named("holdfast-storage-probe"));
  private final WatchHub watches;
  private final GrantWaiters waiters;
  private final Server grpc;
  private final ServerMetrics metrics;
  private final HealthStatusManager health = new HealthStatusManager();
  private AdminHttpServer admin;
  private final ScheduledExecutorService tlsReloader;
  private final TlsFiles clientTls;
  private final TlsFiles peerTls;

  public HoldfastServer(ServerConfig config) throws IOException {
    this(config, new MetricRegistry());
  }

  /** A node whose metrics go to {@code registry} (one per node; never a global one). */
  public HoldfastServer(ServerConfig config, MetricRegistry registry) throws IOException {
    this(config, registry, java.util.List.of());
  }

  /**
   * Test seam: {@code innermost} run after auth and metrics, right before the services. The chaos
   * tests use it to start a deliberately broken build and prove their checkers catch it; the
   * server's own main never passes any.
   */
  public HoldfastServer(ServerConfig config, MetricRegistry registry, java.util.List<io.grpc.ServerInterceptor> innermost)
      throws IOException {
    this(config, registry, innermost, new HoldfastStateMachine());
  }

  /**
   * Test seam: a node with a state machine of the test's, e.g. one that plays an older or a newer
   * build's apply rules in a rolling-upgrade test.
   */
  public HoldfastServer(ServerConfig config, MetricRegistry registry, java.util.List<io.grpc.ServerInterceptor> innermost,
      HoldfastStateMachine stateMachine) throws IOException {
    this.config = config;
    this.stateMachine = stateMachine;
    if (!io.holdfast.server.raft.CommonPoolFloor.inEffect()) {
      LOG.warn("PERFORMANCE: the JVM's common pool has one thread, so Ratis starts a thread for every follower "
          + "append; start the JVM with -Djava.util.concurrent.ForkJoinPool.common.parallelism=2 "
          + "(holdfast-server's own main does this)");
    }
    this.metrics = new ServerMetrics(registry);
    RatisMetricsBridge.install(registry);
    try {
      Files.createDirectories(config.dataDir());
    } catch (IOException e) {
      throw new io.holdfast.server.config.ConfigException("data-dir: cannot create " + config.dataDir() + ": " + e);
    }
    this.tlsReloader = Executors.newSingleThreadScheduledExecutor(named("holdfast-tls-reload"));
    SecurityConfig sec = config.security();
    this.clientTls = sec.clientTls().enabled() ? tlsFiles("client-tls", sec.clientTls(), false) : null;
    this.peerTls = sec.peerTls().enabled() ? tlsFiles("peer-tls", sec.peerTls(), true) : null;
    warnAboutOpenDoors(sec);
    TokenFile tokenFile;
    try {
      tokenFile = sec.tokenFile() == null ? null : new TokenFile(sec.tokenFile());
    } catch (IllegalArgumentException e) {
      throw new io.holdfast.server.config.ConfigException(e.getMessage()); // it names auth-token-file
    }
    if (config.peers().size() > 1 && config.clusterId().equals(io.holdfast.server.config.ServerConfigLoader.DEFAULT_CLUSTER_ID)) {
      // The Raft group id is the cluster id: two clusters that share it take each other's votes and
      // entries if a peer address is ever wrong.
      LOG.warn("cluster-id is the built-in default; give each cluster a UUID of its own (e.g. from uuidgen)");
    }
    this.raft = new RaftNode(config, stateMachine, peerTls == null ? null : peerTls.ratisConfig());
    this.sessionClock = new LeaderSessionClock(raft, config.failoverGraceMs(), EXPIRY_SCAN_MS);
    this.checkpointer = new RenewalCheckpointer(raft, config.checkpointIntervalMs(),
        () -> stateMachine.read(s -> s.sessionCount()));
    this.responseExecutor = Executors.newFixedThreadPool(2, named("holdfast-respond"));
    java.util.concurrent.ScheduledThreadPoolExecutor timerPool = new java.util.concurrent.ScheduledThreadPoolExecutor(1,
        named("holdfast-timers"));
    // A wait's timer is cancelled when the wait ends; kept until it was due, a busy node with long
    // waits would hold millions of them.
    timerPool.setRemoveOnCancelPolicy(true);
    this.timers = timerPool;
    // gRPC's default is a cached pool: under load each call wakes another of dozens of threads.
    // The handlers never block (they hand off to Raft futures), so a few threads serve them all.
    this.callExecutor = Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()),
        named("holdfast-call"));
    stateMachine.onLogFailed(cause -> {
      try {
        timers.execute(() -> stopOnLogFailure(cause));
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // already closing: nothing left to stop
      }
    });
    stateMachine.onUnappliable(cause -> {
      try {
        timers.execute(() -> stopAfter("could not apply its Raft log; it stops, so that its state never differs "
            + "from the others'. " + cause.getMessage()));
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // already closing: nothing left to stop
      }
    });
    this.waiters = new GrantWaiters(responseExecutor);
    stateMachine.addObserver(sessionClock);
    stateMachine.addObserver(metrics);
    sessionClock.reportGraceTo(metrics::failoverGrace);
    metrics.bind(raft);
    metrics.watchDisk(config.raftLogDir());
    stateMachine.addObserver(waiters);
    this.watches = new WatchHub(stateMachine, config.watchHistory(), watchSender);
    stateMachine.addObserver(watches);
    registry.gauge("holdfast_watch_streams", () -> watches::subscriberCount);
    raft.countForwardsWith(registry.counter("holdfast_commands_forwarded_to_leader"));
    registry.gauge("holdfast_apply_rules_written", () -> stateMachine::writeRules);
    registry.gauge("holdfast_apply_rules_supported", () -> stateMachine::supportedRules);
    ApiErrors errors = new ApiErrors(config, metrics);
    Access access = new Access(new AccessPolicy(sec.acl()), raft, errors, registry, config.limits().maxNameLength(),
        callExecutor);
    RateLimiter rate = new RateLimiter(config.limits().ratePerIdentity(), config.limits().rateBurst());
    AuthInterceptor auth = new AuthInterceptor(sec, tokenFile, rate, registry);
    errors.resolveClientAddressesWith(raft::clientAddressOf);
    timers.scheduleWithFixedDelay(auth::recheckStreams, 1, 1, TimeUnit.SECONDS);
    LockEndpoint lockEndpoint = new LockEndpoint(config, raft, waiters, timers, errors, metrics, access);
    registry.gauge("holdfast_lock_wait_timers", () -> lockEndpoint::waitTimers);
    registry.gauge("holdfast_lock_abandoned_waits", () -> lockEndpoint::abandonedWaits);
    var address = config.clientListenAddress();
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(address.host(), address.port()));
    if (clientTls != null) {
      builder.sslContext(clientTls.serverContext());
    }
    long certAgeMs = sec.clientCertConnectionMaxAgeMs();
    if (sec.clientTls().mutual() && certAgeMs > 0) {
      // A client certificate is checked once, at the handshake: without an age, a connection made with
      // a certificate whose CA has since been withdrawn would keep its identity for as long as it stays
      // open. Calls and streams still running when it ages get a grace, then end and are retried (and
      // streams resumed) by the client on a new connection.
      builder.maxConnectionAge(certAgeMs, TimeUnit.MILLISECONDS)
          .maxConnectionAgeGrace(Math.min(certAgeMs, CERT_CONNECTION_GRACE_MS), TimeUnit.MILLISECONDS);
    }
    for (io.grpc.ServerInterceptor i : innermost) {
      builder.intercept(i);
    }
    this.grpc = builder
        .executor(callExecutor)
        // Interceptors run last-added first: metrics see every call, auth runs before any service.
        .intercept(new io.holdfast.server.api.ForwardRequest())
        .intercept(auth)
        .intercept(new GrpcMetrics(registry))
        .addService(new SessionEndpoint(config, raft, checkpointer, errors, metrics, access, rate))
        .addService(lockEndpoint)
        .addService(new AdminEndpoint(config, raft, errors, access))
        .addService(health.getHealthService())
        .addService(new KvEndpoint(config, raft, errors, access))
        .addService(new WatchEndpoint(watches, errors, access, config.limits().maxWatchesPerConnection(),
            raft::readBarrier, callExecutor))
        // Room for the largest value plus its request; larger requests fail with RESOURCE_EXHAUSTED.
        .maxInboundMessageSize(config.limits().maxRequestBytes())
        // Bound what one connection can hold open or send before a request is even parsed.
        .maxInboundMetadataSize(16 * 1024)
        // A process's sessions share a connection, and each may have max-locks-per-session acquires
        // waiting: a lower limit queued its releases and keepalives behind its own waits.
        .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION)
        .permitKeepAliveTime(5, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        // A client host that vanished without closing its connection (powered off, cut off) would
        // keep its watch streams and their connection slots here for TCP's two hours.
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .build();
  }

  /** The PEM files of {@code key} (client-tls or peer-tls), or a config error that names the key. */
  private TlsFiles tlsFiles(String key, io.holdfast.server.config.TlsSettings settings, boolean checkHostnames) {
    try {
      return new TlsFiles(settings, tlsReloader, checkHostnames);
    } catch (java.security.GeneralSecurityException | IOException | IllegalArgumentException e) {
      throw new io.holdfast.server.config.ConfigException(key + ": cannot load " + key + "-cert, " + key
          + "-key or " + key + "-ca (PEM; the key in PKCS#8, 'BEGIN PRIVATE KEY'): " + e.getMessage());
    }
  }

  private static void warnAboutOpenDoors(SecurityConfig sec) {
    if (!sec.clientTls().enabled()) {
      LOG.warn("SECURITY: the client port is PLAINTEXT (client-tls: plaintext): traffic and tokens travel "
          + "unencrypted; use tls or mtls outside a dev machine");
    }
    if (!sec.peerTls().enabled()) {
      LOG.warn("SECURITY: Raft peer traffic is PLAINTEXT (peer-tls: plaintext): anyone who reaches a peer port "
          + "can take part in the cluster; use mtls outside a dev machine");
    }
    if (!sec.authRequired()) {
      LOG.warn("SECURITY: no authentication (no client certificates required, no auth-token-file): every caller "
          + "is 'anonymous'");
    }
    if (sec.acl().isEmpty()) {
      LOG.warn("SECURITY: no acl rules: every identity may do everything, including revoke");
    } else {
      LOG.info("ACL: {}", sec.acl());
    }
  }

  private static java.util.concurrent.ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private static void sweepPartialSnapshots(PartialSnapshots partials, Duration idleFor) {
    try {
      partials.sweep(Instant.now(), idleFor);
    } catch (IOException | RuntimeException e) {
      // Only disk space is at stake; the storage probe stops the node if the disk itself fails.
      LOG.warn("Could not remove partial snapshots: {}", e.toString());
    }
  }

  public HoldfastServer start() throws IOException {
    // Started on a full disk, Ratis would rewrite the term and vote there on the first higher term it
    // hears, and a failed rewrite leaves that file empty: the node could never start again. So a node
    // that cannot write its Raft storage does not start.
    StorageProbe probe = StorageProbe.forRaftStorage(config.raftLogDir());
    try {
      java.nio.file.Files.createDirectories(config.raftLogDir());
      probe.check();
    } catch (IOException e) {
      String why = "This node (" + config.nodeId() + ") cannot write to its Raft storage in " + config.raftLogDir()
          + " (" + e + "); it does not start. Free space or repair the disk, then start it again";
      LOG.error(why);
      throw new IOException(why, e);
    }
    // Before anything starts: a node that cannot have one of its ports must not first join elections.
    io.holdfast.server.config.ListenProbe.check(config.listeners());
    // Nothing installs before Ratis starts, so every partial snapshot is a leftover: on a disk that
    // failed installs filled, this is the space the restart needs.
    PartialSnapshots partials = new PartialSnapshots(config.raftLogDir());
    sweepPartialSnapshots(partials, Duration.ZERO);
    raft.start();
    timers.scheduleWithFixedDelay(() -> {
      try {
        watchMembership();
      } catch (RuntimeException e) {
        LOG.debug("membership check failed", e);
      }
    }, 500, 500, TimeUnit.MILLISECONDS);
    // A node cut off from the leader would leave its watchers waiting for as long as the cut
    // lasts; past three election timeouts (etcd's measure) they are sent to another node. Less
    // would end every watch in the cluster during an ordinary slow election.
    long watchContactLimitMs = 3 * config.electionTimeoutMaxMs();
    timers.scheduleWithFixedDelay(() -> {
      try {
        long contactAgeMs = raft.leaderContactAgeMs();
        watches.leaderContact(contactAgeMs, watchContactLimitMs);
        if (contactAgeMs > watchContactLimitMs) {
          waiters.leaderOutOfTouch();
        }
      } catch (RuntimeException e) {
        LOG.debug("leader contact check failed", e);
      }
    }, 250, 250, TimeUnit.MILLISECONDS);
    timers.scheduleWithFixedDelay(() -> {
      try {
        raft.checkApplyRules();
      } catch (RuntimeException e) {
        LOG.debug("apply rules check failed", e);
      }
    }, APPLY_RULES_CHECK_MS, APPLY_RULES_CHECK_MS, TimeUnit.MILLISECONDS);
    storageProbe.scheduleWithFixedDelay(() -> {
      try {
        probe.check();
      } catch (IOException e) {
        try {
          timers.execute(() -> stopOnStorageFailure(e));
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          // already closing
        }
      }
    }, STORAGE_PROBE_MS, STORAGE_PROBE_MS, TimeUnit.MILLISECONDS);
    storageProbe.scheduleWithFixedDelay(() -> sweepPartialSnapshots(partials, PartialSnapshots.RUNNING_IDLE),
        PARTIAL_SNAPSHOT_SWEEP_MS, PARTIAL_SNAPSHOT_SWEEP_MS, TimeUnit.MILLISECONDS);
    checkpointer.start();
    grpc.start();
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    if (config.adminAddress() != null) {
      admin = new AdminHttpServer(config.adminAddress(), raft, metrics, config).start();
      LOG.info("Admin HTTP on http://{}", config.adminAddress());
      String host = config.adminAddress().host();
      boolean loopback = host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
      if (config.security().authRequired() && !loopback
          && config.security().statusPage() == io.holdfast.server.config.SecurityConfig.StatusPage.OPEN) {
        // The client port checks every caller; this one serves the status page to whoever reaches it.
        LOG.warn("SECURITY: the admin HTTP port ({}) has no TLS or authentication, and admin-status-page: open "
            + "shows every lock, holder and token to whoever reaches it: keep it behind a firewall, or set "
            + "admin-status-page: local", config.adminAddress());
      }
    }
    if (config.join()) {
      LOG.info("Holdfast node {} serving clients on {}; joining: waiting to be added (holdfast member add {} {} {})",
          config.nodeId(), config.self().clientAddress(), config.nodeId(), config.self().peerAddress(),
          config.self().clientAddress());
    } else {
      LOG.info("Holdfast node {} serving clients on {}{} (peers {})", config.nodeId(), config.clientListenAddress(),
          config.clientListenAddress().equals(config.self().clientAddress()) ? ""
              : ", known to clients as " + config.self().clientAddress(), config.peers());
    }
    return this;
  }

  /**
   * Runs {@code onRemoved} once, on its own thread, when a membership change removes this node,
   * and {@code onFailed} when its Raft division stops by itself (Ratis closes a removed
   * member's division, and a division whose state machine failed, but leaves the process up) or
   * its Raft log cannot be written. Without {@code onFailed}, a failed log closes this server.
   */
  public HoldfastServer onRemovedFromCluster(Runnable onRemoved, Runnable onFailed) {
    this.onRemoved = onRemoved;
    this.onFailed = onFailed;
    return this;
  }

  private volatile Runnable onRemoved;
  private volatile Runnable onFailed;
  private volatile boolean closing;
  /**
   * Set when the Raft log could not be written or applied: Ratis has closed the division, so no
   * handover can work.
   */
  private volatile boolean logFailed;
  private boolean wasMember;
  private boolean wasAlive;
  private RaftNode.Membership lastMembership = RaftNode.Membership.UNKNOWN;
  private boolean reported;

  /** Polled on the timer thread: a poll is cheap, and Ratis has no event for "I was removed". */
  private void watchMembership() {
    if (closing || reported) {
      return;
    }
    RaftNode.Membership m = raft.membership();
    boolean alive = raft.isAlive();
    wasAlive |= alive;
    if (m == RaftNode.Membership.MEMBER) {
      wasMember = true;
    }
    if (m != RaftNode.Membership.UNKNOWN) {
      lastMembership = m;
    }
    Runnable action = null;
    // Ratis closes a removed member's division soon after the change, sometimes before this node
    // sees the final configuration: a division that closes while leaving was removed too.
    boolean leftOut = m == RaftNode.Membership.NOT_MEMBER
        || (!alive && lastMembership == RaftNode.Membership.LEAVING);
    if (wasMember && leftOut) {
      LOG.warn("This node ({}) was removed from the cluster (members now {}); stopping", config.nodeId(),
          raft.members().stream().map(RaftNode.Member::id).toList());
      action = onRemoved;
    } else if (wasAlive && !alive) {
      if (raft.removedAccordingToPeers()) {
        // Removed while it was down: the leader had its division shut down when it came back.
        LOG.warn("This node ({}) is no longer a member of the cluster (it was removed while it was down); stopping. "
            + "To bring it back, clear its data directory, start it with join: true and add it (holdfast member add)",
            config.nodeId());
        action = onRemoved;
      } else {
        LOG.error("This node's Raft division stopped by itself (see the errors above); stopping");
        action = onFailed;
      }
    }
    if (action != null) {
      reported = true;
      Thread t = new Thread(action, "holdfast-stop");
      t.start();
    }
  }

  /**
   * A node that cannot write its Raft log (a full or failing disk) stops, as etcd and ZooKeeper
   * do: Ratis would keep it running, refusing every append and vote and logging a stack trace for
   * each, a member in name only. Stopped, it is plainly down; restarted once the disk is fixed,
   * it catches up from the leader. Runs on the timer thread, like {@link #watchMembership}.
   */
  private void stopOnLogFailure(Throwable cause) {
    stopAfter("could not write its Raft log in " + config.raftLogDir() + " (" + cause + "); it stops, so that the "
        + "others carry on without it. Free space or repair the disk, then start it again: it catches up from the "
        + "leader");
  }

  /**
   * The same stop when the storage probe could not write where Ratis keeps its files. Without a
   * handover, though its division still runs: a transfer changes the term, Ratis rewrites the term
   * and vote on the full disk, and the file was left empty (the node then never started again).
   */
  private void stopOnStorageFailure(IOException cause) {
    stopAfter("could not write to its Raft storage in " + config.raftLogDir() + " (" + cause + "); it stops, so that "
        + "the others carry on without it. Free space or repair the disk, then start it again: it catches up from "
        + "the leader");
  }

  /** Stops a node whose Raft division Ratis has closed or cannot use (no handover can work then). */
  private void stopAfter(String what) {
    if (closing || reported) {
      return;
    }
    reported = true;
    logFailed = true;
    LOG.error("This node ({}) {}", config.nodeId(), what);
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.NOT_SERVING);
    Runnable action = onFailed != null ? onFailed : this::close;
    new Thread(action, "holdfast-stop").start();
  }

  /**
   * Starts this node and serves until the JVM is asked to stop (SIGTERM, Ctrl-C), then closes it.
   * A removed member exits 0, so that systemd's Restart=on-failure leaves it stopped; a division
   * that died otherwise exits non-zero, so that it is restarted.
   */
  public void serveUntilShutdown() throws IOException, InterruptedException {
    onRemovedFromCluster(() -> System.exit(0), () -> System.exit(1));
    try {
      start();
    } catch (IOException | RuntimeException e) {
      // Whatever had started (Raft, timers, ports) stops with the node, instead of keeping the JVM up.
      close();
      throw e;
    }
    java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      close();
      stopped.countDown();
    }, "holdfast-shutdown"));
    stopped.await();
  }

  public ServerConfig config() {
    return config;
  }

  public RaftNode raft() {
    return raft;
  }

  public HoldfastStateMachine stateMachine() {
    return stateMachine;
  }

  /**
   * A leader asked to stop first hands leadership to its freshest follower, as etcd does: clients
   * follow one redirect instead of waiting out an election timeout, and sessions lose none of
   * their TTL to the stop. Only a follower that answered within the last election timeout is asked
   * (a transfer to a dead one could only time out), and the wait is bounded by one election
   * timeout: when the whole cluster stops at once the transfer fails, and the stop is that much
   * slower. If it fails, the others elect a leader.
   */
  private void handOverLeadership() {
    String target;
    try {
      target = raft.isLeader() && !logFailed ? raft.freshestFollower(config.electionTimeoutMinMs()) : null;
    } catch (RuntimeException e) {
      return; // the Raft group never started or is already gone
    }
    if (target == null) {
      return;
    }
    long timeoutMs = config.electionTimeoutMaxMs();
    long start = System.nanoTime();
    try {
      raft.transferLeadership(target, timeoutMs).get(timeoutMs + 500, TimeUnit.MILLISECONDS);
      LOG.info("Leadership handed to {} before stopping, in {} ms", target,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.warn("Could not hand leadership to {} before stopping ({}); the others elect a leader once this node is gone",
          target, e.getCause() == null ? e.toString() : e.getCause().toString());
    }
  }

  @Override
  public void close() {
    closing = true;
    LOG.info("Holdfast node {} stopping", config.nodeId());
    handOverLeadership();
    health.enterTerminalState();
    if (admin != null) {
      admin.close();
    }
    grpc.shutdown();
    checkpointer.close();
    sessionClock.close();
    try {
      raft.close();
    } catch (IOException e) {
      LOG.warn("Raft server did not close cleanly", e);
    }
    try {
      grpc.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    grpc.shutdownNow();
    timers.shutdownNow();
    storageProbe.shutdownNow();
    responseExecutor.shutdownNow();
    callExecutor.shutdownNow();
    watchSender.shutdownNow();
    if (clientTls != null) {
      clientTls.close();
    }
    if (peerTls != null) {
      peerTls.close();
    }
    tlsReloader.shutdownNow();
  }
}
