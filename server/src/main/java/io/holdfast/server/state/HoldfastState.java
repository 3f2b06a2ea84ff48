package io.holdfast.server.state;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.CancelWait;
import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.Command.CloseSession;
import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.state.Result.Failure;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Holdfast's replicated state: sessions, locks with FIFO waiters, and the log's clock.
 *
 * <p>Deterministic by construction: {@link #apply} reads nothing but the entry and the state (no
 * clock, no randomness, no node-local configuration), iterates only sorted or insertion-ordered
 * collections, and fails a command by returning a {@link Failure} before changing anything. Two
 * instances fed the same entries hold the same state and produce byte-identical snapshots.
 *
 * <p>Not thread-safe; the state machine serialises access.
 */
public final class HoldfastState {
  /** How long past its wait a forgotten waiter stays queued before apply drops it. */
  static final long WAITER_BACKSTOP_SLACK_MS = 5_000;
  static final int RECENT_OPENS = 10_000;

  private final TreeMap<Long, SessionRecord> sessions = new TreeMap<>();
  private final TreeMap<String, LockRecord> locks = new TreeMap<>();
  private final LinkedHashMap<String, StateImage.OpenImage> recentOpens = new LinkedHashMap<>();
  /** Waiters with a backstop deadline, by (deadline, lock, session). */
  private final TreeSet<WaitDeadline> waitDeadlines = new TreeSet<>();
  private final LogClock clock = new LogClock();
  private long lastAppliedIndex;
  private long lastAppliedTerm;

  private record WaitDeadline(long deadlineClockMs, String lockName, long sessionId, String requestId)
      implements Comparable<WaitDeadline> {
    private static final Comparator<WaitDeadline> ORDER = Comparator
        .comparingLong(WaitDeadline::deadlineClockMs)
        .thenComparing(WaitDeadline::lockName)
        .thenComparingLong(WaitDeadline::sessionId)
        .thenComparing(WaitDeadline::requestId);

    @Override
    public int compareTo(WaitDeadline o) {
      return ORDER.compare(this, o);
    }
  }

  /**
   * Applies one entry. Never throws for any input: invalid commands come back as a {@link Failure}
   * and change nothing. Side effects for local observers go to {@code events}.
   */
  public Result apply(LogEntry entry, Consumer<StateEvent> events) {
    if (entry.index() <= lastAppliedIndex) {
      throw new IllegalStateException("entry " + entry.index() + " applied twice (last applied "
          + lastAppliedIndex + ")");
    }
    clock.advance(entry.term(), entry.leaderTimeMs());
    lastAppliedIndex = entry.index();
    lastAppliedTerm = entry.term();
    dropOverdueWaiters(entry.index(), events);
    Command c = entry.command();
    if (c instanceof OpenSession o) {
      return openSession(entry, o, events);
    } else if (c instanceof CloseSession cl) {
      return closeSession(entry, cl, events);
    } else if (c instanceof ExpireSession ex) {
      return expireSession(entry, ex, events);
    } else if (c instanceof Acquire a) {
      return acquire(entry, a, events);
    } else if (c instanceof Release r) {
      return release(entry, r, events);
    } else if (c instanceof CancelWait cw) {
      return cancelWait(entry, cw, events);
    } else if (c instanceof Checkpoint cp) {
      return checkpoint(entry, cp, events);
    }
    return new Failure(ErrorCode.INVALID_ARGUMENT, "unknown command");
  }

  // ---- sessions ----------------------------------------------------------------------------

  private Result openSession(LogEntry e, OpenSession o, Consumer<StateEvent> events) {
    String bad = Names.checkRequestId(o.requestId());
    if (bad != null) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, bad);
    }
    if (o.ttlMs() <= 0) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, "ttl_ms must be positive, got " + o.ttlMs());
    }
    StateImage.OpenImage seen = recentOpens.get(o.requestId());
    if (seen != null) {
      if (!seen.fingerprint().equals(o.fingerprint())) {
        return reused(o.requestId());
      }
      return new Result.SessionOpened(seen.sessionId(), seen.ttlMs());
    }
    long id = e.index();
    SessionRecord s = new SessionRecord(id, o.ttlMs(), o.client(), e.leaderTimeMs());
    s.renew(e.index(), e.leaderTimeMs(), clock.elapsedMs());
    sessions.put(id, s);
    recentOpens.put(o.requestId(), new StateImage.OpenImage(o.requestId(), o.fingerprint(), id, o.ttlMs()));
    while (recentOpens.size() > RECENT_OPENS) {
      recentOpens.remove(recentOpens.keySet().iterator().next());
    }
    events.accept(new StateEvent.SessionOpened(e.index(), id, o.ttlMs()));
    return new Result.SessionOpened(id, o.ttlMs());
  }

  private Result closeSession(LogEntry e, CloseSession c, Consumer<StateEvent> events) {
    SessionRecord s = sessions.get(c.sessionId());
    if (s == null) {
      return sessionNotFound(c.sessionId());
    }
    List<String> released = endSession(e, s, EndReason.CLOSED, events);
    return new Result.SessionClosed(released);
  }

  private Result expireSession(LogEntry e, ExpireSession x, Consumer<StateEvent> events) {
    SessionRecord s = sessions.get(x.sessionId());
    // A keepalive that raced the expiry wins: the leader decided on an older renewal.
    if (s == null || s.renewedIndex() != x.expectedRenewedIndex()) {
      return new Result.SessionExpired(false, List.of());
    }
    List<String> released = endSession(e, s, EndReason.EXPIRED, events);
    return new Result.SessionExpired(true, released);
  }

  /** Removes a session, releasing its locks to their next waiters in this same entry. */
  private List<String> endSession(LogEntry e, SessionRecord s, EndReason reason,
      Consumer<StateEvent> events) {
    List<String> released = new ArrayList<>(s.heldLocks);
    for (String name : new ArrayList<>(s.waitingOn)) {
      LockRecord lock = locks.get(name);
      Waiter w = lock.waiterOf(s.id());
      removeWaiter(lock, w);
      events.accept(new StateEvent.WaitEnded(e.index(), name, s.id(), w.requestId(), reason));
    }
    for (String name : released) {
      LockRecord lock = locks.get(name);
      events.accept(new StateEvent.LockReleased(e.index(), name, s.id(), lock.token, reason));
      handOver(e, lock, events);
    }
    sessions.remove(s.id());
    events.accept(new StateEvent.SessionEnded(e.index(), s.id(), reason));
    return released;
  }

  private Result checkpoint(LogEntry e, Checkpoint cp, Consumer<StateEvent> events) {
    List<Long> renewed = new ArrayList<>();
    for (long id : cp.renewedSessionIds()) {
      SessionRecord s = sessions.get(id);
      if (s != null) {
        s.renew(e.index(), e.leaderTimeMs(), clock.elapsedMs());
        renewed.add(id);
        events.accept(new StateEvent.SessionRenewed(e.index(), id, s.ttlMs()));
      }
    }
    return new Result.CheckpointApplied(renewed);
  }

  // ---- locks -------------------------------------------------------------------------------

  private Result acquire(LogEntry e, Acquire a, Consumer<StateEvent> events) {
    Failure bad = checkLockCall(a.requestId(), a.lockName());
    if (bad != null) {
      return bad;
    }
    if (a.waitMs() < -1) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, "wait_ms must be -1, 0 or positive, got " + a.waitMs());
    }
    SessionRecord s = sessions.get(a.sessionId());
    if (s == null) {
      return sessionNotFound(a.sessionId());
    }
    RequestCache.Entry cached = s.requests.get(a.requestId());
    if (cached != null && !cached.fingerprint().equals(a.fingerprint())) {
      return reused(a.requestId());
    }
    LockRecord lock = locks.get(a.lockName());
    // The current state answers a retry first: the grant or the queue place may be newer than the
    // cached result. A session that already holds the lock gets its token back (as etcd does).
    if (lock != null && lock.holderSessionId == s.id()) {
      return remember(s, a, new Result.Granted(lock.token));
    }
    if (lock != null && lock.waiterOf(s.id()) != null) {
      return remember(s, a, new Result.Queued(lock.positionOf(s.id())));
    }
    if (cached != null) {
      // Neither holding nor queued any more: the wait ended, or the grant was released since.
      if (cached.result() instanceof Result.Granted g) {
        return new Failure(ErrorCode.NOT_HOLDER, "acquire '" + Names.printable(a.requestId())
            + "' was granted token " + g.token() + " and the lock has been released since",
            lock == null ? 0 : lock.token);
      }
      if (cached.result() instanceof Result.Queued) {
        return new Result.NotGranted(lock == null ? 0 : lock.holderSessionId);
      }
      return cached.result();
    }
    if (lock == null) {
      lock = new LockRecord(a.lockName());
      locks.put(a.lockName(), lock);
    }
    if (!lock.isHeld()) {
      grant(e, lock, s, a.requestId(), events);
      return remember(s, a, new Result.Granted(lock.token));
    }
    if (a.waitMs() == 0) {
      return remember(s, a, new Result.NotGranted(lock.holderSessionId));
    }
    long deadline = a.waitMs() > 0 ? clock.elapsedMs() + a.waitMs() + WAITER_BACKSTOP_SLACK_MS : 0;
    Waiter w = new Waiter(s.id(), a.requestId(), e.leaderTimeMs(), deadline);
    lock.waiters.addLast(w);
    s.waitingOn.add(lock.name());
    if (deadline != 0) {
      waitDeadlines.add(new WaitDeadline(deadline, lock.name(), s.id(), a.requestId()));
    }
    return remember(s, a, new Result.Queued(lock.waiters.size()));
  }

  private Result release(LogEntry e, Release r, Consumer<StateEvent> events) {
    Failure bad = checkLockCall(r.requestId(), r.lockName());
    if (bad != null) {
      return bad;
    }
    SessionRecord s = sessions.get(r.sessionId());
    if (s == null) {
      return sessionNotFound(r.sessionId());
    }
    RequestCache.Entry cached = s.requests.get(r.requestId());
    if (cached != null) {
      return cached.fingerprint().equals(r.fingerprint()) ? cached.result() : reused(r.requestId());
    }
    LockRecord lock = locks.get(r.lockName());
    if (lock == null || lock.holderSessionId != s.id()) {
      return notHolder(r.lockName(), s.id(), lock);
    }
    if (lock.token != r.token()) {
      return new Failure(ErrorCode.STALE_TOKEN, "token " + r.token() + " is not the current token of lock '"
          + r.lockName() + "' (current token " + lock.token + ")", lock.token);
    }
    events.accept(new StateEvent.LockReleased(e.index(), lock.name(), s.id(), lock.token, EndReason.CLOSED));
    s.heldLocks.remove(lock.name());
    long next = handOver(e, lock, events);
    Result result = new Result.Released(next);
    s.requests.put(r.requestId(), r.fingerprint(), result);
    return result;
  }

  private Result cancelWait(LogEntry e, CancelWait c, Consumer<StateEvent> events) {
    Failure bad = checkLockCall(c.requestId(), c.lockName());
    if (bad != null) {
      return bad;
    }
    SessionRecord s = sessions.get(c.sessionId());
    if (s == null) {
      return sessionNotFound(c.sessionId());
    }
    RequestCache.Entry cached = s.requests.get(c.requestId());
    if (cached != null) {
      return cached.fingerprint().equals(c.fingerprint()) ? cached.result() : reused(c.requestId());
    }
    LockRecord lock = locks.get(c.lockName());
    boolean any = c.acquireRequestId().isEmpty();
    Result result;
    Waiter w = lock == null ? null : lock.waiterOf(s.id());
    if (w != null && (any || w.requestId().equals(c.acquireRequestId()))) {
      removeWaiter(lock, w);
      events.accept(new StateEvent.WaitEnded(e.index(), lock.name(), s.id(), w.requestId(), EndReason.CLOSED));
      result = new Result.WaitCancelled(false, false, 0);
    } else if (lock != null && lock.holderSessionId == s.id()
        && (any || lock.grantRequestId.equals(c.acquireRequestId()))) {
      // The grant won the race with the cancel.
      long token = lock.token;
      if (c.releaseIfGranted()) {
        events.accept(new StateEvent.LockReleased(e.index(), lock.name(), s.id(), token, EndReason.CLOSED));
        s.heldLocks.remove(lock.name());
        handOver(e, lock, events);
      }
      result = new Result.WaitCancelled(true, c.releaseIfGranted(), token);
    } else {
      return new Failure(ErrorCode.WAIT_NOT_FOUND, "session " + s.id() + " has no queued acquire"
          + (any ? "" : " '" + c.acquireRequestId() + "'") + " on lock '" + c.lockName() + "'");
    }
    s.requests.put(c.requestId(), c.fingerprint(), result);
    return result;
  }

  private void grant(LogEntry e, LockRecord lock, SessionRecord s, String requestId,
      Consumer<StateEvent> events) {
    // The fencing token is the index of the granting entry: strictly increasing per lock, across
    // leader changes and restarts, with no counter of its own to persist.
    lock.holderSessionId = s.id();
    lock.grantRequestId = requestId;
    lock.token = e.index();
    lock.acquiredAtMs = e.leaderTimeMs();
    s.heldLocks.add(lock.name());
    events.accept(new StateEvent.LockGranted(e.index(), lock.name(), s.id(), lock.token));
  }

  /** Frees the lock and grants it to the first waiter still in time; returns its session or 0. */
  private long handOver(LogEntry e, LockRecord lock, Consumer<StateEvent> events) {
    lock.holderSessionId = 0;
    lock.grantRequestId = "";
    while (!lock.waiters.isEmpty()) {
      Waiter w = lock.waiters.peekFirst();
      SessionRecord next = sessions.get(w.sessionId());
      removeWaiter(lock, w);
      if (next == null || (w.deadlineClockMs() != 0 && w.deadlineClockMs() < clock.elapsedMs())) {
        events.accept(new StateEvent.WaitEnded(e.index(), lock.name(), w.sessionId(), w.requestId(),
            EndReason.TIMED_OUT));
        continue;
      }
      grant(e, lock, next, w.requestId(), events);
      next.requests.update(w.requestId(), new Result.Granted(lock.token));
      return next.id();
    }
    locks.remove(lock.name());
    return 0;
  }

  private void removeWaiter(LockRecord lock, Waiter w) {
    lock.waiters.remove(w);
    SessionRecord s = sessions.get(w.sessionId());
    if (s != null) {
      s.waitingOn.remove(lock.name());
    }
    if (w.deadlineClockMs() != 0) {
      waitDeadlines.remove(new WaitDeadline(w.deadlineClockMs(), lock.name(), w.sessionId(), w.requestId()));
    }
  }

  private void dropOverdueWaiters(long index, Consumer<StateEvent> events) {
    while (!waitDeadlines.isEmpty() && waitDeadlines.first().deadlineClockMs() < clock.elapsedMs()) {
      WaitDeadline d = waitDeadlines.pollFirst();
      LockRecord lock = locks.get(d.lockName());
      Waiter w = lock == null ? null : lock.waiterOf(d.sessionId());
      if (w != null && w.requestId().equals(d.requestId())) {
        removeWaiter(lock, w);
        events.accept(new StateEvent.WaitEnded(index, lock.name(), w.sessionId(), w.requestId(),
            EndReason.TIMED_OUT));
      }
    }
  }

  private Result remember(SessionRecord s, Acquire a, Result r) {
    s.requests.put(a.requestId(), a.fingerprint(), r);
    return r;
  }

  private static Failure checkLockCall(String requestId, String lockName) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null) {
      bad = Names.checkLockName(lockName);
    }
    return bad == null ? null : new Failure(ErrorCode.INVALID_ARGUMENT, bad);
  }

  private static Failure sessionNotFound(long id) {
    return new Failure(ErrorCode.SESSION_NOT_FOUND, "session " + id + " not found (closed, expired or never opened)");
  }

  private static Failure reused(String requestId) {
    return new Failure(ErrorCode.REQUEST_ID_REUSED, "request_id '" + Names.printable(requestId)
        + "' was already used for a different call");
  }

  private static Failure notHolder(String lockName, long sessionId, LockRecord lock) {
    String now = lock == null || !lock.isHeld() ? "it is free"
        : "it is held by session " + lock.holderSessionId + " with token " + lock.token;
    return new Failure(ErrorCode.NOT_HOLDER, "session " + sessionId + " does not hold lock '" + lockName
        + "': " + now, lock == null ? 0 : lock.token);
  }

  // ---- reads -------------------------------------------------------------------------------

  public long lastAppliedIndex() {
    return lastAppliedIndex;
  }

  public long lastAppliedTerm() {
    return lastAppliedTerm;
  }

  public LogClock clock() {
    return clock;
  }

  public SessionRecord session(long id) {
    return sessions.get(id);
  }

  public Collection<SessionRecord> sessions() {
    return Collections.unmodifiableCollection(sessions.values());
  }

  public int sessionCount() {
    return sessions.size();
  }

  public LockRecord lock(String name) {
    return locks.get(name);
  }

  /** Locks (held or waited on) whose names start with {@code prefix}, in name order. */
  public Collection<LockRecord> locks(String prefix) {
    if (prefix.isEmpty()) {
      return Collections.unmodifiableCollection(locks.values());
    }
    NavigableMap<String, LockRecord> tail = locks.tailMap(prefix, true);
    List<LockRecord> out = new ArrayList<>();
    for (Map.Entry<String, LockRecord> en : tail.entrySet()) {
      if (!en.getKey().startsWith(prefix)) {
        break;
      }
      out.add(en.getValue());
    }
    return out;
  }

  public List<String> heldLocks(long sessionId) {
    SessionRecord s = sessions.get(sessionId);
    return s == null ? List.of() : List.copyOf(s.heldLocks);
  }

  // ---- snapshots ---------------------------------------------------------------------------

  public StateImage image() {
    List<StateImage.SessionImage> ss = new ArrayList<>();
    for (SessionRecord s : sessions.values()) {
      List<StateImage.CachedRequest> reqs = new ArrayList<>();
      s.requests.entries().forEach((id, en) -> reqs.add(new StateImage.CachedRequest(id, en.fingerprint(), en.result())));
      ss.add(new StateImage.SessionImage(s.id(), s.ttlMs(), s.client(), s.createdAtMs(), s.renewedAtMs(),
          s.renewedAtClockMs(), s.renewedIndex(), reqs));
    }
    List<StateImage.LockImage> ls = new ArrayList<>();
    for (LockRecord l : locks.values()) {
      ls.add(new StateImage.LockImage(l.name(), l.holderSessionId, l.grantRequestId, l.token, l.acquiredAtMs,
          List.copyOf(l.waiters)));
    }
    return new StateImage(lastAppliedIndex, lastAppliedTerm, clock.elapsedMs(), clock.lastStampMs(),
        clock.lastStampTerm(), clock.wallMs(), ss, ls, List.copyOf(recentOpens.values()));
  }

  /** Replaces this state with the image's (a snapshot load). */
  public void restore(StateImage img) {
    sessions.clear();
    locks.clear();
    recentOpens.clear();
    waitDeadlines.clear();
    lastAppliedIndex = img.lastAppliedIndex();
    lastAppliedTerm = img.lastAppliedTerm();
    clock.restore(img.clockElapsedMs(), img.clockLastStampMs(), img.clockLastStampTerm(), img.clockWallMs());
    for (StateImage.SessionImage si : img.sessions()) {
      SessionRecord s = new SessionRecord(si.id(), si.ttlMs(), si.client(), si.createdAtMs());
      s.renew(si.renewedIndex(), si.renewedAtMs(), si.renewedAtClockMs());
      for (StateImage.CachedRequest r : si.recentRequests()) {
        s.requests.put(r.requestId(), r.fingerprint(), r.result());
      }
      sessions.put(s.id(), s);
    }
    for (StateImage.LockImage li : img.locks()) {
      LockRecord l = new LockRecord(li.name());
      l.holderSessionId = li.holderSessionId();
      l.grantRequestId = li.grantRequestId();
      l.token = li.token();
      l.acquiredAtMs = li.acquiredAtMs();
      l.waiters.addAll(li.waiters());
      locks.put(l.name(), l);
      if (l.isHeld()) {
        sessions.get(l.holderSessionId).heldLocks.add(l.name());
      }
      for (Waiter w : li.waiters()) {
        sessions.get(w.sessionId()).waitingOn.add(l.name());
        if (w.deadlineClockMs() != 0) {
          waitDeadlines.add(new WaitDeadline(w.deadlineClockMs(), l.name(), w.sessionId(), w.requestId()));
        }
      }
    }
    for (StateImage.OpenImage o : img.recentOpens()) {
      recentOpens.put(o.requestId(), o);
    }
  }
}
