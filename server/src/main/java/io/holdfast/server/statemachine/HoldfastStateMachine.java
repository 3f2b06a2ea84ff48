package io.holdfast.server.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.StateEvent;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ratis state machine: decodes log entries into commands, applies them to
 * {@link HoldfastState}, and snapshots that state.
 *
 * <p>Apply is deterministic: the only time it sees is the leader's stamp written into the entry by
 * {@link #startTransaction} (on the leader, before the entry is logged). Reads serialise with apply
 * through {@link #read}; linearizable reads first pass a Ratis ReadIndex barrier ({@link #query}
 * answers it) and then read the local state, which has applied at least up to the read index.
 */
public final class HoldfastStateMachine extends BaseStateMachine implements StateReader {
  private static final Logger LOG = LoggerFactory.getLogger(HoldfastStateMachine.class);

  private final SnapshotStorage storage = new SnapshotStorage();
  /** Set in initialize; see EpochMarker. */
  private volatile EpochMarker epochMarker;
  private final HoldfastState state = new HoldfastState();
  private final List<StateObserver> observers = new CopyOnWriteArrayList<>();
  /** The leader's time for the entries it proposes (see LeaderStampClock). */
  private final LeaderStampClock stamps = LeaderStampClock.system();
  private volatile boolean leader;
  /** Leaderships lost so far: lets notifyLeaderReady see a loss that raced with it. */
  private final java.util.concurrent.atomic.AtomicLong losses = new java.util.concurrent.atomic.AtomicLong();
  private volatile long lastSnapshotBytes;
  private volatile Path restoreSeed;
  private final SnapshotWriter snapshots = new SnapshotWriter(storage, n -> lastSnapshotBytes = n);
  /** The highest apply rules this node can apply (LogEntry.RULES; lower or higher only in tests). */
  private final int supportedRules;
  /** The rules this node writes as leader: the state's cluster rules, read outside apply. */
  private volatile int writeRules = LogEntry.NEGOTIATED_FROM;

  public HoldfastStateMachine() {
    this(LogEntry.RULES);
  }

  /**
   * Test seam: a node that claims to apply rules up to {@code supportedRules}, to play an older or
   * a newer build in a mixed cluster. Rules above LogEntry.RULES apply as LogEntry.RULES does.
   */
  public HoldfastStateMachine(int supportedRules) {
    this.supportedRules = supportedRules;
  }

  private volatile org.apache.ratis.protocol.ClientId ownClientId;
  private volatile LeaderLimits leaderLimits;

  /** This node's limits, which it puts into the commands followers pass on when it leads (see LeaderLimits). */
  public void leaderLimits(LeaderLimits limits) {
    this.leaderLimits = limits;
  }

  /** The Ratis client id this node's own commands come with; others' are re-encoded before they are logged. */
  public void ownClientId(org.apache.ratis.protocol.ClientId id) {
    this.ownClientId = id;
  }

  /** The highest apply rules this node can apply. */
  public int supportedRules() {
    return supportedRules;
  }

  /** The apply rules new entries are written under (the replicated cluster rules). */
  public int writeRules() {
    return writeRules;
  }

  /** The size of the newest snapshot this node wrote or loaded (0 before the first). */
  public long lastSnapshotBytes() {
    return lastSnapshotBytes;
  }

  public void addObserver(StateObserver o) {
    observers.add(o);
  }

  private volatile java.util.function.Consumer<Throwable> onLogFailed = cause -> { };

  /**
   * Called (on Ratis's log worker) when this node could not write its Raft log, e.g. a full disk.
   * Ratis then fails every later append and vote of this node but leaves it running.
   */
  public void onLogFailed(java.util.function.Consumer<Throwable> handler) {
    this.onLogFailed = handler;
  }

  /** Runs {@code f} against the state with apply excluded; {@code f} must not keep references. */
  @Override
  public <T> T read(Function<HoldfastState, T> f) {
    synchronized (state) {
      return f.apply(state);
    }
  }

  // ---- lifecycle and snapshots -------------------------------------------------------------

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    // BaseStateMachine leaves the lifecycle at NEW; a snapshot install later asserts PAUSED and
    // would close the division (Ratis brief, P2). Walk the lifecycle properly.
    getLifeCycle().startAndTransition(() -> {
      super.initialize(server, groupId, raftStorage);
      epochMarker = new EpochMarker(raftStorage.getStorageDir().getRoot().toPath());
      storage.init(raftStorage);
      installRestoreSeed(raftStorage);
      loadLatestSnapshot(false);
    });
  }

  private static boolean hasRaftLog(RaftStorage raftStorage) throws IOException {
    try (var files = Files.list(raftStorage.getStorageDir().getCurrentDir().toPath())) {
      return files.anyMatch(f -> f.getFileName().toString().startsWith("log_"));
    }
  }

  /** A restore left {@code seed} for this node (see backup.RestoreSeed); used on an empty node only. */
  public void installRestoreSeedFrom(Path seed) {
    this.restoreSeed = seed;
  }

  /**
   * Turns a restore seed into this node's first snapshot, before Ratis opens the log: the log then
   * starts right after the backup's index, so log indexes (and with them session ids, KV revisions
   * and token index parts) continue from where the backup left off.
   */
  private void installRestoreSeed(RaftStorage raftStorage) throws IOException {
    Path seed = restoreSeed;
    if (seed == null || !Files.exists(seed)) {
      if (seed != null && storage.getLatestSnapshot() == null && !hasRaftLog(raftStorage)) {
        // Said, so that a restore whose seed went elsewhere (another data-dir in the CLI's
        // environment than in the service's) is noticed before the node runs as an empty cluster.
        LOG.info("This node starts with empty Raft storage and no restore seed at {}: as a new, empty cluster's "
            + "member (or one that joins). If a restore was meant, its seed is not where this node looks", seed);
      }
      return;
    }
    boolean hasLog = hasRaftLog(raftStorage);
    byte[] bytes = Files.readAllBytes(seed);
    io.holdfast.server.state.StateImage img = SnapshotCodec.decode(bytes);
    // The seed's term is 1 (RestoreSeed sets it): low enough for the new cluster's first leader
    // (Ratis refuses entries whose term is below the last one it has), and not 0, which Ratis
    // takes for an empty log when counting votes.
    TermIndex at = TermIndex.valueOf(img.lastAppliedTerm(), img.lastAppliedIndex());
    Path installed = seed.resolveSibling(seed.getFileName() + ".installed");
    SingleFileSnapshotInfo latest = storage.getLatestSnapshot();
    if (!hasLog && latest != null && latest.getTermIndex().equals(at)) {
      // A crash came between the snapshot and the seed's rename: the install is done.
      Files.move(seed, installed, StandardCopyOption.REPLACE_EXISTING);
      LOG.info("The restore seed {} was already installed (index {}); marked as such", seed, at.getIndex());
      return;
    }
    if (latest != null || hasLog) {
      throw new IOException("a restore seed " + seed + " is waiting, but this node already has Raft state in "
          + raftStorage.getStorageDir().getRoot() + "; a restore is for the nodes of a new cluster, with empty data dirs");
    }
    // Durable before it counts: a temporary file forced to disk, its checksum, then the move and
    // the directory. A crash leaves either no snapshot (the seed is installed again) or this one.
    File target = storage.getSnapshotFile(img.lastAppliedTerm(), img.lastAppliedIndex());
    Path tmp = target.toPath().resolveSibling(target.getName() + ".tmp");
    Files.write(tmp, bytes);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    MD5Hash md5 = MD5Hash.newInstance(MD5FileUtil.newMD5().digest(bytes));
    MD5FileUtil.saveMD5File(target, md5);
    Files.move(tmp, target.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(target.toPath().getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
    storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(target.toPath(), md5), at));
    Files.move(seed, installed, StandardCopyOption.REPLACE_EXISTING);
    LOG.info("Installed the restore seed {}: state at index {}, fencing epoch {}", seed, img.lastAppliedIndex(),
        img.fencingEpoch());
  }

  /** The state as one snapshot encoding, with the index it was taken at (a backup). */
  public record Export(long index, long fencingEpoch, byte[] bytes) {}

  /** Serialises the state as applied so far; call after a read barrier for a linearizable point. */
  public Export export() {
    io.holdfast.server.state.StateImage img;
    synchronized (state) {
      img = state.image();
    }
    // The image is a copy: encoding it needs no lock.
    return new Export(img.lastAppliedIndex(), img.fencingEpoch(), SnapshotCodec.encode(img));
  }


  @Override
  public void pause() {
    // Ratis holds its server lock here: no waiting for a write under way (reinitialize waits).
    snapshots.abandon();
    getLifeCycle().transition(LifeCycle.State.PAUSING);
    getLifeCycle().transition(LifeCycle.State.PAUSED);
  }

  @Override
  public void reinitialize() throws IOException {
    snapshots.quiesce();
    loadLatestSnapshot(true);
    getLifeCycle().transition(LifeCycle.State.STARTING);
    getLifeCycle().transition(LifeCycle.State.RUNNING);
    // Under the lock, like apply: a watcher subscribing meanwhile is either told or never joins.
    synchronized (state) {
      observers.forEach(StateObserver::onStateReloaded);
    }
    // A snapshot can carry this node past the index a forwarded command waits for.
    completeAppliedWaits(getLastAppliedTermIndex().getIndex());
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  /** {@code installed}: the leader sent it, to replace this node's state (not this node's own at start). */
  private void loadLatestSnapshot(boolean installed) throws IOException {
    SingleFileSnapshotInfo snap = storage.loadLatestSnapshot();
    if (snap == null) {
      return;
    }
    Path file = snap.getFile().getPath();
    byte[] bytes = Files.readAllBytes(file);
    // The bytes themselves, against the digest saved beside them (Ratis's verifySavedMD5 compares
    // the saved digest with itself): a damaged file that still decodes must not become the state.
    MD5Hash saved = MD5FileUtil.readStoredMd5ForFile(file.toFile());
    MD5Hash actual = MD5Hash.newInstance(MD5FileUtil.newMD5().digest(bytes));
    if (!actual.equals(saved)) {
      throw new IOException("snapshot " + file + " is damaged: its MD5 is " + actual + ", and the digest saved with it "
          + saved + ". Replace this member as ops/runbooks/replace-node.md says (a new id, an empty data dir): never "
          + "start it empty under its old id");
    }
    lastSnapshotBytes = bytes.length;
    io.holdfast.server.state.StateImage image = SnapshotCodec.decode(bytes);
    if (image.clusterRules() > supportedRules) {
      // The others may write entries under these rules at any time; a node that cannot apply them
      // must not take part (and as leader it would write older rules than the cluster agreed on).
      String message = "snapshot " + file.getFileName() + " says the cluster writes apply rules " + image.clusterRules()
          + " and this build knows rules up to " + supportedRules + ". Upgrade this node's binary"
          + " (ops/runbooks/rolling-restart.md)";
      LOG.error(message);
      onUnappliable.accept(new IllegalStateException(message));
      throw new IOException(message);
    }
    EpochMarker marker = epochMarker;
    java.util.OptionalLong recorded = marker == null ? java.util.OptionalLong.empty() : marker.read();
    synchronized (state) {
      long mine = recorded.isPresent() ? recorded.getAsLong()
          : installed && state.lastAppliedIndex() > 0 ? state.fencingEpoch() : image.fencingEpoch();
      if (image.fencingEpoch() != mine) {
        // The check each log entry gets (applyTransaction), for a whole state: a member of another
        // restore's line (an old cluster's member come back after a restore that reused its id)
        // would otherwise replace this node's state and tokens with its own. Checked at start too
        // (the install has replaced the snapshot directory by then; the marker is outside it).
        String message = "snapshot " + file.getFileName() + (installed ? ", sent by the leader," : "") + " is in fencing epoch "
            + image.fencingEpoch() + ", and this node's state is in epoch " + mine + " (" + (recorded.isPresent()
            ? marker.file() : "its state") + "). This node and the leader come from different restores (another backup, "
            + "or a cluster id reused while an old member was still alive): it stops rather than take that state "
            + "(ops/runbooks/quorum-lost.md)";
        LOG.error(message);
        onUnappliable.accept(new IllegalStateException(message));
        throw new IOException(message);
      }
      state.restore(image);
      if (marker != null && image.lastAppliedIndex() > 0) {
        marker.recordIfAbsent(image.fencingEpoch());
      }
      lastApplyNanos = System.nanoTime();
      lastApplyTerm = state.lastAppliedTerm();
      setLastAppliedTermIndex(TermIndex.valueOf(state.lastAppliedTerm(), state.lastAppliedIndex()));
      writeRules = state.clusterRules();
      fencingEpoch = state.fencingEpoch();
    }
    LOG.info("Loaded snapshot {} (index {}, {} sessions)", file.getFileName(), state.lastAppliedIndex(),
        state.sessionCount());
  }

  @Override
  public long takeSnapshot() {
    // Only the copy happens here, on Ratis's apply thread; SnapshotWriter encodes and writes it.
    return snapshots.take(() -> {
      synchronized (state) {
        return new SnapshotWriter.Capture(getLastAppliedTermIndex(), state.image());
      }
    });
  }

  @Override
  public void close() throws IOException {
    snapshots.close();
    super.close();
  }

  // ---- time across a failover --------------------------------------------------------------

  /** When this node last applied an entry or loaded a state (nanoTime; 0: not yet). Node-local. */
  private volatile long lastApplyNanos;
  /** The term of the last entry applied (or of the snapshot loaded), or -1. */
  private volatile long lastApplyTerm = -1;

  /**
   * When this node last applied an entry (or loaded a snapshot), on its monotonic clock, or 0. Every
   * stamp the log's clock has counted was made before then: a new leader may take the time since as
   * already gone from every session's TTL.
   */
  public long lastAppliedAtNanos() {
    return lastApplyNanos;
  }

  /** What this leader's next entry carries across the failover (see LogEntry#carriedMs), or 0. */
  long carriedMs() {
    long from = lastApplyNanos;
    if (from == 0 || writeRules < 4) {
      return 0;
    }
    // Asked here, not remembered from notifyLeaderReady: Ratis admits writes as soon as its startup
    // entry is applied, a moment before it calls notifyLeaderReady, and such a first entry would
    // carry nothing (the whole election lost from every session's TTL).
    long term = leadingTerm();
    if (term <= lastApplyTerm) {
      return 0; // a follower, or this leader's own term is already in the applied log
    }
    // Read before the stamp is taken: the carry must not reach past the stamp it goes with.
    return Math.max(0, java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - from));
  }

  // ---- the write path ----------------------------------------------------------------------

  /** The state's fencing epoch, read outside apply: it changes only when a snapshot is loaded. */
  private volatile long fencingEpoch;

  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    // Runs on the leader only: the one place a clock may enter the log.
    byte[] content = request.getMessage().getContent().toByteArray();
    byte[] stamped;
    try {
      long carried = carriedMs();
      if (request.getClientId().equals(ownClientId)) {
        stamped = CommandCodec.stamp(content, stamps.nowMs(), writeRules, supportedRules, fencingEpoch, carried);
      } else {
        Command c = CommandCodec.foreign(content, supportedRules);
        LeaderLimits limits = leaderLimits;
        if (limits != null) {
          // The follower checked it against its own config, which may differ from this leader's.
          String refused = limits.refusal(c, content.length, this);
          if (refused != null) {
            throw new IOException(refused);
          }
          c = limits.relimit(c);
        }
        stamped = CommandCodec.stampForeign(c, stamps.nowMs(), writeRules, supportedRules, fencingEpoch, carried);
      }
    } catch (IOException refused) {
      // Not logged, and answered as a StateMachineException: thrown from here, it reached the sender
      // as a transport failure, which it took for an unreachable leader and retried.
      return TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request).build()
          .setException(refused);
    }
    return TransactionContext.newBuilder()
        .setStateMachine(this)
        .setClientRequest(request)
        .setLogData(ByteString.copyFrom(stamped))
        .build();
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    byte[] data = entry.getStateMachineLogEntry().getLogData().toByteArray();
    CommandCodec.Decoded d;
    try {
      d = CommandCodec.decode(data);
    } catch (InvalidProtocolBufferException e) {
      throw unappliable(entry, "this build cannot decode it (" + e.getMessage() + ")");
    }
    if (d.applyRules() > supportedRules) {
      throw unappliable(entry, "it was written under apply rules " + d.applyRules() + " and this build knows rules up to "
          + supportedRules);
    }
    int raise = CommandCodec.raisedRules(d.command());
    if (raise > supportedRules) {
      throw unappliable(entry, "it raises the cluster's apply rules to " + raise + " and this build knows rules up to "
          + supportedRules);
    }
    Result result;
    List<StateEvent> events = new ArrayList<>();
    synchronized (state) {
      if (d.fencingEpoch() >= 0 && d.fencingEpoch() != state.fencingEpoch()) {
        // Nodes seeded from different restores (or with different --fencing-epoch) agree on the log
        // and nothing else: applied here, tokens would go back in time after a failover.
        throw unappliable(entry, "its leader's state is in fencing epoch " + d.fencingEpoch() + " and this node's in epoch "
            + state.fencingEpoch(), "This node and the leader come from different restores (another backup or "
            + "another --fencing-epoch, or one of them a member of the cluster the restore replaced). The nodes of one "
            + "cluster must share one epoch: this one, or the leader, may be the odd one. Find the nodes not in the "
            + "intended epoch (this line, or holdfast_fencing_epoch) and seed them again from the same backup and epoch "
            + "as the others, into empty data dirs (ops/runbooks/quorum-lost.md)");
      }
      result = state.apply(new LogEntry(entry.getIndex(), entry.getTerm(), d.leaderTimeMs(), d.command(),
          d.applyRules(), d.carriedMs()), events::add);
      lastApplyNanos = System.nanoTime();
      EpochMarker marker = epochMarker;
      if (marker != null && !marker.recorded()) {
        marker.recordIfAbsent(state.fencingEpoch());
      }
      lastApplyTerm = entry.getTerm();
      updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
      if (raise > 0) {
        writeRules = state.clusterRules();
        LOG.info("From log entry {} on, new entries are written under apply rules {}", entry.getIndex(), writeRules);
      }
      if (!events.isEmpty()) {
        for (StateObserver o : observers) {
          try {
            o.onApplied(events);
          } catch (RuntimeException e) {
            LOG.error("State observer failed at index {}", entry.getIndex(), e);
          }
        }
      }
    }
    if (!appliedWaits.isEmpty()) {
      // Outside the state's lock; whoever waits continues on an executor of its own (RaftNode).
      completeAppliedWaits(entry.getIndex());
    }
    return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(ResultCodec.encode(result))));
  }

  // Callers waiting for this node to apply up to an index (a follower's forwarded commands).
  private final java.util.concurrent.ConcurrentSkipListMap<Long, List<CompletableFuture<Void>>> appliedWaits =
      new java.util.concurrent.ConcurrentSkipListMap<>();

  /** Completes once this node has applied the entry at {@code index} (at once if it has). */
  public CompletableFuture<Void> appliedThrough(long index) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    appliedWaits.computeIfAbsent(index, i -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(done);
    // Checked after joining: an apply that passed the index before the wait joined its list
    // missed it, and this sees that apply. (The list is dropped by the next apply.)
    if (getLastAppliedTermIndex().getIndex() >= index) {
      done.complete(null);
    }
    return done;
  }

  private void completeAppliedWaits(long applied) {
    var due = appliedWaits.headMap(applied, true);
    while (!due.isEmpty()) {
      var first = due.pollFirstEntry();
      if (first != null) {
        first.getValue().forEach(f -> f.complete(null));
      }
    }
  }

  /**
   * An entry this build cannot apply as the others do. Only a newer leader writes one (the leader
   * checks what it logs, see CommandCodec.stamp), so this node is an old binary in a cluster being
   * upgraded. Skipping it would let this replica's locks and tokens drift from the others', and a
   * later leader here would act on that state. Thrown, not returned: Ratis then stops this node's
   * Raft division (StateMachineUpdater), the server exits, and a restart meets the same entry
   * until the binary is upgraded.
   */
  private IllegalStateException unappliable(LogEntryProto entry, String why) {
    return unappliable(entry, why, "A newer Holdfast wrote it. Upgrade this node's binary and start it again "
        + "(ops/runbooks/rolling-restart.md)");
  }

  private IllegalStateException unappliable(LogEntryProto entry, String why, String remedy) {
    String message = "log entry " + entry.getIndex() + " (term " + entry.getTerm() + ") cannot be applied here: " + why
        + ". This node stops rather than let its state drift from the other members'. " + remedy;
    LOG.error(message);
    IllegalStateException e = new IllegalStateException(message);
    // Told directly, not left to the division's closing: during start-up replay that can come
    // before anything watches the division.
    onUnappliable.accept(e);
    return e;
  }

  private volatile java.util.function.Consumer<Throwable> onUnappliable = cause -> { };

  /** Called (on the apply thread) when an entry cannot be applied here; the node must stop. */
  public void onUnappliable(java.util.function.Consumer<Throwable> handler) {
    this.onUnappliable = handler;
  }

  private volatile Function<byte[], CompletableFuture<byte[]>> peerQueries;

  /**
   * Who answers what another node asks of this one as leader (a read-only request with content;
   * see PeerQuery in peer.proto). Such answers touch only leader-local state, never the log.
   */
  public void answerPeerQueriesWith(Function<byte[], CompletableFuture<byte[]>> handler) {
    this.peerQueries = handler;
  }

  /**
   * An empty request is the ReadIndex barrier of a linearizable read (the caller then reads local
   * state); one with content is a peer's query for the leader.
   */
  @Override
  public CompletableFuture<Message> query(Message request) {
    if (request.getContent().isEmpty()) {
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    byte[] content = request.getContent().toByteArray();
    Function<byte[], CompletableFuture<byte[]>> handler = peerQueries;
    if (handler == null) {
      return CompletableFuture.failedFuture(new IOException("this node does not answer peer queries yet"));
    }
    return handler.apply(content)
        .thenApply(answer -> Message.valueOf(ByteString.copyFrom(answer)));
  }

  @Override
  public void notifyLogFailed(Throwable cause, LogEntryProto failedEntry) {
    onLogFailed.accept(cause);
  }

  // ---- leadership --------------------------------------------------------------------------

  @Override
  public void notifyLeaderReady() {
    long lossesBefore = losses.get();
    leader = true;
    synchronized (state) {
      for (StateObserver o : observers) {
        o.onLeaderReady(state);
      }
    }
    if (losses.get() != lossesBefore || !stillLeads()) {
      // The lead was lost (on another Ratis thread) while the observers were being readied, maybe
      // before they were ready to hear it: tell them again, or the session clock would run on a
      // follower. onLeadershipLost is idempotent.
      leader = false;
      observers.forEach(StateObserver::onLeadershipLost);
    }
  }

  /** The term this division leads in, or -1 when it does not lead (or there is no division to ask). */
  private long leadingTerm() {
    try {
      RaftServer server = getServer().getNow(null);
      if (server == null) {
        return -1;
      }
      DivisionInfo info = server.getDivision(getGroupId()).getInfo();
      return info.isLeader() ? info.getCurrentTerm() : -1;
    } catch (IOException | RuntimeException e) {
      return -1; // carry nothing
    }
  }

  /** Whether this division leads now: a step-down just before notifyLeaderReady told nobody. */
  private boolean stillLeads() {
    try {
      return getServer().getNow(null) == null || getServer().join().getDivision(getGroupId()).getInfo().isLeader();
    } catch (IOException | RuntimeException e) {
      return true; // no division to ask (not initialised): only the loss count decides
    }
  }

  @Override
  public void notifyNotLeader(Collection<TransactionContext> pendingEntries) {
    leadershipLost();
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId self, RaftPeerId newLeaderId) {
    LOG.info("Leader changed: {} leads (seen by {})", newLeaderId, self.getPeerId());
    for (StateObserver o : observers) {
      o.onLeaderChanged(newLeaderId == null ? null : newLeaderId.toString());
    }
    if (!self.getPeerId().equals(newLeaderId)) {
      leadershipLost();
    }
  }

  private void leadershipLost() {
    // The next term's stamps start from the wall clock again: the log's clock never compares stamps
    // across terms, and a clock corrected meanwhile must not hold the stamps back in that term.
    stamps.reset();
    losses.incrementAndGet();
    if (leader) {
      leader = false;
      observers.forEach(StateObserver::onLeadershipLost);
    }
  }
}
