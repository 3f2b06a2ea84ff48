package io.holdfast.server.raft;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.config.PeerConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.CommandCodec;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import io.holdfast.server.statemachine.LeaderLimits;
import io.holdfast.server.statemachine.ResultCodec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftClientAsynchronousProtocol;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's Ratis server for the one Holdfast group, and the two ways into it: {@link #submit}
 * for commands (leader only, no forwarding hop) and {@link #readBarrier} for linearizable reads.
 */
public final class RaftNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RaftNode.class);

  private final ServerConfig config;
  private final HoldfastStateMachine stateMachine;
  private final RaftGroupId groupId;
  private final RaftPeerId selfId;
  private final RaftServer server;
  // Our own requests carry our own client id; exactly-once comes from request ids in the commands.
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();
  private volatile com.codahale.metrics.Timer commitTimer;
  private volatile com.codahale.metrics.Histogram batchSizes;
  private volatile java.util.function.ObjLongConsumer<HoldOutcome> holdObserver;
  // Sends the next batch when an entry completes, off Ratis's reply thread.
  private final java.util.concurrent.ScheduledExecutorService batchPump = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
      r -> {
        Thread t = new Thread(r, "holdfast-batch-pump");
        t.setDaemon(true);
        return t;
      });
  private final CommandBatcher batcher;
  /**
   * What may wait for the log at the leader: far above what a busy cluster queues (each caller has
   * a command or two on its way), and the bytes Ratis itself lets wait (64 MB).
   */
  static final int MAX_QUEUED_COMMANDS = 65_536;
  static final long MAX_QUEUED_BYTES = 64L << 20;
  private final DeadLeaderDetector deadLeaderDetector;
  private final PeerLogAsker peerLogs;
  private final org.apache.ratis.conf.Parameters peerParameters;
  /** Last members this node knew of (its division's configuration), for asking them after it closed. */
  private volatile List<RaftPeer> lastKnownPeers = List.of();
  private final LeaderLink leaderLink;
  private final ApplyRulesNegotiation applyRules;
  /**
   * A member change or a raise of the apply rules, whichever this leader is doing (null: neither).
   * They must not overlap: a node being added is caught up before it is in the configuration, so
   * a raise's round would not ask it, and the add's check would have read the rules before it.
   */
  private final java.util.concurrent.atomic.AtomicReference<Reconfiguring> reconfiguring =
      new java.util.concurrent.atomic.AtomicReference<>();
  private static final String CHANGING_MEMBERS = "changing members";
  private static final String RAISING_RULES = "raising the cluster's apply rules";
  /** The longest a member change or a raise holds off the other, should Ratis never answer it. */
  private static final long RECONFIGURING_CLAIM_MS = TimeUnit.MINUTES.toMillis(10);

  /**
   * Should Ratis never answer what holds {@code claim} (it answers on completion, failure and loss
   * of leadership), the claim still goes in the end.
   */
  private void letGoEventually(Reconfiguring claim) {
    // The field, not this node: a closed node is not kept for the ten minutes.
    java.util.concurrent.atomic.AtomicReference<Reconfiguring> held = reconfiguring;
    CompletableFuture.delayedExecutor(RECONFIGURING_CLAIM_MS, TimeUnit.MILLISECONDS)
        .execute(() -> held.compareAndSet(claim, null));
  }

  /** One claim on {@link #reconfiguring}; a new object each time, so only its owner lets it go. */
  private record Reconfiguring(String what) {}

  /** Times every command from submission to its applied result (replication, fsync, apply). */
  public void timeCommitsWith(com.codahale.metrics.Timer timer) {
    this.commitTimer = timer;
  }

  /** Counts the commands per Raft entry the leader proposes. */
  public void countBatchesWith(com.codahale.metrics.Histogram histogram) {
    this.batchSizes = histogram;
  }

  /** Told how each hold of the queue ended and how long it held it (nanoseconds), for metrics. */
  public void observeHoldsWith(java.util.function.ObjLongConsumer<HoldOutcome> observer) {
    this.holdObserver = observer;
  }

  public RaftNode(ServerConfig config, HoldfastStateMachine stateMachine) throws IOException {
    this(config, stateMachine, null);
  }

  /** {@code peerTls}: TLS for all Raft traffic of this node (serving and dialling), or null for plaintext. */
  public RaftNode(ServerConfig config, HoldfastStateMachine stateMachine, org.apache.ratis.grpc.GrpcTlsConfig peerTls)
      throws IOException {
    this.config = config;
    this.stateMachine = stateMachine;
    this.batcher = new CommandBatcher(this::replicate, batchPump, config.batchMaxCommands(), config.batchInFlight(),
        this::handsOver, this::waitsBehindOthers, new CommandBatcher.BatchStats() {
          @Override
          public void sent(int commands) {
            com.codahale.metrics.Histogram h = batchSizes;
            if (h != null) {
              h.update(commands);
            }
          }

          @Override
          public void holdEnded(HoldOutcome outcome, long heldNanos) {
            java.util.function.ObjLongConsumer<HoldOutcome> o = holdObserver;
            if (o != null) {
              o.accept(outcome, heldNanos);
            }
          }
        }, java.util.concurrent.TimeUnit.MICROSECONDS.toNanos(config.batchLingerMicros()),
        new CommandBatcher.Scheduler() {
          @Override
          public long nanoTime() {
            return System.nanoTime();
          }

          @Override
          public void schedule(Runnable task, long delayNanos) {
            batchPump.schedule(task, delayNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
          }
        }).limitQueue(MAX_QUEUED_COMMANDS, MAX_QUEUED_BYTES, RaftNode::housekeeping);
    this.groupId = RaftGroupId.valueOf(config.clusterId());
    this.selfId = RaftPeerId.valueOf(config.nodeId());
    List<RaftPeer> peers = new ArrayList<>();
    for (PeerConfig p : config.peers()) {
      peers.add(peer(p.id(), p.peerAddress().toString(), p.clientAddress().toString()));
    }
    stateMachine.installRestoreSeedFrom(config.restoreSeedFile());
    stateMachine.ownClientId(clientId);
    stateMachine.leaderLimits(new LeaderLimits(maxEntryBytes(config), config.maxValueBytes(),
        config.limits().maxLocksPerSession(), config.limits().maxWaitersPerLock(),
        config.limits().maxSessionsPerIdentity(), config.limits().maxKvBytes(), config.limits().maxSessions(),
        new LeaderLimits.Times(config.minSessionTtlMs(), config.maxSessionTtlMs(), config.maxWaitMs(),
            config.maxLockDelayMs())));
    this.peerLogs = config.fastFailover() ? new PeerLogAsker(groupId, parameters(peerTls)) : null;
    // Half the bound to wait for a writer, half for the send: neither outlives the client's answer.
    this.leaderLink = new LeaderLink(groupId, parameters(peerTls), forwardBoundMs(config) / 2);
    this.peerParameters = parameters(peerTls);
    this.deadLeaderDetector = config.fastFailover()
        ? new DeadLeaderDetector(this::raftServer, peerLogs, groupId, selfId, config.electionTimeoutMinMs() / 2)
        : null;
    this.server = RaftServer.newBuilder()
        .setServerId(selfId)
        // A joining node starts with no members: it must not elect itself or campaign against the
        // running cluster; the leader's "add" brings it the log and the configuration.
        .setGroup(config.join() ? RaftGroup.valueOf(groupId) : RaftGroup.valueOf(groupId, peers))
        .setStateMachine(stateMachine)
        .setProperties(properties(config))
        .setParameters(serverParameters(peerTls, deadLeaderDetector, selfId, stateMachine.supportedRules()))
        // FORMAT (the default) refuses an existing storage dir: a restarted node must RECOVER.
        .setOption(RaftStorage.StartupOption.RECOVER)
        .build();
    this.applyRules = new ApplyRulesNegotiation(new ApplyRulesNegotiation.Node() {
      @Override
      public boolean isLeader() {
        return RaftNode.this.isLeader();
      }

      @Override
      public RaftPeerId selfId() {
        return selfId;
      }

      @Override
      public org.apache.ratis.server.RaftConfiguration configuration() {
        try {
          return division().getRaftConf();
        } catch (RuntimeException e) {
          return null;
        }
      }

      @Override
      public CompletableFuture<Result> submit(Command command) {
        return RaftNode.this.submit(command);
      }

      @Override
      public Runnable beginRaise() {
        Reconfiguring claim = new Reconfiguring(RAISING_RULES);
        if (!reconfiguring.compareAndSet(null, claim)) {
          return null;
        }
        letGoEventually(claim);
        return () -> reconfiguring.compareAndSet(claim, null);
      }
    }, stateMachine, peerTls);
  }

  /**
   * On the leader, when the cluster writes older apply rules than this build knows: asks every
   * voter which it knows and raises the cluster's rules if they all know more (see
   * {@link ApplyRulesNegotiation}). Call periodically; cheap when there is nothing to raise.
   */
  public CompletableFuture<Integer> checkApplyRules() {
    return applyRules.check();
  }

  /**
   * The Raft server's parameters: the peers' TLS, and on its gRPC server the build's apply rules
   * ({@link BuildRulesService}) and, with fast failover, the watch on the leader's stream.
   */
  private static org.apache.ratis.conf.Parameters serverParameters(org.apache.ratis.grpc.GrpcTlsConfig peerTls,
      DeadLeaderDetector deadLeaderDetector, RaftPeerId selfId, int supportedRules) {
    org.apache.ratis.conf.Parameters params = parameters(peerTls);
    org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition rules =
        BuildRulesService.definition(selfId.toString(), supportedRules);
    LeaderStreamWatch watch = deadLeaderDetector == null ? null : new LeaderStreamWatch(deadLeaderDetector);
    GrpcConfigKeys.Server.setServicesCustomizer(params, (builder, types) -> {
      if (!types.contains(org.apache.ratis.grpc.server.GrpcServices.Type.SERVER)) {
        return builder;
      }
      builder.addService(rules);
      return watch == null ? builder : watch.customize(builder, types);
    });
    return params;
  }

  /** The peers' TLS, for the Raft server and for the Ratis clients a node opens to its peers. */
  private static org.apache.ratis.conf.Parameters parameters(org.apache.ratis.grpc.GrpcTlsConfig peerTls) {
    org.apache.ratis.conf.Parameters params = new org.apache.ratis.conf.Parameters();
    if (peerTls != null) {
      // The GrpcConfigKeys.TLS property setters are no-ops in 3.3: TLS goes through Parameters.
      // One config for the server, client and admin ports (all the same port here) and for the
      // channels this node opens to its peers.
      GrpcConfigKeys.TLS.setConf(params, peerTls);
    }
    return params;
  }

  /**
   * A member as Raft replicates it. Its client address rides in the peer's client-address field,
   * so that every node learns a new member's client endpoint from the configuration entry rather
   * than from its own config file. (That field's other user is a Ratis client; the ones this node
   * makes, PeerLogAsker and LeaderLink, address the Raft port and leave it empty.)
   */
  public static RaftPeer peer(String id, String peerAddress, String clientAddress) {
    return RaftPeer.newBuilder().setId(id).setAddress(peerAddress).setClientAddress(clientAddress).build();
  }

  /**
   * Short enough that a cached reply dies young. Replies reach their callers through Ratis's
   * pending requests, not through this cache.
   */
  static final TimeDuration RETRY_CACHE_EXPIRY = TimeDuration.valueOf(1, TimeUnit.SECONDS);

  /** The largest piece of a snapshot a leader sends a follower in one message (see properties). */
  static final int SNAPSHOT_CHUNK_BYTES = 64 << 10;

  /** The largest log entry this node's commands can make (see properties). */
  static long maxEntryBytes(ServerConfig c) {
    return entryBytesFor(c.limits().maxRequestBytes());
  }

  private static long entryBytesFor(long maxRequestBytes) {
    return Math.max(4L << 20, maxRequestBytes + CommandBatcher.MAX_BATCH_BYTES + (64 << 10));
  }

  /**
   * The largest log entry any member's config can make: every member's log must take what any
   * leader sends, and members' limits differ while one is being changed node by node (a follower
   * with a smaller write buffer than its leader's entries failed its log write and stopped).
   */
  static final long MAX_ENTRY_BYTES_OF_ANY_CONFIG = entryBytesFor(ServerConfigLoader.MAX_REQUEST_BYTES);

  /**
   * What every member's Raft log is sized for: the largest entry of any config plus room for Ratis's
   * own framing of it. Ratis also reads its log back, and sends it to followers, only up to this.
   */
  static final long RAFT_ENTRY_CAPACITY = MAX_ENTRY_BYTES_OF_ANY_CONFIG + (64 << 10);

  /**
   * Entries kept behind a snapshot when the log is purged: a quarter of the snapshot threshold
   * (25,000 by default: a member out for a restart catches up from the log even under load), at
   * least etcd's 5,000, at most the threshold.
   */
  static long purgePreservation(ServerConfig c) {
    return Math.min(c.snapshotThreshold(), Math.max(5_000, c.snapshotThreshold() / 4));
  }

  static RaftProperties properties(ServerConfig c) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(c.raftLogDir().toFile()));
    GrpcConfigKeys.Server.setHost(p, c.self().peerAddress().host());
    GrpcConfigKeys.Server.setPort(p, c.self().peerAddress().port());
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(c.electionTimeoutMinMs(), TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(c.electionTimeoutMaxMs(), TimeUnit.MILLISECONDS));
    // A leader that stops hearing from a majority steps down; by default Ratis then keeps it out of
    // elections for 10 s. With one of three nodes down that leaves one candidate, and if its log is
    // shorter than the old leader's, no leader at all for those 10 s. Pre-vote (on) already keeps a
    // cut-off old leader from disturbing the others, so one election timeout is wait enough. The same
    // key is the JVM pause after which a leader steps down: by then its followers have timed out.
    // (Not zero: every pause, however short, would then depose the leader.)
    RaftServerConfigKeys.LeaderElection.setLeaderStepDownWaitTime(p,
        TimeDuration.valueOf(c.electionTimeoutMaxMs(), TimeUnit.MILLISECONDS));
    // Ratis's DEFAULT read option lets a deposed leader answer from stale state; ReadIndex does not.
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    // Leader-lease reads stay off (Ratis's default), said here so it stays so: the DeadLeaderDetector
    // forces elections without pre-vote, which voters grant whatever leader they last heard, so a
    // deposed leader could still answer reads (and keepalive barriers) from a lease it thinks it holds.
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, false);
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, c.snapshotThreshold());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    // By default Ratis purges after a snapshot only up to the slowest member's commit index, so a
    // member that is down keeps every later entry on the others' disks until it returns (under
    // 100,000 sessions' keepalives, gigabytes a day, until a disk fills). As etcd does, purge up to
    // the snapshot but keep entries behind it: a member out briefly catches up from the log, one
    // out longer is sent the snapshot.
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgePreservationLogNum(p, purgePreservation(c));
    // A leader resends a snapshot that its follower fails to install (a full disk) at once, dozens of
    // times a second, and Ratis keeps each chunk it sent for the stream's timeout (24 s by default):
    // a 300 KB snapshot ran a 256 MB leader out of heap in 9 s, and took the cluster's majority with
    // it. With one chunk in flight, a failed send of a snapshot of several chunks waits out the 3 s
    // request timeout before the next; a snapshot of one chunk is still resent at once, but each
    // send holds at most 64 KB. The cost is a round trip per chunk: an 8 MB snapshot is 128 of
    // them (0.5 s for 10.8 MB on loopback), more across a slow link; a follower that stalls for
    // over 3 s mid-install starts it again.
    RaftServerConfigKeys.Log.Appender.setSnapshotChunkSizeMax(p, SizeInBytes.valueOf(SNAPSHOT_CHUNK_BYTES));
    GrpcConfigKeys.Server.setInstallSnapshotRequestElementLimit(p, 1);
    // Ratis refuses to append an entry larger than the appender's buffer (4 MB by default) and makes
    // the leader step down for it; the client retries the same command under the next leader, and
    // so on: one put of a large value kept the cluster electing for the whole retry budget. An
    // entry holds at most one batch of commands (about 1 MiB) and one more command, which is at
    // most one request.
    // This node's own entries are held to maxEntryBytes before they reach Ratis (replicate, and
    // LeaderLimits for those a follower passes on). Ratis's limits are set for any config's entries:
    // it reads its log back at start, and a leader sends it on, only up to the appender's limit, so a
    // member with smaller limits than the leader that wrote a large entry could neither restart nor,
    // leading later, send that entry to a follower that missed it.
    long maxEntry = maxEntryBytes(c);
    RaftServerConfigKeys.Log.Appender.setBufferByteLimit(p, SizeInBytes.valueOf(RAFT_ENTRY_CAPACITY));
    // Ratis wants the log's write buffer (8 MB by default) to hold that plus its 8-byte framing,
    // and this node's log takes its leader's entries, which another config may have made larger.
    RaftServerConfigKeys.Log.setWriteBufferSize(p, SizeInBytes.valueOf(Math.max(8L << 20, RAFT_ENTRY_CAPACITY + 8)));
    // A segment holds at least one largest entry of this node's own (one from a leader with larger
    // limits goes into the open segment whole: Ratis allows an entry above the segment size). Not
    // larger than needed: a segment's space is preallocated, and a node on a full disk keeps writing
    // into it before it finds out.
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(Math.max(8L << 20, maxEntry + (1 << 20))));
    // Keep fsync before acknowledgement (Ratis's default); say so, so nobody "optimises" it away.
    RaftServerConfigKeys.Log.setUnsafeFlushEnabled(p, false);
    RaftServerConfigKeys.Log.setAsyncFlushEnabled(p, false);
    // The appender sleeps this long before every AppendEntries (1 ms by default, RATIS-1793):
    // a commit waits for it twice over, and a busy leader's appenders spend their time asleep.
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(p, TimeDuration.ZERO);
    // By default the leader follows every advance of the commit index with a metadata entry of
    // its own (the index, so that a restarted node may apply before it hears from a leader): a
    // second log write, fsync and AppendEntries on every node for every command. Raft does not
    // need it; a restarted node learns the commit index from the leader's first heartbeat.
    RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
    // Ratis keeps every reply, with the commit index of each peer, for a retry of the same Ratis
    // call (60 s by default). Holdfast never repeats a Ratis call (its request ids make commands
    // idempotent), so the cache only aged ~500 bytes per entry into the old generation: longer young
    // pauses, and old-generation growth that ends in a full collection.
    RaftServerConfigKeys.RetryCache.setExpiryTime(p, RETRY_CACHE_EXPIRY);
    return p;
  }

  public void start() throws IOException {
    server.start();
    LOG.info("Raft server {} started on {} (group {})", selfId, config.self().peerAddress(), groupId);
    if (deadLeaderDetector != null) {
      peerLogs.warmUp(RaftPeer.newBuilder().setId(selfId).setAddress(config.self().peerAddress().toString()).build());
    }
  }

  public HoldfastStateMachine stateMachine() {
    return stateMachine;
  }

  // The detector is built before the server it watches; it asks for it only once streams flow.
  private RaftServer raftServer() {
    return server;
  }

  private RaftServer.Division division() {
    try {
      return server.getDivision(groupId);
    } catch (IOException e) {
      throw new RaftCallException(ErrorCode.NO_LEADER, null, "raft group not available: " + e.getMessage());
    }
  }

  public boolean isLeader() {
    DivisionInfo info = division().getInfo();
    return info.isLeader() && info.isLeaderReady();
  }

  /** When this node last knew itself in touch with a leader (System.nanoTime()). */
  private volatile long lastLeaderContactNanos = System.nanoTime();

  /**
   * Milliseconds since this node last heard from a Raft leader: 0 while it leads (Ratis steps a
   * leader down when a majority stops answering), the time since the leader's last append on a
   * follower, and the time since it last had a leader on a candidate or a node that knows none.
   */
  public long leaderContactAgeMs() {
    long now = System.nanoTime();
    DivisionInfo info = division().getInfo();
    long age = -1;
    if (info.isLeader()) {
      age = 0;
    } else if (info.getLeaderId() != null) {
      var role = info.getRoleInfoProto();
      // A follower's leader info is Ratis's default (elapsed 0) when it knows no leader: checked above.
      if (role.hasFollowerInfo() && role.getFollowerInfo().getLeaderInfo().hasId()) {
        age = role.getFollowerInfo().getLeaderInfo().getLastRpcElapsedTimeMs();
      }
    }
    if (age >= 0) {
      lastLeaderContactNanos = Math.max(lastLeaderContactNanos, now - TimeUnit.MILLISECONDS.toNanos(age));
      return age;
    }
    return TimeUnit.NANOSECONDS.toMillis(now - lastLeaderContactNanos);
  }

  /** The leader this node knows of, or null. */
  public String leaderId() {
    RaftPeerId id = division().getInfo().getLeaderId();
    return id == null ? null : id.toString();
  }

  public String nodeId() {
    return selfId.toString();
  }

  public String role() {
    return division().getInfo().getCurrentRole().name();
  }

  public long term() {
    return division().getInfo().getCurrentTerm();
  }

  public long appliedIndex() {
    return division().getInfo().getLastAppliedIndex();
  }

  /** Whether the Raft division is running (not closing or closed). */
  public boolean isAlive() {
    try {
      return division().getInfo().isAlive();
    } catch (RuntimeException e) {
      return false;
    }
  }

  public long commitIndex() {
    return division().getRaftLog().getLastCommittedIndex();
  }

  /** The leader's own commands, never refused as busy: renewals and expiries keep sessions honest. */
  private static boolean housekeeping(Command c) {
    return c instanceof Command.Checkpoint || c instanceof Command.ExpireSession || c instanceof Command.RaiseApplyRules;
  }

  /**
   * Replicates {@code command} and returns what apply answered. Fails with
   * {@link RaftCallException} when this node is not the ready leader: nothing was logged then.
   */
  public CompletableFuture<Result> submit(Command command) {
    return submit(command, false);
  }

  /**
   * As {@link #submit(Command)}; on a follower with {@code forward}, passes the command to the
   * leader over Raft's own port instead of refusing it (a client that cannot reach the leader asked
   * for that), and answers once this node has applied it too, so that what the caller reads here
   * next includes its own write.
   */
  public CompletableFuture<Result> submit(Command command, boolean forward) {
    if (!isLeader()) {
      return forward ? forward(command) : CompletableFuture.failedFuture(notLeader());
    }
    com.codahale.metrics.Timer timer = commitTimer;
    com.codahale.metrics.Timer.Context timing = timer == null ? null : timer.time();
    CompletableFuture<Result> result = batcher.submit(command);
    if (timing != null) {
      result.whenComplete((r, e) -> timing.stop());
    }
    return result;
  }

  private volatile com.codahale.metrics.Counter forwarded;

  /** Counts the commands this node passed on to the leader for clients that could not reach it. */
  public void countForwardsWith(com.codahale.metrics.Counter counter) {
    this.forwarded = counter;
  }

  /**
   * Why a write sent here now would be refused before it reached any log, or null if it would be
   * logged (this node leads, or, with {@code forward}, passes it on to a leader it hears from).
   */
  public RaftCallException refusesWrites(boolean forward) {
    if (isLeader()) {
      return null;
    }
    return forward ? forwardRefusal(leaderPeer()) : notLeader();
  }

  private RaftCallException forwardRefusal(RaftPeer leader) {
    if (leader == null) {
      return notLeader();
    }
    // A follower that no longer hears the leader either would only hold the call until an election
    // names another one: say so now, and the client tries elsewhere.
    long contactAgeMs = leaderContactAgeMs();
    if (contactAgeMs > config.electionTimeoutMinMs()) {
      return new RaftCallException(ErrorCode.NO_LEADER, null,
          "this node has not heard from the leader " + leader.getId() + " for " + contactAgeMs + " ms either");
    }
    return null;
  }

  /**
   * How long a follower waits for the leader to answer what it passed on: an election or so. A
   * leader that stops answering meanwhile is being replaced, and the client's retry (same request
   * id) finds the new one.
   */
  static long forwardBoundMs(ServerConfig config) {
    return 2 * config.electionTimeoutMaxMs();
  }

  private CompletableFuture<Result> forward(Command command) {
    RaftPeer leader = leaderPeer();
    RaftCallException notPassedOn = forwardRefusal(leader);
    if (notPassedOn != null) {
      return CompletableFuture.failedFuture(notPassedOn);
    }
    byte[] bytes = CommandCodec.encode(command, 0);
    if (bytes.length > maxEntryBytes(config)) {
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.RESOURCE_EXHAUSTED, null,
          "the request makes a log entry of " + bytes.length + " bytes; the limit is " + maxEntryBytes(config)));
    }
    com.codahale.metrics.Counter c = forwarded;
    if (c != null) {
      c.inc();
    }
    long boundMs = forwardBoundMs(config);
    return leaderLink.write(leader, bytes, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(boundMs / 2))
        .orTimeout(boundMs, TimeUnit.MILLISECONDS)
        .thenCompose(reply -> {
          if (!reply.isSuccess()) {
            throw new CompletionException(translate(reply.getException()));
          }
          Result result;
          try {
            result = ResultCodec.decode(reply.getMessage().getContent().toByteArray());
          } catch (InvalidProtocolBufferException e) {
            throw new CompletionException(e);
          }
          // Read-your-writes on this node. If it falls behind (cut off from the leader now), the
          // answer goes out anyway after a while: it is committed, only local views may lag. Not an
          // acquire's, though. A queued one's grant is awaited here, from what this node applies,
          // and before it has applied the acquire that would include grants older than it. A
          // grant's answer shows the lock as this node has it, which the client trusts to show the
          // grant (or that it ended already), and gives the grant's age against this node's log time.
          // (A cancel that released the grant it found answers nothing from the state.)
          long index = reply.getLogIndex();
          boolean mustApply = result instanceof Result.Queued || result instanceof Result.Granted
              || (result instanceof Result.WaitCancelled cancelled && cancelled.wasGranted() && !cancelled.released());
          return stateMachine.appliedThrough(index).thenApply(v -> true)
              .completeOnTimeout(false, boundMs, TimeUnit.MILLISECONDS)
              .thenApply(applied -> {
                if (!applied && mustApply) {
                  throw new CompletionException(new RaftCallException(ErrorCode.NO_LEADER, null,
                      "the acquire is " + (result instanceof Result.Queued ? "queued" : "granted") + " (log index "
                      + index + "), but this node has not applied the log that far to answer it; retry it"
                      + " (same request id)"));
                }
                return result;
              });
        }).handleAsync((result, e) -> {
          // Off the apply thread and the JDK's timer thread: what follows answers the client and
          // reads the state.
          if (e != null) {
            Throwable cause = unwrap(e);
            if (cause instanceof org.apache.ratis.protocol.exceptions.StateMachineException refused) {
              // The leader would not log it: a command its build does not know, or past its limits.
              String why = String.valueOf(refused.getMessage());
              int limit = why.indexOf(LeaderLimits.LIMIT_REACHED);
              if (limit >= 0) {
                throw new CompletionException(new RaftCallException(ErrorCode.RESOURCE_EXHAUSTED, null,
                    "the leader refused the command passed on to it: "
                    + why.substring(limit + LeaderLimits.LIMIT_REACHED.length())));
              }
              throw new CompletionException(new RaftCallException(ErrorCode.INVALID_ARGUMENT, null,
                  "the leader refused the command passed on to it: " + why));
            }
            throw new CompletionException(translate(cause));
          }
          return result;
        }, forwardReplies);
  }

  private final java.util.concurrent.ExecutorService forwardReplies = java.util.concurrent.Executors.newFixedThreadPool(2,
      r -> {
        Thread t = new Thread(r, "holdfast-forward-reply");
        t.setDaemon(true);
        return t;
      });

  private RaftPeer leaderPeer() {
    String leader = leaderIdOrNull();
    if (leader == null || leader.equals(selfId.toString())) {
      return null;
    }
    try {
      return division().getRaftConf().getPeer(RaftPeerId.valueOf(leader));
    } catch (RuntimeException e) {
      return null;
    }
  }

  private boolean handsOver(Command command) {
    return command instanceof Command.Release && stateMachine.read(s -> BatchHints.handsOver(s, command));
  }

  private boolean waitsBehindOthers(Command command) {
    return BatchHints.mayDefer(command) && stateMachine.read(s -> BatchHints.waitsBehindOthers(s, command));
  }

  /** One entry: a command, or a {@link Command.Batch} of the commands that arrived together. */
  private CompletableFuture<Result> replicate(Command command) {
    byte[] bytes = CommandCodec.encode(command, 0);
    long maxEntryBytes = maxEntryBytes(config);
    if (bytes.length > maxEntryBytes) {
      // Ratis would fail the log write (and stop this node) or step down over it: refuse it here.
      LOG.error("Refused a log entry of {} bytes (limit {}): {}", bytes.length, maxEntryBytes,
          command instanceof Command.Batch b ? "a batch of " + b.commands().size() + " commands" : command);
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.RESOURCE_EXHAUSTED, null,
          "the request makes a log entry of " + bytes.length + " bytes; the limit is " + maxEntryBytes));
    }
    return send(Message.valueOf(ByteString.copyFrom(bytes)), RaftClientRequest.writeRequestType())
        .thenApply(reply -> {
          try {
            return ResultCodec.decode(reply.getMessage().getContent().toByteArray());
          } catch (InvalidProtocolBufferException e) {
            throw new CompletionException(e);
          }
        });
  }

  /**
   * Completes once this node has applied everything committed before the call (Raft ReadIndex,
   * with leadership confirmed by a majority). Works on followers too. It completes off Ratis's
   * apply thread, which would otherwise run what the caller chains on it (a whole backup's export,
   * say) while the node's log waits to be applied.
   */
  public CompletableFuture<Void> readBarrier() {
    return send(Message.EMPTY, RaftClientRequest.readRequestType()).thenApplyAsync(r -> null, offApplyThread);
  }

  /** Runs what follows read barriers: its own threads, so a long read holds up no forwarded write's answer. */
  private final java.util.concurrent.ExecutorService readReplies = java.util.concurrent.Executors.newFixedThreadPool(2,
      r -> {
        Thread t = new Thread(r, "holdfast-read-reply");
        t.setDaemon(true);
        return t;
      });

  private final java.util.concurrent.Executor offApplyThread = task -> {
    try {
      readReplies.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      task.run();
    }
  };

  private CompletableFuture<RaftClientReply> send(Message message, RaftClientRequest.Type type) {
    RaftClientRequest request = RaftClientRequest.newBuilder()
        .setClientId(clientId)
        .setServerId(selfId)
        .setGroupId(groupId)
        .setCallId(callIds.incrementAndGet())
        .setMessage(message)
        .setType(type)
        .build();
    CompletableFuture<RaftClientReply> f;
    try {
      // Straight into the division: RaftServer#submitClientRequestAsync hands each request to
      // Ratis's client pool and blocks the caller until that pool has taken it, one thread
      // hand-off and one blocked caller per command (it held gRPC's call threads under load).
      f = division() instanceof RaftClientAsynchronousProtocol direct
          ? direct.submitClientRequestAsync(request) : server.submitClientRequestAsync(request);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.NO_LEADER, null, e.getMessage()));
    } catch (RaftCallException e) {
      return CompletableFuture.failedFuture(e);
    }
    return f.handle((reply, error) -> {
      if (error != null) {
        throw new CompletionException(translate(unwrap(error)));
      }
      if (!reply.isSuccess()) {
        throw new CompletionException(translate(reply.getException()));
      }
      return reply;
    });
  }

  private RuntimeException translate(Throwable e) {
    if (e instanceof NotLeaderException nle) {
      // Ratis answers so both a call it refused and every entry still pending when its leader
      // stepped down, which the next leader may commit: "maybe applied" (NO_LEADER) to a client,
      // never NOT_LEADER's "not logged". The hint still sends it on.
      RaftPeer hint = nle.getSuggestedLeader();
      return new RaftCallException(ErrorCode.NO_LEADER, hint == null ? null : hint.getId().toString(),
          "the leader stepped down with the call in flight; it may still commit: retry it (same request id)");
    }
    if (e instanceof RaftCallException rce) {
      return rce;
    }
    // Anything else from Ratis (a peer's channel failing as the leader dies, a read index that
    // timed out, a leader stepping down) is transient for the caller: every mutating command
    // carries a request id, so a retry with the same id acts at most once.
    String what = e == null ? "unknown error" : e.getClass().getSimpleName() + ": " + e.getMessage();
    return new RaftCallException(ErrorCode.NO_LEADER, leaderIdOrNull(), "raft: " + what);
  }

  private RaftCallException notLeader() {
    return notLeader("not the leader");
  }

  /**
   * The refusal for a call only the leader can serve: NOT_LEADER naming the leader, or NO_LEADER
   * while none is known or this node still counts itself (a client sent back here would loop).
   */
  public RaftCallException notLeader(String why) {
    String leader = leaderIdOrNull();
    if (leader == null || leader.equals(selfId.toString())) {
      return new RaftCallException(ErrorCode.NO_LEADER, null, "no leader is ready yet");
    }
    return new RaftCallException(ErrorCode.NOT_LEADER, leader, why);
  }

  /**
   * Asks the leader {@code query} over Raft's links; the leader's state machine answers it (see
   * {@link io.holdfast.server.statemachine.HoldfastStateMachine#answerPeerQueriesWith}). Fails with
   * NO_LEADER while no other node is known to lead.
   */
  public CompletableFuture<byte[]> askLeader(byte[] query) {
    RaftPeer peer = leaderPeer();
    if (peer == null) {
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.NO_LEADER, null, "no leader is known"));
    }
    return leaderLink.ask(peer, query);
  }

  public String leaderIdOrNull() {
    try {
      return leaderId();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  // ---- membership ----------------------------------------------------------------------------

  /** One voting member, from the replicated Raft configuration. */
  public record Member(String id, String peerAddress, String clientAddress) {}

  /** The voting members of the current configuration (the new one while a change is under way). */
  public List<Member> members() {
    List<Member> out = new ArrayList<>();
    for (RaftPeer p : division().getRaftConf().getCurrentPeers()) {
      out.add(new Member(p.getId().toString(), p.getAddress(), clientAddressOf(p)));
    }
    out.sort(java.util.Comparator.comparing(Member::id));
    return out;
  }

  /** Where this node stands in the current Raft configuration. */
  public enum Membership {
    MEMBER,
    NOT_MEMBER,
    /** A change is under way whose new configuration includes this node. */
    CHANGING,
    /** A change is under way whose new configuration leaves this node out. */
    LEAVING,
    UNKNOWN
  }

  public Membership membership() {
    try {
      var conf = division().getRaftConf();
      lastKnownPeers = List.copyOf(conf.getCurrentPeers());
      boolean inNew = conf.getCurrentPeers().stream().anyMatch(p -> p.getId().equals(selfId));
      if (!conf.getPreviousPeers().isEmpty()) {
        return inNew ? Membership.CHANGING : Membership.LEAVING;
      }
      return inNew ? Membership.MEMBER : Membership.NOT_MEMBER;
    } catch (RuntimeException e) {
      return Membership.UNKNOWN;
    }
  }

  /**
   * Whether the leader says this node is no longer in the cluster: asked when this node's
   * division stopped by itself. A member removed while it was down still finds itself in its own
   * stored configuration when it starts again, and the leader has it shut down; it must then stop
   * for good, not be restarted as failed.
   */
  public boolean removedAccordingToPeers() {
    List<RaftPeer> others = new ArrayList<>();
    for (RaftPeer p : lastKnownPeers) {
      if (!p.getId().equals(selfId)) {
        others.add(p);
      }
    }
    for (PeerConfig p : config.peers()) {
      if (!p.id().equals(config.nodeId()) && others.stream().noneMatch(o -> o.getId().toString().equals(p.id()))) {
        others.add(RaftPeer.newBuilder().setId(p.id()).setAddress(p.peerAddress().toString()).build());
      }
    }
    for (RaftPeer p : others) {
      try (org.apache.ratis.client.RaftClient c = PeerRaftClients.to(p, groupId, peerParameters, 1_000)) {
        var info = c.getGroupManagementApi(p.getId()).info(groupId);
        // Only the leader's word: a follower behind the log may not know of a later change.
        if (info.getRoleInfoProto().getRole() != org.apache.ratis.proto.RaftProtos.RaftPeerRole.LEADER) {
          continue;
        }
        var conf = info.getConf();
        if (conf.isPresent() && conf.get().getOldPeersCount() == 0 && conf.get().getPeersList().stream()
            .noneMatch(q -> RaftPeerId.valueOf(q.getId()).equals(selfId))) {
          LOG.warn("{} says the cluster's members are {}, without this node", p.getId(), conf.get().getPeersList()
              .stream().map(q -> RaftPeerId.valueOf(q.getId()).toString()).toList());
          return true;
        }
      } catch (IOException | RuntimeException e) {
        LOG.debug("{} did not say who the members are: {}", p.getId(), e.toString());
      }
    }
    return false;
  }

  /** The client endpoint of member {@code id}, or null if no member has that id. */
  public String clientAddressOf(String id) {
    try {
      RaftPeer p = division().getRaftConf().getPeer(RaftPeerId.valueOf(id));
      if (p != null) {
        return clientAddressOf(p);
      }
    } catch (RuntimeException e) {
      // no division yet (starting or closing): fall back to the config file
    }
    PeerConfig fromFile = config.peer(id);
    return fromFile == null ? null : fromFile.clientAddress().toString();
  }

  private String clientAddressOf(RaftPeer p) {
    String a = p.getClientAddress();
    if (a == null || a.isEmpty()) {
      PeerConfig fromFile = config.peer(p.getId().toString());
      return fromFile == null ? "" : fromFile.clientAddress().toString();
    }
    return a;
  }

  /**
   * Replaces the voting members with {@code next}, provided they are still {@code expected}
   * (compare-and-set, so two operators cannot undo each other). Completes when the new
   * configuration is committed; a new member is caught up before it counts.
   */
  public CompletableFuture<Void> changeMembers(List<Member> expected, List<Member> next) {
    return changeMembers(expected, next, 0);
  }

  private CompletableFuture<Void> changeMembers(List<Member> expected, List<Member> next, int waits) {
    if (!isLeader()) {
      return CompletableFuture.failedFuture(notLeader());
    }
    Reconfiguring claim = new Reconfiguring(CHANGING_MEMBERS);
    if (!reconfiguring.compareAndSet(null, claim)) {
      Reconfiguring other = reconfiguring.get();
      if (other == null && waits < 100) {
        return changeMembers(expected, next, waits + 1);  // the other claim just went: try again now
      }
      if (other != null && RAISING_RULES.equals(other.what()) && waits < 100) {
        // A raise is one commit: wait for it (at most 2 s) rather than refuse.
        return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS))
            .thenCompose(waited -> changeMembers(expected, next, waits + 1));
      }
      return CompletableFuture.failedFuture(new MembershipBusyException("the leader is "
          + (other == null ? "finishing another change" : other.what()) + " right now: try again in a few seconds"));
    }
    letGoEventually(claim);
    CompletableFuture<Void> change;
    try {
      // After a read barrier: a raise committed by an earlier leader is applied here before the
      // check reads the rules the cluster writes.
      change = readBarrier().thenCompose(applied -> checkedChange(expected, next));
    } catch (RuntimeException e) {
      change = CompletableFuture.failedFuture(e);
    }
    return change.whenComplete((v, e) -> reconfiguring.compareAndSet(claim, null));
  }

  private CompletableFuture<Void> checkedChange(List<Member> expected, List<Member> next) {
    // A member whose build does not know the rules the cluster writes would stop at the first
    // entry it replicates (etcd refuses such a member too). Only asked once the rules were raised.
    int writes = stateMachine.writeRules();
    java.util.Set<String> before = new java.util.HashSet<>();
    expected.forEach(m -> before.add(m.id()));
    List<CompletableFuture<String>> refusals = new ArrayList<>();
    if (writes > io.holdfast.server.state.LogEntry.NEGOTIATED_FROM) {
      for (Member m : next) {
        if (!before.contains(m.id())) {
          refusals.add(applyRules.ask(peer(m.id(), m.peerAddress(), m.clientAddress())).thenApply(known ->
              known.rules() >= writes ? null
              : known.unanswered() != null && known.unanswered().contains("UNIMPLEMENTED")
              ? m.id() + " runs a build too old to say which apply rules it knows, and the cluster writes " + writes
                  + ": upgrade it before adding it"
              : known.unanswered() != null
              ? m.id() + " did not say which apply rules its build knows (" + known.unanswered() + "), and the cluster"
                  + " writes " + writes + ": check that it is started and runs the current build before adding it"
              : m.id() + " runs a build that knows apply rules up to " + known.rules() + " and the cluster writes "
                  + writes + ": upgrade it before adding it"));
        }
      }
    }
    return CompletableFuture.allOf(refusals.toArray(new CompletableFuture<?>[0])).thenCompose(asked -> {
      for (CompletableFuture<String> r : refusals) {
        if (r.join() != null) {
          return CompletableFuture.failedFuture(new MembershipException(r.join()));
        }
      }
      return setConfiguration(expected, next);
    });
  }

  private CompletableFuture<Void> setConfiguration(List<Member> expected, List<Member> next) {
    SetConfigurationRequest.Arguments args = SetConfigurationRequest.Arguments.newBuilder()
        .setServersInCurrentConf(toPeers(expected))
        .setServersInNewConf(toPeers(next))
        .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
        .build();
    try {
      return server.setConfigurationAsync(new SetConfigurationRequest(clientId, selfId, groupId,
          callIds.incrementAndGet(), args)).handle(RaftNode::adminOutcome);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.NO_LEADER, null, e.getMessage()));
    }
  }

  /**
   * The voting follower the leader heard from most recently (a good transfer target), or null
   * when this node does not lead or has no voting follower.
   */
  public String freshestFollower() {
    return freshestFollower(Long.MAX_VALUE);
  }

  /** As {@link #freshestFollower()}, among followers heard from within {@code heardWithinMs}. */
  public String freshestFollower(long heardWithinMs) {
    var role = division().getInfo().getRoleInfoProto();
    if (!role.hasLeaderInfo()) {
      return null;
    }
    java.util.Set<String> voters = new java.util.HashSet<>();
    members().forEach(m -> voters.add(m.id()));
    String best = null;
    long bestElapsed = Long.MAX_VALUE;
    for (var f : role.getLeaderInfo().getFollowerInfoList()) {
      String id = RaftPeerId.valueOf(f.getId().getId()).toString();
      if (voters.contains(id) && !id.equals(nodeId()) && f.getLastRpcElapsedTimeMs() < bestElapsed
          && f.getLastRpcElapsedTimeMs() <= heardWithinMs) {
        best = id;
        bestElapsed = f.getLastRpcElapsedTimeMs();
      }
    }
    return best;
  }

  /**
   * What this leader knows of voter {@code id}: how long since it last answered, and the last log
   * index it is known to hold; null when this node does not lead or does not track {@code id}.
   */
  public FollowerProgress progressOf(String id) {
    var info = division().getInfo();
    var role = info.getRoleInfoProto();
    if (!role.hasLeaderInfo()) {
      return null;
    }
    var followers = role.getLeaderInfo().getFollowerInfoList();
    // Ratis lists both in its followers' order; a membership change between the two reads can
    // reorder them, so a size mismatch leaves the index unknown (-1).
    long[] match = info.getFollowerMatchIndices();
    for (int i = 0; i < followers.size(); i++) {
      if (RaftPeerId.valueOf(followers.get(i).getId().getId()).toString().equals(id)) {
        long matchIndex = match != null && match.length == followers.size() ? match[i] : -1;
        return new FollowerProgress(followers.get(i).getLastRpcElapsedTimeMs(), matchIndex);
      }
    }
    return null;
  }

  /** See {@link #progressOf}; {@code matchIndex} -1 when unknown. */
  public record FollowerProgress(long lastHeardMsAgo, long matchIndex) {}

  /** Hands leadership to {@code target}; completes once it leads. */
  public CompletableFuture<Void> transferLeadership(String target, long timeoutMs) {
    if (!isLeader()) {
      return CompletableFuture.failedFuture(notLeader());
    }
    try {
      return server.transferLeadershipAsync(new TransferLeadershipRequest(clientId, selfId, groupId,
          callIds.incrementAndGet(), RaftPeerId.valueOf(target), timeoutMs)).handle(RaftNode::adminOutcome);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(new RaftCallException(ErrorCode.NO_LEADER, null, e.getMessage()));
    }
  }

  private static Void adminOutcome(RaftClientReply reply, Throwable error) {
    Throwable e = error != null ? unwrap(error) : reply.isSuccess() ? null : reply.getException();
    if (e == null) {
      return null;
    }
    if (e instanceof NotLeaderException nle) {
      // As in translate: a change pending when the leader stepped down may still commit.
      RaftPeer hint = nle.getSuggestedLeader();
      throw new CompletionException(new RaftCallException(ErrorCode.NO_LEADER,
          hint == null ? null : hint.getId().toString(), "the leader stepped down with the change in flight; it may "
          + "still commit: look at the members before trying again"));
    }
    if (e instanceof LeaderNotReadyException) {
      throw new CompletionException(new RaftCallException(ErrorCode.NO_LEADER, null, "no leader is ready yet"));
    }
    if (e instanceof org.apache.ratis.protocol.exceptions.ReconfigurationInProgressException) {
      // Another change is still being made: this one may go once it is done (ABORTED, not final).
      throw new CompletionException(new MembershipBusyException("another membership change is in progress ("
          + e.getMessage() + "); try again once it is done"));
    }
    // A reconfiguration in progress, a compare-and-set that lost, a new member that never caught
    // up, a transfer that timed out: the operator must look and decide, so say what Ratis said.
    throw new CompletionException(new MembershipException(e.getClass().getSimpleName() + ": " + e.getMessage()));
  }

  /** A membership change or leadership transfer Ratis refused or could not finish. */
  public static final class MembershipException extends RuntimeException {
    MembershipException(String message) {
      super(message, null, false, false);
    }
  }

  /** A member change refused because another one, or a raise of the apply rules, is under way. */
  public static final class MembershipBusyException extends RuntimeException {
    MembershipBusyException(String message) {
      super(message, null, false, false);
    }
  }

  private static List<RaftPeer> toPeers(List<Member> members) {
    List<RaftPeer> out = new ArrayList<>();
    for (Member m : members) {
      out.add(peer(m.id(), m.peerAddress(), m.clientAddress()));
    }
    return out;
  }

  @Override
  public void close() throws IOException {
    try {
      if (deadLeaderDetector != null) {
        deadLeaderDetector.close();
        peerLogs.close();
      }
      leaderLink.close();
      server.close();
    } finally {
      forwardReplies.shutdown();
      readReplies.shutdown();
      batchPump.shutdownNow();
      batcher.shutDown();
    }
  }
}
