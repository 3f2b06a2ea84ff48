package io.holdfast.server.ops;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.holdfast.server.raft.HoldOutcome;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.statemachine.StateObserver;
import java.util.List;

/**
 * This node's metrics, in the one {@link MetricRegistry} the node is given. Names follow etcd's
 * conventions with a {@code holdfast_} prefix and the unit in the name; counters get their
 * {@code _total} suffix from the Prometheus exporter. Lock and session counters count applied
 * events, so every node reports the same numbers for the same log.
 */
public final class ServerMetrics implements StateObserver {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("io.holdfast.server.events");
  private final MetricRegistry registry;
  private final Counter leaderChanges;
  private final Counter sessionsOpened;
  private final Counter sessionsClosed;
  private final Counter sessionsExpiredTtl;
  private final Counter sessionsExpiredAdmin;
  private final Counter sessionsTakenOver;
  private final Counter grants;
  private final Counter releases;
  private final Counter revocations;
  private final Counter keyWrites;
  private final Counter keepalives;
  private final Counter staleTokenRefusals;
  private final Counter fencedWriteRefusals;
  private final Timer keepaliveLatency;
  private final Timer acquireLatency;
  private final Timer acquireWaitLatency;
  private final Counter failoverGrace;

  public ServerMetrics(MetricRegistry registry) {
    this.registry = registry;
    leaderChanges = registry.counter("holdfast_server_leader_changes_seen");
    sessionsOpened = registry.counter("holdfast_sessions_opened");
    sessionsClosed = registry.counter("holdfast_sessions_closed");
    sessionsExpiredTtl = registry.counter("holdfast_sessions_expired");
    sessionsExpiredAdmin = registry.counter("holdfast_sessions_admin_expired");
    sessionsTakenOver = registry.counter("holdfast_sessions_taken_over");
    grants = registry.counter("holdfast_lock_grants");
    releases = registry.counter("holdfast_lock_releases");
    revocations = registry.counter("holdfast_lock_revocations");
    keyWrites = registry.counter("holdfast_kv_writes");
    keepalives = registry.counter("holdfast_keepalives");
    staleTokenRefusals = registry.counter("holdfast_lock_stale_token_refusals");
    fencedWriteRefusals = registry.counter("holdfast_kv_fenced_write_refusals");
    keepaliveLatency = registry.timer("holdfast_keepalive_duration_seconds");
    acquireLatency = registry.timer("holdfast_lock_acquire_duration_seconds");
    acquireWaitLatency = registry.timer("holdfast_lock_acquire_wait_duration_seconds");
    failoverGrace = registry.counter("holdfast_sessions_failover_grace");
  }

  public MetricRegistry registry() {
    return registry;
  }

  /** Gauges read from the Raft node and the state when scraped. */
  public void bind(RaftNode raft) {
    raft.timeCommitsWith(registry.timer("holdfast_raft_commit_duration_seconds"));
    raft.countBatchesWith(registry.histogram("holdfast_raft_batch_commands"));
    // Whether the linger pays on this workload: mostly filled holds, or misses and their wait.
    java.util.Map<HoldOutcome, com.codahale.metrics.Counter> holds = new java.util.EnumMap<>(HoldOutcome.class);
    for (HoldOutcome o : HoldOutcome.values()) {
      holds.put(o, registry.counter("holdfast_raft_batch_holds_" + o.name().toLowerCase(java.util.Locale.ROOT)));
    }
    com.codahale.metrics.Counter heldMicros = registry.counter("holdfast_raft_batch_held_microseconds");
    raft.observeHoldsWith((outcome, nanos) -> {
      holds.get(outcome).inc();
      heldMicros.inc(nanos / 1_000);
    });
    gauge("holdfast_server_has_leader", () -> raft.leaderIdOrNull() == null ? 0 : 1);
    gauge("holdfast_server_is_leader", () -> raft.isLeader() ? 1 : 0);
    gauge("holdfast_raft_term", raft::term);
    gauge("holdfast_raft_commit_index", raft::commitIndex);
    gauge("holdfast_raft_applied_index", raft::appliedIndex);
    gauge("holdfast_raft_apply_lag", () -> Math.max(0, raft.commitIndex() - raft.appliedIndex()));
    gauge("holdfast_raft_snapshot_size_bytes", () -> raft.stateMachine().lastSnapshotBytes());
    gauge("holdfast_raft_members", () -> {
      try {
        return raft.members().size();
      } catch (RuntimeException e) {
        return 0; // no division (starting or closing)
      }
    });
    gauge("holdfast_fencing_epoch", () -> raft.stateMachine().read(HoldfastState::fencingEpoch));
    gauge("holdfast_sessions_active", () -> raft.stateMachine().read(HoldfastState::sessionCount));
    gauge("holdfast_kv_bytes", () -> raft.stateMachine().read(HoldfastState::kvBytes));
    gauge("holdfast_locks_held", () -> raft.stateMachine().read(s -> count(s, true)));
    gauge("holdfast_locks_orphaned", () -> raft.stateMachine().read(s -> count(s, false)));
    gauge("holdfast_lock_waiters", () -> raft.stateMachine().read(s -> {
      long n = 0;
      for (LockRecord l : s.locks("")) {
        for (var w : l.waiters()) {
          n++;
        }
      }
      return n;
    }));
  }

  /**
   * Free and total bytes of the file system under the Raft log: a node whose log cannot be written
   * stops (see HoldfastServer), so space running out is worth an alert before it does.
   */
  public void watchDisk(java.nio.file.Path raftLogDir) {
    gauge("holdfast_raft_log_dir_free_bytes", () -> space(raftLogDir, true));
    gauge("holdfast_raft_log_dir_capacity_bytes", () -> space(raftLogDir, false));
  }

  private static long space(java.nio.file.Path dir, boolean free) {
    try {
      java.nio.file.FileStore store = java.nio.file.Files.getFileStore(dir);
      return free ? store.getUsableSpace() : store.getTotalSpace();
    } catch (java.io.IOException e) {
      return -1; // not created yet, or gone
    }
  }

  private static long count(HoldfastState s, boolean held) {
    long n = 0;
    for (LockRecord l : s.locks("")) {
      if (held ? l.isHeld() : l.isOrphaned()) {
        n++;
      }
    }
    return n;
  }

  private void gauge(String name, Gauge<Number> g) {
    registry.gauge(name, () -> g);
  }

  @Override
  public void onLeaderChanged(String leaderId) {
    leaderChanges.inc();
  }

  public Timer.Context keepalive() {
    keepalives.inc();
    return keepaliveLatency.time();
  }

  /** An acquire granted: at once, or after waiting in the queue. */
  public void acquired(long startNanos, boolean waited) {
    (waited ? acquireWaitLatency : acquireLatency).update(System.nanoTime() - startNanos,
        java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** A new leader gave {@code sessions} sessions the time the log says they have left (see LeaderSessionClock). */
  public void failoverGrace(int sessions) {
    failoverGrace.inc(sessions);
  }

  /** A lock call (release, extend) made with a token that is no longer the lock's current one. */
  public void staleTokenRefused() {
    staleTokenRefusals.inc();
  }

  /** A fenced write or fence check refused because its token is not the lock's current one. */
  public void fencedWriteRefused() {
    fencedWriteRefusals.inc();
  }

  @Override
  public void onApplied(List<StateEvent> events) {
    for (StateEvent e : events) {
      if (e instanceof StateEvent.SessionOpened) {
        sessionsOpened.inc();
      } else if (e instanceof StateEvent.SessionEnded x) {
        if (x.reason() != StateEvent.EndReason.CLOSED) {
          LOG.info("session={} ended reason={} index={}", x.sessionId(), x.reason(), x.index());
        }
        switch (x.reason()) {
          case EXPIRED -> sessionsExpiredTtl.inc();
          case ADMIN_EXPIRED -> sessionsExpiredAdmin.inc();
          case TAKEN_OVER -> sessionsTakenOver.inc();
          default -> sessionsClosed.inc();
        }
      } else if (e instanceof StateEvent.LockGranted g) {
        LOG.debug("lock={} granted session={} token={}", g.lockName(), g.sessionId(), g.token());
        grants.inc();
      } else if (e instanceof StateEvent.LockReleased r) {
        if (r.reason() != StateEvent.EndReason.CLOSED) {
          // Locks taken from their holder: name the lock, the session and the token, once per node.
          LOG.info("lock={} freed session={} token={} reason={} index={}", r.lockName(), r.sessionId(), r.token(),
              r.reason(), r.index());
        } else {
          LOG.debug("lock={} released session={} token={}", r.lockName(), r.sessionId(), r.token());
        }
        releases.inc();
        if (r.reason() == StateEvent.EndReason.REVOKED) {
          revocations.inc();
        }
      } else if (e instanceof StateEvent.KeyChanged) {
        keyWrites.inc();
      }
    }
  }
}
