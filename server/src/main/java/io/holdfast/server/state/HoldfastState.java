package io.holdfast.server.state;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.AdminExpireSession;
import io.holdfast.server.state.Command.CancelWait;
import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.Command.CloseSession;
import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.state.Command.Revoke;
import io.holdfast.server.state.Result.Failure;
import io.holdfast.server.state.StateEvent.EndReason;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;

/**
 * Holdfast's replicated state: sessions, locks with FIFO waiters, lock-delays and max hold times,
 * the audit log, and the log's clock.
 *
 * <p>Deterministic by construction: {@link #apply} reads nothing but the entry and the state (no
 * clock, no randomness, no node-local configuration), iterates only sorted or insertion-ordered
 * collections, and fails a command by returning a {@link Failure} before changing anything. Two
 * instances fed the same entries hold the same state and produce byte-identical snapshots. Time-
 * driven changes (a waiter's backstop, a max hold time, the end of a lock-delay) happen at the
 * first entry whose log clock passes their deadline; the leader's checkpoint ticks every R keep
 * that prompt.
 *
 * <p>Not thread-safe; the state machine serialises access.
 */
public final class HoldfastState {
  /** How long past its wait a forgotten waiter stays queued before apply drops it. */
  static final long WAITER_BACKSTOP_SLACK_MS = 5_000;
  /** Admin answers kept whatever their age, and at most (see RequestCache). */
  static final int ADMIN_REQUESTS = 1_000;
  static final int ADMIN_REQUESTS_CAP = 10_000;
  /** KV answers kept whatever their age, and at most: about 25 MB of heap when full. */
  static final int KV_REQUESTS = 10_000;
  static final int KV_REQUESTS_CAP = 100_000;
  public static final int MAX_REASON = 1_024;

  private final LogClock clock = new LogClock();
  private final AuditLog audit = new AuditLog();
  private final SessionTable sessions = new SessionTable();
  private final LockTable locks = new LockTable(sessions, clock, audit, this::takeRevision);
  private final RequestCache adminRequests = new RequestCache(ADMIN_REQUESTS, ADMIN_REQUESTS_CAP);
  private final KvTable kv = new KvTable();
  private final RequestCache kvRequests = new RequestCache(KV_REQUESTS, KV_REQUESTS_CAP);
  private long lastAppliedIndex;
  private long lastAppliedTerm;
  /** The revision of the last command applied; at least its entry's log index. */
  private long lastRevision;
  /** The apply rules the leader writes new entries under (LogEntry.RULES at most on this build). */
  private int clusterRules = LogEntry.NEGOTIATED_FROM;

  /**
   * Applies one entry. Never throws for any input: invalid commands come back as a {@link Failure}
   * and change nothing. Side effects for local observers go to {@code events}. A
   * {@link Command.Batch} gives a {@link Result.Batch}: its commands applied one after the other,
   * each at its own revision.
   */
  public Result apply(LogEntry entry, Consumer<StateEvent> events) {
    if (entry.index() <= lastAppliedIndex) {
      throw new IllegalStateException("entry " + entry.index() + " applied twice (last applied "
          + lastAppliedIndex + ")");
    }
    clock.advance(entry.term(), entry.leaderTimeMs(), entry.applyRules() >= 4 ? entry.carriedMs() : 0);
    lastAppliedIndex = entry.index();
    lastAppliedTerm = entry.term();
    if (entry.command() instanceof Command.Batch batch) {
      List<Result> results = new ArrayList<>(batch.commands().size());
      for (Command c : batch.commands()) {
        results.add(c instanceof Command.Batch
            ? new Failure(ErrorCode.INVALID_ARGUMENT, "a batch cannot hold a batch")
            : applyAt(revise(entry, c), events));
      }
      return new Result.Batch(results);
    }
    return applyAt(revise(entry, entry.command()), events);
  }

  /**
   * {@code c} as applied at the next revision: the entry's log index, or the previous revision + 1
   * when an earlier command of the same or an earlier batch already took that number. Tokens,
   * session ids and KV revisions come from it, so they stay unique and increasing with batches.
   */
  private LogEntry revise(LogEntry entry, Command c) {
    lastRevision = Math.max(lastRevision + 1, entry.index());
    return new LogEntry(lastRevision, entry.term(), entry.leaderTimeMs(), c, entry.applyRules());
  }

  /** A revision for one more grant inside the command being applied; later commands go past it. */
  private long takeRevision() {
    lastRevision = Math.max(lastRevision, lastAppliedIndex) + 1;
    return lastRevision;
  }

  private Result applyAt(LogEntry entry, Consumer<StateEvent> events) {
    locks.runDeadlines(entry, events);
    Command c = entry.command();
    if (c instanceof OpenSession o) {
      return openSession(entry, o, events);
    } else if (c instanceof CloseSession cl) {
      return closeSession(entry, cl, events);
    } else if (c instanceof ExpireSession ex) {
      return expireSession(entry, ex, events);
    } else if (c instanceof AdminExpireSession ax) {
      return adminExpire(entry, ax, events);
    } else if (c instanceof Acquire a) {
      return acquire(entry, a, events);
    } else if (c instanceof Release r) {
      return release(entry, r, events);
    } else if (c instanceof CancelWait cw) {
      return cancelWait(entry, cw, events);
    } else if (c instanceof Revoke rv) {
      return revoke(entry, rv, events);
    } else if (c instanceof Checkpoint cp) {
      return checkpoint(entry, cp, events);
    } else if (c instanceof Command.Put p) {
      return put(entry, p, events);
    } else if (c instanceof Command.Delete d) {
      return delete(entry, d, events);
    } else if (c instanceof Command.RaiseApplyRules r) {
      clusterRules = Math.max(clusterRules, r.rules());
      return new Result.ApplyRulesRaised(clusterRules);
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
    if (o.exclusiveKey().length() > Names.MAX_LOCK_NAME) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, "exclusive_key is longer than " + Names.MAX_LOCK_NAME);
    }
    StateImage.OpenImage seen = sessions.recentOpen(o.requestId());
    if (seen != null) {
      if (!seen.fingerprint().equals(o.fingerprint())) {
        return reused(o.requestId());
      }
      return new Result.SessionOpened(seen.sessionId(), seen.ttlMs());
    }
    SessionRecord old = o.exclusiveKey().isEmpty() ? null : sessions.holderOf(o.exclusiveKey());
    if (old != null && !old.client().principal().isEmpty()
        && !old.client().principal().equals(o.client().principal())) {
      // Otherwise anyone could end anyone's session by naming its exclusive key.
      return new Failure(ErrorCode.PERMISSION_DENIED, "exclusive_key '" + Names.printable(o.exclusiveKey())
          + "' is held by a session of another identity; only that identity may take it over");
    }
    // A takeover replaces a session of the same principal, so it does not count against the limit.
    boolean replacesOwn = old != null && old.client().principal().equals(o.client().principal());
    int live = sessions.countOf(o.client().principal()) - (replacesOwn ? 1 : 0);
    if (o.maxSessionsPerIdentity() > 0 && live >= o.maxSessionsPerIdentity()) {
      return new Failure(ErrorCode.RESOURCE_EXHAUSTED, "identity '" + Names.printable(o.client().principal())
          + "' already has " + live + " live sessions; the limit is " + o.maxSessionsPerIdentity()
          + " (max-sessions-per-identity)");
    }
    // Like tokens, session ids carry the fencing epoch: a restored cluster never hands out the id of
    // a session the old cluster opened after the backup.
    long id = FencingToken.value(locks.fencingEpoch, e.index());
    if (old != null) {
      // A new incarnation of the same identity: the old one is known dead, no lock-delay.
      List<String> freed = endSession(e, old, EndReason.TAKEN_OVER, events);
      audit.add(AuditEntry.ofSession(e, AuditEntry.Kind.TAKEN_OVER, old, freed,
          "exclusive key '" + o.exclusiveKey() + "' opened by a new session", "", id));
    }
    SessionRecord s = new SessionRecord(id, o.ttlMs(), o.client(), e.leaderTimeMs(), o.exclusiveKey());
    s.renew(e.index(), e.leaderTimeMs(), clock.elapsedMs());
    sessions.add(s);
    sessions.rememberOpen(new StateImage.OpenImage(o.requestId(), o.fingerprint(), id, o.ttlMs()));
    events.accept(new StateEvent.SessionOpened(e.index(), id, o.ttlMs()));
    return new Result.SessionOpened(id, o.ttlMs());
  }

  private Result closeSession(LogEntry e, CloseSession c, Consumer<StateEvent> events) {
    SessionRecord s = sessions.get(c.sessionId());
    if (s == null) {
      return sessionNotFound(c.sessionId());
    }
    return new Result.SessionClosed(endSession(e, s, EndReason.CLOSED, events));
  }

  private Result expireSession(LogEntry e, ExpireSession x, Consumer<StateEvent> events) {
    SessionRecord s = sessions.get(x.sessionId());
    // A keepalive that raced the expiry wins: the leader decided on an older renewal.
    if (s == null || s.renewedIndex() != x.expectedRenewedIndex()) {
      return new Result.SessionExpired(false, List.of());
    }
    List<String> released = endSession(e, s, EndReason.EXPIRED, events);
    audit.add(AuditEntry.ofSession(e, AuditEntry.Kind.EXPIRED, s, released,
        "no keepalive within its TTL of " + s.ttlMs() + " ms", "", 0));
    return new Result.SessionExpired(true, released);
  }

  private Result adminExpire(LogEntry e, AdminExpireSession x, Consumer<StateEvent> events) {
    Failure bad = checkAdmin(x.requestId(), x.reason());
    if (bad != null) {
      return bad;
    }
    Result earlier = earlierAnswer(adminRequests, x.requestId(), x.fingerprint());
    if (earlier != null) {
      return earlier;
    }
    SessionRecord s = sessions.get(x.sessionId());
    if (s == null) {
      return sessionNotFound(x.sessionId());
    }
    List<String> released = endSession(e, s, EndReason.ADMIN_EXPIRED, events);
    audit.add(AuditEntry.ofSession(e, AuditEntry.Kind.ADMIN_EXPIRED, s, released, x.reason(), x.requestedBy(), 0));
    Result r = new Result.SessionExpired(true, released);
    adminRequests.put(x.requestId(), x.fingerprint(), r, e, clock.elapsedMs());
    return r;
  }

  /**
   * Removes a session. Its waits end; its locks go to their next waiters in this same entry, or
   * stay orphaned for their lock-delay when the session did not end by its own hand.
   */
  private List<String> endSession(LogEntry e, SessionRecord s, EndReason reason, Consumer<StateEvent> events) {
    List<String> released = new ArrayList<>(s.heldLocks);
    for (String name : new ArrayList<>(s.waitingOn)) {
      LockRecord lock = locks.get(name);
      Waiter w = lock.waiterOf(s.id());
      locks.removeWaiter(lock, w);
      events.accept(new StateEvent.WaitEnded(e.index(), name, s.id(), w.requestId(), reason));
      locks.dropIfUnused(lock);
    }
    boolean unclean = reason == EndReason.EXPIRED || reason == EndReason.ADMIN_EXPIRED;
    for (String name : released) {
      LockRecord lock = locks.get(name);
      if (unclean) {
        locks.freeUnclean(e, lock, reason, events);
      } else {
        locks.release(e, lock, reason, events);
      }
    }
    sessions.remove(s);
    events.accept(new StateEvent.SessionEnded(e.index(), s.id(), reason));
    return released;
  }

  private Result checkpoint(LogEntry e, Checkpoint cp, Consumer<StateEvent> events) {
    List<Long> missing = new ArrayList<>(0);
    for (long id : cp.renewedSessionIds()) {
      SessionRecord s = sessions.get(id);
      if (s != null) {
        s.renew(e.index(), e.leaderTimeMs(), clock.elapsedMs());
        events.accept(new StateEvent.SessionRenewed(e.index(), id, s.ttlMs()));
      } else {
        missing.add(id);
      }
    }
    return new Result.CheckpointApplied(missing);
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
    if (a.lockDelayMs() < 0 || a.maxHoldMs() < 0) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, "lock_delay_ms and max_hold_ms must not be negative");
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
      return remember(e, s, a, new Result.Granted(lock.token));
    }
    if (lock != null && lock.waiterOf(s.id()) != null) {
      return remember(e, s, a, new Result.Queued(lock.positionOf(s.id())));
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
    int inUse = s.heldLocks.size() + s.waitingOn.size();
    if (a.maxLocksPerSession() > 0 && inUse >= a.maxLocksPerSession()) {
      return new Failure(ErrorCode.RESOURCE_EXHAUSTED, "session " + s.id() + " already holds or waits for " + inUse
          + " locks; the limit is " + a.maxLocksPerSession() + " (max-locks-per-session)");
    }
    if (a.maxWaitersPerLock() > 0 && a.waitMs() != 0 && lock != null && (lock.isHeld() || lock.isOrphaned())
        && lock.waiters.size() >= a.maxWaitersPerLock()) {
      return new Failure(ErrorCode.RESOURCE_EXHAUSTED, "lock '" + a.lockName() + "' already has "
          + lock.waiters.size() + " waiters; the limit is " + a.maxWaitersPerLock() + " (max-waiters-per-lock)");
    }
    lock = locks.getOrCreate(a.lockName());
    if (!lock.isHeld() && !lock.isOrphaned()) {
      locks.grant(e, lock, s, a.requestId(), a.lockDelayMs(), a.maxHoldMs(), events);
      return remember(e, s, a, new Result.Granted(lock.token));
    }
    if (a.waitMs() == 0) {
      return remember(e, s, a, new Result.NotGranted(lock.holderSessionId));
    }
    // Saturating: a wait of "almost forever" must not wrap around into the past.
    long deadline = a.waitMs() > 0
        ? Math.min(Long.MAX_VALUE / 2, clock.elapsedMs() + Math.min(a.waitMs(), Long.MAX_VALUE / 4)
            + WAITER_BACKSTOP_SLACK_MS) : 0;
    locks.enqueue(lock, s, new Waiter(s.id(), a.requestId(), e.leaderTimeMs(), deadline, a.lockDelayMs(),
        a.maxHoldMs()));
    return remember(e, s, a, new Result.Queued(lock.waiters.size()));
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
    Result earlier = earlierAnswer(s.requests, r.requestId(), r.fingerprint());
    if (earlier != null) {
      return earlier;
    }
    LockRecord lock = locks.get(r.lockName());
    boolean holdsIt = lock != null && lock.holderSessionId == s.id() && lock.token == r.token();
    if (!holdsIt && r.resent() && e.applyRules() >= 3 && endedByItsHolder(r.lockName(), r.token(), lock)) {
      // A resend whose first attempt's answer has left the session's last 64: that attempt released
      // the grant (nothing took it away), so the release succeeded. Before rules 3 it was refused,
      // and the client reported a lock it had released as lost.
      Result result = new Result.Released(0);
      s.requests.put(r.requestId(), r.fingerprint(), result, e, clock.elapsedMs());
      return result;
    }
    if (lock == null || lock.holderSessionId != s.id()) {
      return notHolder(r.lockName(), s.id(), lock);
    }
    if (lock.token != r.token()) {
      return new Failure(ErrorCode.STALE_TOKEN, "session " + s.id() + ": token " + r.token()
          + " is not the current token of lock '" + r.lockName() + "' (current token " + lock.token + ")", lock.token);
    }
    Result result = new Result.Released(locks.release(e, lock, EndReason.CLOSED, events));
    s.requests.put(r.requestId(), r.fingerprint(), result, e, clock.elapsedMs());
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
    Result earlier = earlierAnswer(s.requests, c.requestId(), c.fingerprint());
    if (earlier != null) {
      return earlier;
    }
    LockRecord lock = locks.get(c.lockName());
    boolean any = c.acquireRequestId().isEmpty();
    Result result;
    Waiter w = lock == null ? null : lock.waiterOf(s.id());
    if (w != null && (any || w.requestId().equals(c.acquireRequestId()))) {
      locks.removeWaiter(lock, w);
      events.accept(new StateEvent.WaitEnded(e.index(), lock.name(), s.id(), w.requestId(), EndReason.CLOSED));
      locks.dropIfUnused(lock);
      result = new Result.WaitCancelled(false, false, 0);
    } else if (lock != null && lock.holderSessionId == s.id()
        && (any || lock.grantRequestId.equals(c.acquireRequestId()))) {
      // The grant won the race with the cancel.
      long token = lock.token;
      if (c.releaseIfGranted()) {
        locks.release(e, lock, EndReason.CLOSED, events);
      }
      result = new Result.WaitCancelled(true, c.releaseIfGranted(), token);
    } else {
      return new Failure(ErrorCode.WAIT_NOT_FOUND, "session " + s.id() + " has no queued acquire"
          + (any ? "" : " '" + c.acquireRequestId() + "'") + " on lock '" + c.lockName() + "'");
    }
    s.requests.put(c.requestId(), c.fingerprint(), result, e, clock.elapsedMs());
    return result;
  }

  /** What a revocation would do, without doing it (a dry run reads this). */
  public Result previewRevoke(String lockName, long successorSessionId, long expectedToken) {
    LockRecord lock = locks.get(lockName);
    Failure bad = checkRevoke(lockName, successorSessionId, expectedToken, lock);
    if (bad != null) {
      return bad;
    }
    long former = lock.isHeld() ? lock.holderSessionId : lock.formerHolderSessionId;
    long formerToken = lock.token;
    // the token a grant in the next entry would carry
    long next = FencingToken.value(locks.fencingEpoch, Math.max(lastRevision, lastAppliedIndex) + 1);
    if (successorSessionId != 0) {
      return new Result.Revoked(former, formerToken, successorSessionId, next, 0);
    }
    if (lock.isHeld() && lock.lockDelayMs > 0) {
      return new Result.Revoked(former, formerToken, 0, 0, lock.lockDelayMs);
    }
    Waiter first = lock.waiters.peekFirst();
    return new Result.Revoked(former, formerToken, first == null ? 0 : first.sessionId(), first == null ? 0 : next, 0);
  }

  private Result revoke(LogEntry e, Revoke r, Consumer<StateEvent> events) {
    Failure bad = checkAdmin(r.requestId(), r.reason());
    if (bad == null) {
      bad = checkRevoke(r.lockName(), r.successorSessionId(), r.expectedToken(), locks.get(r.lockName()));
    }
    Result earlier = earlierAnswer(adminRequests, r.requestId(), r.fingerprint());
    if (earlier != null) {
      return earlier;
    }
    if (bad != null) {
      return bad;
    }
    LockRecord lock = locks.get(r.lockName());
    boolean held = lock.isHeld();
    long former = held ? lock.holderSessionId : lock.formerHolderSessionId;
    SessionRecord formerSession = sessions.get(former);
    ClientInfo formerClient = formerSession != null ? formerSession.client() : lock.formerHolder;
    long formerToken = lock.token;
    long orphanedFor = 0;
    if (r.successorSessionId() != 0) {
      if (held) {
        locks.detachHolder(e, lock, EndReason.REVOKED, events);
      }
      SessionRecord successor = sessions.get(r.successorSessionId());
      Waiter queued = lock.waiterOf(successor.id());
      if (queued != null) {
        locks.removeWaiter(lock, queued);
      }
      locks.clearOrphan(lock);
      locks.grant(e, lock, successor, queued == null ? "" : queued.requestId(),
          queued == null ? lock.lockDelayMs : queued.lockDelayMs(), queued == null ? 0 : queued.maxHoldMs(), events);
      if (queued != null) {
        successor.requests.update(queued.requestId(), new Result.Granted(lock.token));
      }
    } else if (held) {
      orphanedFor = lock.lockDelayMs;
      locks.freeUnclean(e, lock, EndReason.REVOKED, events);
    } else {
      // Already orphaned: the operator ends the lock-delay now.
      locks.handOver(e, lock, events);
    }
    LockRecord after = locks.get(r.lockName());
    long grantedTo = after != null && after.isHeld() ? after.holderSessionId : 0;
    audit.add(new AuditEntry(e.index(), e.leaderTimeMs(), AuditEntry.Kind.REVOKED, r.lockName(), former, formerClient,
        formerToken, r.reason(), r.requestedBy(), grantedTo));
    Result result = new Result.Revoked(former, formerToken, grantedTo, grantedTo == 0 ? 0 : after.token, orphanedFor);
    adminRequests.put(r.requestId(), r.fingerprint(), result, e, clock.elapsedMs());
    return result;
  }

  private Failure checkRevoke(String lockName, long successorSessionId, long expectedToken, LockRecord lock) {
    String bad = Names.checkLockName(lockName);
    if (bad != null) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, bad);
    }
    if (expectedToken < 0) {
      return new Failure(ErrorCode.INVALID_ARGUMENT, "expected_token must not be negative, got " + expectedToken);
    }
    if (lock == null || (!lock.isHeld() && !lock.isOrphaned())) {
      return new Failure(ErrorCode.LOCK_NOT_FOUND, "lock '" + lockName + "' is neither held nor orphaned"
          + (expectedToken == 0 ? "" : ": token " + expectedToken + " is over, nothing revoked"));
    }
    if (expectedToken != 0 && lock.token != expectedToken) {
      return new Failure(ErrorCode.STALE_TOKEN, "lock '" + lockName + "' has token " + lock.token
          + (lock.isHeld() ? " (held by session " + lock.holderSessionId + ")" : " (orphaned)") + ", not the expected "
          + expectedToken + ": nothing revoked", lock.token);
    }
    if (successorSessionId != 0) {
      if (!sessions.contains(successorSessionId)) {
        return sessionNotFound(successorSessionId);
      }
      if (successorSessionId == lock.holderSessionId) {
        return new Failure(ErrorCode.INVALID_ARGUMENT, "successor session " + successorSessionId
            + " already holds lock '" + lockName + "'");
      }
    }
    return null;
  }

  // ---- the fenced key-value store -----------------------------------------------------------

  private Result put(LogEntry e, Command.Put p, Consumer<StateEvent> events) {
    Failure bad = checkKvCall(p.requestId(), p.key(), p.expectedRevision(), p.fenceLock(), p.fenceToken());
    if (bad != null) {
      return bad;
    }
    String fingerprint = p.fingerprint();
    RequestCache.Entry cached = kvRequests.get(p.requestId());
    // Matched in the form it was kept in: an entry an older build applied keeps its old form.
    boolean legacy = cached != null && cached.fingerprint().startsWith("put:");
    Result earlier = earlierAnswer(kvRequests, p.requestId(), legacy ? p.legacyFingerprint() : fingerprint);
    if (earlier != null) {
      return earlier;
    }
    KvEntry current = kv.get(p.key());
    Failure refused = checkWrite(p.key(), current, p.expectedRevision(), p.fenceLock(), p.fenceToken());
    if (refused != null) {
      return refused;
    }
    // A put that does not grow the store is always taken, so a full store can still be rewritten smaller.
    long grows = KvTable.size(p.key(), p.valueLength()) - (current == null ? 0 : KvTable.size(current.key(),
        current.size()));
    if (p.maxKvBytes() > 0 && grows > 0 && kv.bytes() + grows > p.maxKvBytes()) {
      return new Failure(ErrorCode.RESOURCE_EXHAUSTED, "the key-value store holds " + kv.bytes() + " bytes of keys "
          + "and values; this put would add " + grows + " and the limit is " + p.maxKvBytes()
          + " (max-kv-bytes): delete keys first");
    }
    // Revisions carry the fencing epoch too, so a compare-and-set never matches a revision the old
    // cluster assigned after a backup.
    long revision = FencingToken.value(locks.fencingEpoch, e.index());
    KvEntry written = new KvEntry(p.key(), p.value(), revision, current == null ? revision : current.createRevision(),
        p.fenceLock(), p.fenceToken(), e.leaderTimeMs());
    kv.put(written);
    events.accept(new StateEvent.KeyChanged(e.index(), p.key(), written));
    Result r = new Result.KvWritten(revision, current != null);
    kvRequests.put(p.requestId(), fingerprint, r, e, clock.elapsedMs());
    return r;
  }

  private Result delete(LogEntry e, Command.Delete d, Consumer<StateEvent> events) {
    Failure bad = checkKvCall(d.requestId(), d.key(), d.expectedRevision(), d.fenceLock(), d.fenceToken());
    if (bad != null) {
      return bad;
    }
    Result earlier = earlierAnswer(kvRequests, d.requestId(), d.fingerprint());
    if (earlier != null) {
      return earlier;
    }
    KvEntry current = kv.get(d.key());
    Failure refused = checkWrite(d.key(), current, d.expectedRevision(), d.fenceLock(), d.fenceToken());
    if (refused != null) {
      return refused;
    }
    if (current != null) {
      kv.remove(d.key());
      events.accept(new StateEvent.KeyChanged(e.index(), d.key(), null));
    }
    Result r = new Result.KvWritten(FencingToken.value(locks.fencingEpoch, e.index()), current != null);
    kvRequests.put(d.requestId(), d.fingerprint(), r, e, clock.elapsedMs());
    return r;
  }

  private static Failure checkKvCall(String requestId, String key, long expectedRevision, String fenceLock,
      long fenceToken) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null) {
      bad = Names.checkKey(key);
    }
    if (bad == null && expectedRevision < -1) {
      bad = "expected_revision must be -1 (any), 0 (absent) or a revision, got " + expectedRevision;
    }
    if (bad == null && !fenceLock.isEmpty()) {
      bad = Names.checkLockName(fenceLock);
      if (bad == null && fenceToken <= 0) {
        bad = "a fenced write needs the lock's token (positive), got " + fenceToken;
      }
    }
    return bad == null ? null : new Failure(ErrorCode.INVALID_ARGUMENT, bad);
  }

  /**
   * The conditions of a write, checked atomically with it: the fence (the token is the lock's
   * current one and the lock is held) and the expected revision.
   */
  private Failure checkWrite(String key, KvEntry current, long expectedRevision, String fenceLock, long fenceToken) {
    Failure f = checkFence(fenceLock, fenceToken);
    if (f != null) {
      return f;
    }
    if (expectedRevision == 0 && current != null) {
      return new Failure(ErrorCode.REVISION_MISMATCH, "key '" + key + "' exists (revision " + current.revision()
          + "); the write required it absent");
    }
    if (expectedRevision > 0 && (current == null || current.revision() != expectedRevision)) {
      return new Failure(ErrorCode.REVISION_MISMATCH, "key '" + key + "' is "
          + (current == null ? "absent" : "at revision " + current.revision()) + ", not at revision "
          + expectedRevision);
    }
    return null;
  }

  /** Null when {@code token} is {@code lockName}'s current token and the lock is held. */
  public Failure checkFence(String lockName, long token) {
    if (lockName.isEmpty()) {
      return null;
    }
    LockRecord lock = locks.get(lockName);
    if (lock == null || !lock.isHeld()) {
      long last = lock == null ? 0 : lock.token;
      return new Failure(ErrorCode.STALE_TOKEN, "token " + token + " is stale: lock '" + lockName
          + "' is not held" + (last == 0 ? "" : " (its last token was " + last + ")"), last);
    }
    if (lock.token != token) {
      return new Failure(ErrorCode.STALE_TOKEN, "token " + token + " is stale: lock '" + lockName
          + "' is held with token " + lock.token, lock.token);
    }
    return null;
  }

  /** Keys' and values' bytes in the key-value store: what max-kv-bytes limits. */
  public long kvBytes() {
    return kv.bytes();
  }

  public KvEntry kv(String key) {
    return kv.get(key);
  }

  public List<KvEntry> kvList(String prefix, int limit) {
    return kv.withPrefix(prefix, limit);
  }

  /** A page of {@link #kvList}: the keys after {@code startAfter} ("" for the first page). */
  public List<KvEntry> kvList(String prefix, String startAfter, int limit) {
    return kv.withPrefix(prefix, startAfter, limit);
  }

  /** What a retry gets: the first attempt's answer, a refusal for a reused id, or null if new. */
  private static Result earlierAnswer(RequestCache cache, String requestId, String fingerprint) {
    RequestCache.Entry cached = cache.get(requestId);
    if (cached == null) {
      return null;
    }
    return cached.fingerprint().equals(fingerprint) ? cached.result() : reused(requestId);
  }

  private Result remember(LogEntry e, SessionRecord s, Acquire a, Result r) {
    s.requests.put(a.requestId(), a.fingerprint(), r, e, clock.elapsedMs());
    return r;
  }

  private static Failure checkLockCall(String requestId, String lockName) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null) {
      bad = Names.checkLockName(lockName);
    }
    return bad == null ? null : new Failure(ErrorCode.INVALID_ARGUMENT, bad);
  }

  private static Failure checkAdmin(String requestId, String reason) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null && (reason == null || reason.isBlank())) {
      bad = "a reason is required: it goes into the audit log";
    }
    if (bad == null && reason.length() > MAX_REASON) {
      bad = "reason is " + reason.length() + " characters long; the limit is " + MAX_REASON;
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

  /**
   * Whether grant {@code token} of {@code lockName} ended without being taken away: a token of
   * this epoch already handed out, the lock free or granted again since, and no loss of it in the
   * audit log, which records every revoke and max-hold loss and still reaches back to that grant.
   * (A loss of all of a session's locks ends the session, and its release finds no session.) The
   * grant is not known to have been this lock's: a hand-made resend of a token it never had may be
   * answered as released, and changes nothing.
   */
  private boolean endedByItsHolder(String lockName, long token, LockRecord lock) {
    // Plain arithmetic, not FencingToken.of, which refuses epochs past MAX_EPOCH: any input reaches here.
    long epoch = token >>> FencingToken.INDEX_BITS;
    long index = token & (FencingToken.INDEX_LIMIT - 1);
    if (epoch != locks.fencingEpoch || index <= 0 || index > lastRevision()) {
      return false;
    }
    if (lock != null && lock.token <= token) {
      return false;   // still that grant (held by another session, or orphaned), or never it
    }
    return audit.reachesBack(index) && !audit.recordsLossOf(lockName, token);
  }

  private static Failure notHolder(String lockName, long sessionId, LockRecord lock) {
    String now = lock == null ? "it is free"
        : lock.isHeld() ? "it is held by session " + lock.holderSessionId + " with token " + lock.token
        : lock.isOrphaned() ? "it is orphaned (its holder's session ended)" : "it is free";
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

  /** See {@link Command.RaiseApplyRules}. */
  public int clusterRules() {
    return clusterRules;
  }

  /**
   * The revision of the last command applied: the position watchers resume from and that events,
   * tokens, session ids and KV revisions are numbered by (its index part). Equal to the last
   * applied log index until a batch holds more than one command.
   */
  public long lastRevision() {
    return Math.max(lastRevision, lastAppliedIndex);
  }

  /** The fencing epoch: 0 until a restore from a backup, then one more per restore. */
  public long fencingEpoch() {
    return locks.fencingEpoch;
  }

  public LogClock clock() {
    return clock;
  }

  public SessionRecord session(long id) {
    return sessions.get(id);
  }

  public Collection<SessionRecord> sessions() {
    return sessions.all();
  }

  /** Whether an open with this request id was applied recently (its retry gets the same session). */
  public boolean openedBefore(String requestId) {
    return sessions.recentOpen(requestId) != null;
  }

  /** Whether a live session holds this exclusive key (an open naming it replaces that session). */
  public boolean exclusiveKeyHeld(String key) {
    return !key.isEmpty() && sessions.holderOf(key) != null;
  }

  public int sessionCount() {
    return sessions.size();
  }

  /**
   * Whether this open would take the cluster past {@code maxSessions} live sessions (0: no limit). A
   * retry of an open that went through, or an open taking over its own ghost's exclusive key, adds
   * no session, so it passes at the limit.
   */
  public boolean opensPastLimit(long maxSessions, String requestId, String exclusiveKey) {
    return maxSessions > 0 && sessions.size() >= maxSessions && !openedBefore(requestId)
        && !exclusiveKeyHeld(exclusiveKey);
  }

  public LockRecord lock(String name) {
    return locks.get(name);
  }

  /** Locks (held, orphaned or waited on) whose names start with {@code prefix}, in name order. */
  public Collection<LockRecord> locks(String prefix) {
    return locks.withPrefix(prefix);
  }

  public List<String> heldLocks(long sessionId) {
    SessionRecord s = sessions.get(sessionId);
    return s == null ? List.of() : List.copyOf(s.heldLocks);
  }

  public List<String> waitingOn(long sessionId) {
    SessionRecord s = sessions.get(sessionId);
    return s == null ? List.of() : List.copyOf(s.waitingOn);
  }

  /** About how long a session has left without a renewal, by the log clock (0 if gone). */
  public long ttlLeftMs(long sessionId) {
    SessionRecord s = sessions.get(sessionId);
    return s == null ? 0 : Math.max(0, s.ttlMs() - (clock.elapsedMs() - s.renewedAtClockMs()));
  }

  /** Audit entries after {@code afterIndex}, for one lock or all (""), oldest first. */
  public List<AuditEntry> audit(long afterIndex, String lockName, int limit) {
    return audit.since(afterIndex, lockName, limit);
  }

  // ---- snapshots ---------------------------------------------------------------------------

  public StateImage image() {
    List<StateImage.SessionImage> ss = new ArrayList<>();
    for (SessionRecord s : sessions.all()) {
      ss.add(new StateImage.SessionImage(s.id(), s.ttlMs(), s.client(), s.createdAtMs(), s.renewedAtMs(),
          s.renewedAtClockMs(), s.renewedIndex(), cached(s.requests), s.exclusiveKey()));
    }
    return new StateImage(lastAppliedIndex, lastAppliedTerm, clock.elapsedMs(), clock.lastStampMs(),
        clock.lastStampTerm(), clock.wallMs(), ss, locks.image(), List.copyOf(sessions.recentOpens()),
        cached(adminRequests), audit.all(), List.copyOf(kv.all()), cached(kvRequests), locks.fencingEpoch,
        lastRevision(), clusterRules);
  }

  private static List<StateImage.CachedRequest> cached(RequestCache cache) {
    List<StateImage.CachedRequest> out = new ArrayList<>();
    cache.entries().forEach((id, en) -> out.add(new StateImage.CachedRequest(id, en.fingerprint(), en.result(),
        en.atClockMs())));
    return out;
  }

  /** Replaces this state with the image's (a snapshot load). */
  public void restore(StateImage img) {
    sessions.clear();
    adminRequests.entries().clear();
    audit.clear();
    lastAppliedIndex = img.lastAppliedIndex();
    lastAppliedTerm = img.lastAppliedTerm();
    lastRevision = Math.max(img.lastRevision(), img.lastAppliedIndex());
    clusterRules = Math.max(img.clusterRules(), LogEntry.NEGOTIATED_FROM);
    clock.restore(img.clockElapsedMs(), img.clockLastStampMs(), img.clockLastStampTerm(), img.clockWallMs());
    for (StateImage.SessionImage si : img.sessions()) {
      SessionRecord s = new SessionRecord(si.id(), si.ttlMs(), si.client(), si.createdAtMs(), si.exclusiveKey());
      s.renew(si.renewedIndex(), si.renewedAtMs(), si.renewedAtClockMs());
      for (StateImage.CachedRequest r : si.recentRequests()) {
        s.requests.restore(r.requestId(), r.fingerprint(), r.result(), r.atClockMs());
      }
      sessions.add(s);
    }
    locks.restore(img.locks());
    locks.fencingEpoch = img.fencingEpoch();
    img.recentOpens().forEach(sessions::rememberOpen);
    for (StateImage.CachedRequest r : img.adminRequests()) {
      adminRequests.restore(r.requestId(), r.fingerprint(), r.result(), r.atClockMs());
    }
    img.audit().forEach(audit::add);
    kv.clear();
    img.kv().forEach(kv::put);
    kvRequests.entries().clear();
    for (StateImage.CachedRequest r : img.kvRequests()) {
      kvRequests.restore(r.requestId(), r.fingerprint(), r.result(), r.atClockMs());
    }
  }
}
