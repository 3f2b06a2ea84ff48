package io.holdfast.server.session;

import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.SessionRecord;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.statemachine.StateObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's view of when each session expires, on this node's monotonic clock, and the one
 * place that proposes {@link Command.ExpireSession}.
 *
 * <p>Deadlines live in leader memory only; keepalives are not log entries. A renewal counts once
 * its checkpoint is applied: the deadline becomes (apply time + TTL), which is never earlier than
 * the client's own (send time of the keepalive + TTL). An expiry names the renewal it was based on,
 * so a renewal that races it wins in apply.
 *
 * <p>A node that becomes leader cannot know when renewals after the last checkpoint arrived, but
 * no such renewal was acknowledged (acks wait for the checkpoint). So it gives every session what
 * the log says is left, {@code TTL - (log clock now - log clock at renewal)}, less the time since
 * it applied its last entry (every stamp the log's clock counted was made before that), plus the
 * configured grace (none by default). The log clock never runs faster than real time (see
 * LogClock), so a failover never shortens a session: its deadline stays at or after the client's
 * own (keepalive send + TTL). Before 2026-12-07 the whole failover (the old leader's last tick to
 * the new one ready) and a 1 s grace were added on top, and a dead holder kept its locks that much
 * longer.
 */
public final class LeaderSessionClock implements StateObserver, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderSessionClock.class);

  private static final class Deadline {
    final long sessionId;
    final long ttlMs;
    volatile long atNanos;
    volatile long basisIndex;
    volatile boolean expiring;

    Deadline(long sessionId, long ttlMs, long atNanos, long basisIndex) {
      this.sessionId = sessionId;
      this.ttlMs = ttlMs;
      this.atNanos = atNanos;
      this.basisIndex = basisIndex;
    }
  }

  /** What the clock needs of its node. */
  public interface Node {
    /** Whether this node leads, with its first entry of the term applied. */
    boolean leads();

    CompletableFuture<Result> submit(Command command);

    /** Runs {@code f} against the applied state, with apply excluded. */
    <T> T read(java.util.function.Function<HoldfastState, T> f);

    /** When this node last applied an entry or loaded a state (nanoTime), or 0 if not known. */
    default long lastAppliedAtNanos() {
      return 0;
    }
  }

  private final Node raft;
  private final long failoverGraceMs;
  /** Replaced whole (not cleared) when a leadership begins or ends: see onLeaderReady. */
  private volatile Map<Long, Deadline> deadlines = new ConcurrentHashMap<>();
  private final ScheduledExecutorService ticker;
  private volatile boolean active;
  private volatile java.util.function.IntConsumer graceReport = n -> { };

  /** Told how many sessions each new leadership gave a failover grace (for metrics). */
  public void reportGraceTo(java.util.function.IntConsumer report) {
    this.graceReport = report;
  }

  public LeaderSessionClock(RaftNode raft, long failoverGraceMs, long scanIntervalMs) {
    this(new Node() {
      @Override
      public boolean leads() {
        return raft.isLeader();
      }

      @Override
      public CompletableFuture<Result> submit(Command command) {
        return raft.submit(command);
      }

      @Override
      public <T> T read(java.util.function.Function<HoldfastState, T> f) {
        return raft.stateMachine().read(f);
      }

      @Override
      public long lastAppliedAtNanos() {
        return raft.stateMachine().lastAppliedAtNanos();
      }
    }, failoverGraceMs, scanIntervalMs);
  }

  public LeaderSessionClock(Node raft, long failoverGraceMs, long scanIntervalMs) {
    this.raft = raft;
    this.failoverGraceMs = failoverGraceMs;
    this.ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "holdfast-session-clock");
      t.setDaemon(true);
      return t;
    });
    ticker.scheduleWithFixedDelay(this::scan, scanIntervalMs, scanIntervalMs, TimeUnit.MILLISECONDS);
  }

  private long lastScanWarningNanos;

  /**
   * One scan, never ending the schedule: a throw would cancel it for good (scheduleWithFixedDelay),
   * and no session would expire again while this node leads.
   */
  void scan() {
    try {
      expireOverdue();
    } catch (RuntimeException | AssertionError e) {
      long now = System.nanoTime();
      if (lastScanWarningNanos == 0 || now - lastScanWarningNanos > TimeUnit.SECONDS.toNanos(10)) {
        lastScanWarningNanos = now;
        LOG.warn("Session expiry scan failed; trying again next scan", e);
      }
    }
  }

  /**
   * Called with the state lock held, as apply is. The beginning and the end of a leadership exclude
   * each other, and each installs a map of its own: a loss handled on another thread, paused
   * half-way, once cleared the map the next leadership had just filled, and that leader then never
   * expired a session.
   */
  @Override
  public synchronized void onLeaderReady(HoldfastState state) {
    long now = System.nanoTime();
    Map<Long, Deadline> fresh = new ConcurrentHashMap<>();
    long logNow = state.clock().elapsedMs();
    long applied = raft.lastAppliedAtNanos();
    // Real time since the log clock's last counted stamp is at least this (0 if not known).
    long goneMs = applied == 0 ? 0 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(now - applied));
    for (SessionRecord s : state.sessions()) {
      long remaining = Math.max(0, s.ttlMs() - Math.max(0, logNow - s.renewedAtClockMs()) - goneMs);
      long at = now + TimeUnit.MILLISECONDS.toNanos(remaining + failoverGraceMs);
      fresh.put(s.id(), new Deadline(s.id(), s.ttlMs(), at, s.renewedIndex()));
    }
    deadlines = fresh;
    active = true;
    graceReport.accept(fresh.size());
    LOG.info("Leader ready: tracking {} sessions, each given what the log says is left, less {} ms since this node "
        + "last applied an entry, plus {} ms grace", fresh.size(), goneMs, failoverGraceMs);
  }

  @Override
  public synchronized void onLeadershipLost() {
    if (active) {
      active = false;
      deadlines = new ConcurrentHashMap<>();
      LOG.info("Leadership lost: session clock stopped");
    }
  }

  @Override
  public void onStateReloaded() {
    onLeadershipLost();
  }

  @Override
  public void onApplied(List<StateEvent> events) {
    if (!active) {
      return;
    }
    long now = System.nanoTime();
    for (StateEvent e : events) {
      if (e instanceof StateEvent.SessionOpened o) {
        deadlines.put(o.sessionId(), new Deadline(o.sessionId(), o.ttlMs(), now + TimeUnit.MILLISECONDS.toNanos(o.ttlMs()),
            o.index()));
      } else if (e instanceof StateEvent.SessionRenewed r) {
        Deadline d = deadlines.get(r.sessionId());
        long at = now + TimeUnit.MILLISECONDS.toNanos(r.ttlMs());
        if (d == null) {
          deadlines.put(r.sessionId(), new Deadline(r.sessionId(), r.ttlMs(), at, r.index()));
        } else {
          // Extend first, then move the basis: the scanner must never see the new basis with the
          // old deadline (it would expire a session that was just renewed).
          d.atNanos = Math.max(d.atNanos, at);
          d.basisIndex = r.index();
        }
      } else if (e instanceof StateEvent.SessionEnded x) {
        deadlines.remove(x.sessionId());
      }
    }
  }

  /** Remaining time of a tracked session, for status displays; -1 when unknown. */
  public long remainingMs(long sessionId) {
    Deadline d = deadlines.get(sessionId);
    return d == null ? -1 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(d.atNanos - System.nanoTime()));
  }

  public boolean isActive() {
    return active;
  }

  private void expireOverdue() {
    if (!active) {
      if (raft.leads()) {
        // Leading, with the clock stopped: a loss of the previous leadership was told after this
        // one began (two Ratis threads). Nobody's session would ever expire; start it again.
        raft.read(state -> {
          if (!active && raft.leads()) {
            LOG.warn("This node leads but its session clock was stopped; restarting it");
            onLeaderReady(state);
          }
          return null;
        });
      }
      return;
    }
    if (!raft.leads()) {
      // The mirror of the above: a loss the state machine did not pass on (it had not heard of
      // the restart). A follower's clock proposes nothing that could commit, but it must not run.
      synchronized (this) {
        if (active && !raft.leads()) {
          onLeadershipLost();
        }
      }
      return;
    }
    Map<Long, Deadline> deadlines = this.deadlines;
    long now = System.nanoTime();
    // values(), not entrySet(): the entry iterator allocates an entry per session on every scan (JFR:
    // 7 % of what the leader allocated at 100,000 sessions, not removed by escape analysis).
    for (Deadline d : deadlines.values()) {
      // Read the basis before the deadline (apply writes them in the opposite order): seeing a
      // new basis guarantees seeing its new deadline, so an expiry never names a fresh renewal.
      long basis = d.basisIndex;
      if (d.expiring || d.atNanos - now > 0) {
        continue;
      }
      d.expiring = true;
      long id = d.sessionId;
      CompletableFuture<Result> proposed;
      try {
        proposed = raft.submit(new Command.ExpireSession(id, basis));
      } catch (RuntimeException e) {
        // A throw would cancel this scan for good (scheduleWithFixedDelay): try again next scan.
        d.expiring = false;
        LOG.debug("Expiry of session {} not proposed: {}", id, e.toString());
        continue;
      }
      proposed.whenComplete((r, err) -> {
        d.expiring = false;
        if (err != null) {
          LOG.debug("Expiry of session {} not committed: {}", id, err.toString());
        } else if (r instanceof Result.SessionExpired x && x.expired()) {
          deadlines.remove(id, d);
          LOG.debug("Proposed expiry of session {} took effect (TTL {} ms); released locks {}", id, d.ttlMs,
              x.releasedLocks());
        }
      });
    }
  }

  @Override
  public void close() {
    ticker.shutdownNow();
  }
}
