package io.holdfast.server.state;

import io.holdfast.server.state.StateEvent.EndReason;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The locks that are held, orphaned or waited on, and the mechanics every command shares: grant,
 * hand over to the next waiter, free uncleanly into the ORPHANED state, and the log-clock deadlines
 * (a waiter's backstop, a max hold time, the end of a lock-delay). Part of the replicated state;
 * keeps each session's held and waited-on sets in step.
 */
final class LockTable {
  private final TreeMap<String, LockRecord> byName = new TreeMap<>();
  private final TreeSet<Deadline> waitDeadlines = new TreeSet<>();
  private final TreeSet<Deadline> holdDeadlines = new TreeSet<>();
  private final TreeSet<Deadline> orphanDeadlines = new TreeSet<>();
  private final SessionTable sessions;
  private final LogClock clock;
  private final AuditLog audit;
  /** Takes a revision of its own for a grant that cannot use its entry's (see grant). */
  private final java.util.function.LongSupplier nextRevision;
  /** The revision of the entry that granted last; not state, as it is only read inside that entry. */
  private long lastGrantAt;
  /** Part of the replicated state; set only by a snapshot load (a restore raises it). */
  long fencingEpoch;

  LockTable(SessionTable sessions, LogClock clock, AuditLog audit, java.util.function.LongSupplier nextRevision) {
    this.sessions = sessions;
    this.clock = clock;
    this.audit = audit;
    this.nextRevision = nextRevision;
  }

  LockRecord get(String name) {
    return byName.get(name);
  }

  LockRecord getOrCreate(String name) {
    return byName.computeIfAbsent(name, LockRecord::new);
  }

  Collection<LockRecord> all() {
    return Collections.unmodifiableCollection(byName.values());
  }

  /** Locks whose names start with {@code prefix}, in name order. */
  Collection<LockRecord> withPrefix(String prefix) {
    if (prefix.isEmpty()) {
      return all();
    }
    NavigableMap<String, LockRecord> tail = byName.tailMap(prefix, true);
    List<LockRecord> out = new ArrayList<>();
    for (Map.Entry<String, LockRecord> en : tail.entrySet()) {
      if (!en.getKey().startsWith(prefix)) {
        break;
      }
      out.add(en.getValue());
    }
    return out;
  }

  void enqueue(LockRecord lock, SessionRecord s, Waiter w) {
    lock.waiters.addLast(w);
    s.waitingOn.add(lock.name());
    if (w.deadlineClockMs() != 0) {
      waitDeadlines.add(new Deadline(w.deadlineClockMs(), lock.name(), s.id(), w.requestId()));
    }
  }

  void grant(LogEntry e, LockRecord lock, SessionRecord s, String requestId, long lockDelayMs, long maxHoldMs,
      Consumer<StateEvent> events) {
    // The fencing token is the index of the granting entry in the current fencing epoch (see
    // FencingToken): strictly increasing per lock, across leader changes, restarts and restores.
    lock.holderSessionId = s.id();
    lock.grantRequestId = requestId;
    long token = FencingToken.value(fencingEpoch, e.index());
    boolean sameLockAgain = token <= lock.token && e.applyRules() >= 1;
    boolean anotherThisEntry = e.applyRules() >= 3 && lastGrantAt == e.index();
    if (sameLockAgain || anotherThisEntry) {
      // One command granted more than once: a deadline that fell due in this entry handed this lock
      // to a waiter and the command itself (a revoke, an admin expiry) handed it on (rules 1), or an
      // expiry handed several locks to their waiters (rules 3). Each later holder takes a revision of
      // its own, so that no two grants share a token.
      token = FencingToken.value(fencingEpoch, nextRevision.getAsLong());
    }
    // Compared only within one entry: every entry's index is above any revision taken before it.
    lastGrantAt = e.index();
    lock.token = token;
    lock.acquiredAtMs = e.leaderTimeMs();
    lock.lockDelayMs = lockDelayMs;
    lock.maxHoldMs = maxHoldMs;
    lock.holdDeadlineClockMs = maxHoldMs > 0 ? clock.elapsedMs() + maxHoldMs : 0;
    if (lock.holdDeadlineClockMs != 0) {
      holdDeadlines.add(new Deadline(lock.holdDeadlineClockMs, lock.name(), s.id(), ""));
    }
    s.heldLocks.add(lock.name());
    events.accept(new StateEvent.LockGranted(e.index(), lock.name(), s.id(), lock.token));
  }

  /** Takes the lock from its holder (the caller says what happens to it next). */
  void detachHolder(LogEntry e, LockRecord lock, EndReason reason, Consumer<StateEvent> events) {
    SessionRecord holder = sessions.get(lock.holderSessionId);
    events.accept(new StateEvent.LockReleased(e.index(), lock.name(), lock.holderSessionId, lock.token, reason));
    if (holder != null) {
      holder.heldLocks.remove(lock.name());
    }
    if (lock.holdDeadlineClockMs != 0) {
      holdDeadlines.remove(new Deadline(lock.holdDeadlineClockMs, lock.name(), lock.holderSessionId, ""));
      lock.holdDeadlineClockMs = 0;
    }
  }

  /** A clean release: the lock goes to the next waiter now. Returns its session, or 0. */
  long release(LogEntry e, LockRecord lock, EndReason reason, Consumer<StateEvent> events) {
    detachHolder(e, lock, reason, events);
    return handOver(e, lock, events);
  }

  /**
   * Frees a lock its holder did not release (expiry, revocation): with a lock-delay it stays
   * orphaned until the delay has passed, so that a holder that may still be running cannot race
   * the next one on resources that do not check tokens; without one, the queue proceeds now.
   */
  void freeUnclean(LogEntry e, LockRecord lock, EndReason reason, Consumer<StateEvent> events) {
    SessionRecord holder = sessions.get(lock.holderSessionId);
    detachHolder(e, lock, reason, events);
    if (lock.lockDelayMs <= 0) {
      handOver(e, lock, events);
      return;
    }
    lock.formerHolderSessionId = lock.holderSessionId;
    lock.formerHolder = holder == null ? ClientInfo.UNKNOWN : holder.client();
    lock.holderSessionId = 0;
    lock.grantRequestId = "";
    lock.grantableAtClockMs = Math.max(1, clock.elapsedMs() + lock.lockDelayMs);
    lock.freedAtMs = e.leaderTimeMs();
    lock.freeReason = reason.name();
    orphanDeadlines.add(new Deadline(lock.grantableAtClockMs, lock.name(), 0, ""));
  }

  void clearOrphan(LockRecord lock) {
    if (lock.grantableAtClockMs != 0) {
      orphanDeadlines.remove(new Deadline(lock.grantableAtClockMs, lock.name(), 0, ""));
    }
    lock.clearOrphan();
  }

  /**
   * Frees a lock whose holder is already detached (or that was orphaned) and grants it to the first
   * waiter still in time; returns its session or 0.
   */
  long handOver(LogEntry e, LockRecord lock, Consumer<StateEvent> events) {
    lock.holderSessionId = 0;
    lock.grantRequestId = "";
    clearOrphan(lock);
    while (!lock.waiters.isEmpty()) {
      Waiter w = lock.waiters.peekFirst();
      SessionRecord next = sessions.get(w.sessionId());
      removeWaiter(lock, w);
      if (next == null || (w.deadlineClockMs() != 0 && w.deadlineClockMs() < clock.elapsedMs())) {
        events.accept(new StateEvent.WaitEnded(e.index(), lock.name(), w.sessionId(), w.requestId(),
            EndReason.TIMED_OUT));
        continue;
      }
      grant(e, lock, next, w.requestId(), w.lockDelayMs(), w.maxHoldMs(), events);
      next.requests.update(w.requestId(), new Result.Granted(lock.token));
      return next.id();
    }
    byName.remove(lock.name());
    return 0;
  }

  void removeWaiter(LockRecord lock, Waiter w) {
    lock.waiters.remove(w);
    SessionRecord s = sessions.get(w.sessionId());
    if (s != null) {
      s.waitingOn.remove(lock.name());
    }
    if (w.deadlineClockMs() != 0) {
      waitDeadlines.remove(new Deadline(w.deadlineClockMs(), lock.name(), w.sessionId(), w.requestId()));
    }
  }

  /** A lock that is neither held nor orphaned and has no waiters is not stored. */
  void dropIfUnused(LockRecord lock) {
    if (!lock.isHeld() && !lock.isOrphaned() && lock.waiters.isEmpty()) {
      byName.remove(lock.name());
    }
  }

  /** Acts on every log-clock deadline the entry's time has passed, in deadline order. */
  void runDeadlines(LogEntry e, Consumer<StateEvent> events) {
    long now = clock.elapsedMs();
    while (!waitDeadlines.isEmpty() && waitDeadlines.first().clockMs() < now) {
      Deadline d = waitDeadlines.pollFirst();
      LockRecord lock = byName.get(d.lockName());
      Waiter w = lock == null ? null : lock.waiterOf(d.sessionId());
      if (w != null && w.requestId().equals(d.requestId())) {
        removeWaiter(lock, w);
        events.accept(new StateEvent.WaitEnded(e.index(), lock.name(), w.sessionId(), w.requestId(),
            EndReason.TIMED_OUT));
        dropIfUnused(lock);
      }
    }
    while (!holdDeadlines.isEmpty() && holdDeadlines.first().clockMs() <= now) {
      Deadline d = holdDeadlines.pollFirst();
      LockRecord lock = byName.get(d.lockName());
      if (lock != null && lock.holderSessionId == d.sessionId() && lock.holdDeadlineClockMs == d.clockMs()) {
        SessionRecord holder = sessions.get(d.sessionId());
        long token = lock.token;
        long maxHold = lock.maxHoldMs;
        freeUnclean(e, lock, EndReason.REVOKED, events);
        LockRecord after = byName.get(d.lockName());
        audit.add(new AuditEntry(e.index(), e.leaderTimeMs(), AuditEntry.Kind.MAX_HOLD_EXCEEDED, d.lockName(),
            holder.id(), holder.client(), token, "held longer than its max hold time of "
            + maxHold + " ms", "", after != null && after.isHeld() ? after.holderSessionId : 0));
      }
    }
    while (!orphanDeadlines.isEmpty() && orphanDeadlines.first().clockMs() <= now) {
      Deadline d = orphanDeadlines.pollFirst();
      LockRecord lock = byName.get(d.lockName());
      if (lock != null && lock.isOrphaned() && lock.grantableAtClockMs == d.clockMs()) {
        handOver(e, lock, events);
      }
    }
  }

  List<StateImage.LockImage> image() {
    List<StateImage.LockImage> out = new ArrayList<>();
    for (LockRecord l : byName.values()) {
      out.add(new StateImage.LockImage(l.name(), l.holderSessionId, l.grantRequestId, l.token, l.acquiredAtMs,
          List.copyOf(l.waiters), l.lockDelayMs, l.maxHoldMs, l.holdDeadlineClockMs, l.grantableAtClockMs,
          l.formerHolderSessionId, l.formerHolder, l.freedAtMs, l.freeReason));
    }
    return out;
  }

  /** Rebuilds the locks (after the sessions) and every derived index. */
  void restore(List<StateImage.LockImage> locks) {
    byName.clear();
    waitDeadlines.clear();
    holdDeadlines.clear();
    orphanDeadlines.clear();
    for (StateImage.LockImage li : locks) {
      LockRecord l = new LockRecord(li.name());
      l.holderSessionId = li.holderSessionId();
      l.grantRequestId = li.grantRequestId();
      l.token = li.token();
      l.acquiredAtMs = li.acquiredAtMs();
      l.lockDelayMs = li.lockDelayMs();
      l.maxHoldMs = li.maxHoldMs();
      l.holdDeadlineClockMs = li.holdDeadlineClockMs();
      l.grantableAtClockMs = li.grantableAtClockMs();
      l.formerHolderSessionId = li.formerHolderSessionId();
      l.formerHolder = li.formerHolder();
      l.freedAtMs = li.freedAtMs();
      l.freeReason = li.freeReason();
      byName.put(l.name(), l);
      if (l.isHeld()) {
        sessions.get(l.holderSessionId).heldLocks.add(l.name());
        if (l.holdDeadlineClockMs != 0) {
          holdDeadlines.add(new Deadline(l.holdDeadlineClockMs, l.name(), l.holderSessionId, ""));
        }
      }
      if (l.isOrphaned()) {
        orphanDeadlines.add(new Deadline(l.grantableAtClockMs, l.name(), 0, ""));
      }
      for (Waiter w : li.waiters()) {
        enqueue(l, sessions.get(w.sessionId()), w);
      }
    }
  }
}
