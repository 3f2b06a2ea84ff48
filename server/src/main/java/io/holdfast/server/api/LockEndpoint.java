package io.holdfast.server.api;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.CancelWaitRequest;
import io.holdfast.proto.v1.CancelWaitResponse;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.DescribeLockResponse;
import io.holdfast.proto.v1.ListLocksRequest;
import io.holdfast.proto.v1.ListLocksResponse;
import io.holdfast.proto.v1.ListSessionsRequest;
import io.holdfast.proto.v1.ListSessionsResponse;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.ReleaseResponse;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.SessionRecord;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The lock service. A waiting acquire is queued in the replicated state and this node holds the
 * RPC until apply grants the lock ({@link GrantWaiters}); when the wait runs out, this node
 * proposes CancelWait, and if the grant won that race the caller gets the lock after all.
 */
public final class LockEndpoint extends LockServiceGrpc.LockServiceImplBase {
  static final long MAX_HOLD_LIMIT_MS = 30L * 24 * 3600 * 1000;
  private final ServerConfig config;
  private final RaftNode raft;
  private final GrantWaiters waiters;
  private final ScheduledExecutorService timers;
  private final ApiErrors errors;
  private final Responses responses;

  private final io.holdfast.server.ops.ServerMetrics metrics;

  private final Access access;
  private final java.util.concurrent.atomic.AtomicLong waitTimers = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong abandonedWaits = new java.util.concurrent.atomic.AtomicLong();

  public LockEndpoint(ServerConfig config, RaftNode raft, GrantWaiters waiters, ScheduledExecutorService timers,
      ApiErrors errors, io.holdfast.server.ops.ServerMetrics metrics, Access access) {
    this.access = access;
    this.metrics = metrics;
    this.config = config;
    this.raft = raft;
    this.waiters = waiters;
    this.timers = timers;
    this.errors = errors;
    this.responses = new Responses(raft, errors);
  }

  @Override
  public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
    String bad = checkCall(req.getRequestId(), req.getSessionId(), req.getLockName());
    if (bad == null && (req.getWaitMs() < -1 || req.getWaitMs() > config.maxWaitMs())) {
      bad = "wait_ms must be -1 (until granted), 0 (try once) or up to " + config.maxWaitMs() + ", got "
          + req.getWaitMs();
    }
    long lockDelay = req.hasLockDelayMs() ? req.getLockDelayMs() : config.defaultLockDelayMs(req.getLockName());
    if (bad == null && (lockDelay < 0 || lockDelay > config.maxLockDelayMs())) {
      bad = "lock_delay_ms must be between 0 and " + config.maxLockDelayMs() + ", got " + lockDelay;
    }
    if (bad == null && (req.getMaxHoldMs() < 0 || req.getMaxHoldMs() > MAX_HOLD_LIMIT_MS)) {
      bad = "max_hold_ms must be between 0 (no limit) and " + MAX_HOLD_LIMIT_MS + ", got " + req.getMaxHoldMs();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    long delay = lockDelay;
    ifAllowed(out, req.getLockName(), req.getSessionId(), () -> acquireAllowed(req, delay, out));
  }

  /**
   * A queued acquire's call as the waiting paths carry it. {@code calledAtMs} is the log time this
   * node read once it had applied the call: the answer gives a grant's age against it.
   */
  private record Pending(AcquireRequest req, StreamObserver<AcquireResponse> out, long started,
      long deadlineNanos, boolean forward, Context call, long calledAtMs) {
    long session() {
      return req.getSessionId();
    }

    String name() {
      return req.getLockName();
    }
  }

  private void acquireAllowed(AcquireRequest req, long lockDelay, StreamObserver<AcquireResponse> out) {
    long session = req.getSessionId();
    String name = req.getLockName();
    boolean waits = req.getWaitMs() != 0;
    // Its waits end with it: a client that cancels a waiting acquire leaves nothing registered here.
    Context call = Context.current();
    CompletableFuture<GrantWaiters.Outcome> grant = waits ? waiters.register(session, name, call) : null;
    Command.Acquire cmd = new Command.Acquire(req.getRequestId(), session, name, req.getWaitMs(), lockDelay,
        req.getMaxHoldMs(), config.limits().maxLocksPerSession(), config.limits().maxWaitersPerLock());
    long started = System.nanoTime();
    boolean forward = ForwardRequest.asked();
    raft.submit(cmd, forward).whenComplete((r, err) -> {
      if (r instanceof Result.Granted) {
        metrics.acquired(started, false);
      }
      // This node has applied the call (a forwarding follower answers only once it has): its log
      // time now is no earlier than the call's own entry, which was stamped after the client sent it.
      long calledAtMs = err != null ? 0 : logNowMs();
      // A try (no wait) comes back Queued when this session already waits for the lock with another
      // acquire: the try itself was not granted, and there is no wait of its own to await.
      if (err != null || !(r instanceof Result.Queued) || grant == null) {
        if (grant != null) {
          waiters.unregister(session, name, grant);
        }
        responses.answer(r, err, out, res -> {
          if (res instanceof Result.Granted g) {
            return acquired(session, name, g.token(), calledAtMs);
          }
          return notAcquired(name);
        });
        return;
      }
      Pending p = new Pending(req, out, started, started + TimeUnit.MILLISECONDS.toNanos(Math.max(0, req.getWaitMs())),
          forward, call, calledAtMs);
      if (!waiters.isRegistered(session, name, grant)) {
        if (call.isCancelled()) {
          // Let go of with its call (the context is marked cancelled before that): the client is
          // gone; a timed wait is still withdrawn at its deadline (see WaitTimer).
          if (req.getWaitMs() > 0) {
            abandoned(p);
          }
          return;
        }
        // Something ended the wait registered before the submit, and it may have come from an entry
        // older than this acquire's: a node behind the log (replaying after a restart) applies old
        // grants of this lock to this session that were released long since. This node has now
        // applied this acquire, so its state says what is true. (The ending event is on its way.)
        grant.whenComplete((o, e) -> settleEarlyEnd(p, o));
        return;
      }
      // Still registered, and this node has applied this acquire: every event still to come is newer.
      awaitGrant(p, grant);
    });
  }

  private long logNowMs() {
    return raft.stateMachine().read(s -> s.clock().elapsedMs());
  }

  /**
   * Answers a queued acquire whose registered wait something ended before the acquire was known to
   * be queued. Only two ends are taken as they are: a retry (this node stopped leading, or lost the
   * leader), and the end of this acquire's own wait, unless the state shows that wait still queued
   * (an end of an earlier wait under the same request id). Anything else, a grant above all, may be
   * an older entry's: the state answers.
   */
  private void settleEarlyEnd(Pending p, GrantWaiters.Outcome o) {
    if (o.kind() == GrantWaiters.Outcome.Kind.RETRY) {
      p.out().onError(errors.of(raft.notLeader(
          "this node stopped leading while the acquire waited; retry it (same request id) on the leader")));
      return;
    }
    boolean ownEnd = (o.kind() == GrantWaiters.Outcome.Kind.CANCELLED || o.kind() == GrantWaiters.Outcome.Kind.TIMED_OUT)
        && o.endedRequestId().equals(p.req().getRequestId());
    if (ownEnd && !ownWaitQueued(p.req())) {
      finish(p.out(), () -> notAcquired(p.name()));
      return;
    }
    settleFromState(p);
  }

  /** Whether the lock's queue holds a wait of this session under this acquire's request id. */
  private boolean ownWaitQueued(AcquireRequest req) {
    return raft.stateMachine().read(s -> {
      var lock = s.lock(req.getLockName());
      if (lock == null) {
        return false;
      }
      for (var w : lock.waiters()) {
        if (w.sessionId() == req.getSessionId() && w.requestId().equals(req.getRequestId())) {
          return true;
        }
      }
      return false;
    });
  }

  /** Answers a queued acquire from the state: granted, still waiting, or why not. */
  private void settleFromState(Pending p) {
    if (!p.forward() && !leads()) {
      // A wait held here now might never see its grant: as for a retry, the client asks the leader.
      p.out().onError(errors.of(raft.notLeader(
          "this node stopped leading while the acquire waited; retry it (same request id) on the leader")));
      return;
    }
    if (stillWaiting(p)) {
      return;
    }
    long session = p.session();
    if (raft.stateMachine().read(s -> s.session(session) == null)) {
      p.out().onError(errors.of(ErrorCode.SESSION_EXPIRED, "session " + session + " ended while waiting for lock '"
          + p.name() + "'"));
      return;
    }
    // The wait ended otherwise: withdrawn, or its deadline passed in the state.
    finish(p.out(), () -> notAcquired(p.name()));
  }

  private boolean leads() {
    try {
      return raft.isLeader();
    } catch (RuntimeException closing) {
      return false;
    }
  }

  /** {@code p.forward()}: the acquire was passed on to the leader, and so is its cancel on timeout. */
  private void awaitGrant(Pending p, CompletableFuture<GrantWaiters.Outcome> grant) {
    AcquireRequest req = p.req();
    String name = p.name();
    StreamObserver<AcquireResponse> out = p.out();
    WaitTimer timer = req.getWaitMs() <= 0 ? null : new WaitTimer(p, grant);
    grant.whenComplete((o, e) -> {
      if (timer != null) {
        timer.stop();
      }
      waiters.unregister(req.getSessionId(), name, grant);
      // A wait apply ended that was this call's own (its request id) ends the call, even if the same
      // entry queued a new wait for the session: that is another call's, which carries on.
      boolean endedHere = (o.kind() == GrantWaiters.Outcome.Kind.CANCELLED
          || (o.kind() == GrantWaiters.Outcome.Kind.TIMED_OUT && o.token() != -1))
          && !o.endedRequestId().equals(req.getRequestId());
      if (endedHere && stillWaiting(p)) {
        return;
      }
      switch (o.kind()) {
        case GRANTED:
          metrics.acquired(p.started(), true);
          finish(out, () -> acquired(req.getSessionId(), name, o.token(), p.calledAtMs()));
          break;
        case SESSION_ENDED:
          out.onError(errors.of(ErrorCode.SESSION_EXPIRED, "session " + req.getSessionId()
              + " ended while waiting for lock '" + name + "'"));
          break;
        case RETRY:
          out.onError(errors.of(raft.notLeader(
              "this node stopped leading while the acquire waited; retry it (same request id) on the leader")));
          break;
        case TIMED_OUT:
          if (o.token() == -1) {
            cancelOnTimeout(p);
          } else {
            finish(out, () -> notAcquired(name));
          }
          break;
        default:
          finish(out, () -> notAcquired(name));
      }
    });
  }

  /**
   * Waits are per session and lock, so the end of one may be the end of another call's: the same
   * session's earlier acquire, withdrawn in the same entry that queued this one. If the session
   * still waits (or now holds the lock), this call carries on; true if it does. (Never for the call
   * whose own wait ended: the state it reads may already hold the next call's wait.)
   */
  private boolean stillWaiting(Pending p) {
    long session = p.session();
    String name = p.name();
    CompletableFuture<GrantWaiters.Outcome> again = waiters.register(session, name, p.call());
    // Registered first, read second: whatever is applied after the read completes {@code again}.
    long holds = raft.stateMachine().read(s -> {
      var lock = s.lock(name);
      if (lock == null) {
        return 0L;
      }
      if (lock.isHeld() && lock.holderSessionId() == session) {
        return lock.token();
      }
      for (var w : lock.waiters()) {
        if (w.sessionId() == session) {
          return -1L;
        }
      }
      return 0L;
    });
    if (holds == 0) {
      waiters.unregister(session, name, again);
      return false;
    }
    if (holds > 0) {
      again.complete(new GrantWaiters.Outcome(GrantWaiters.Outcome.Kind.GRANTED, holds));
    }
    awaitGrant(p, again);
    return true;
  }

  /**
   * Ends a timed wait when it runs out here (its grant future completes TIMED_OUT, and awaitGrant
   * withdraws the wait). A call its client cancels lets go of its timer and with it the call: kept
   * until due (up to max-wait-ms), a client cancelling long waits at its rate limit would fill the
   * heap with calls nobody reads. What is left is the withdrawal at the deadline, in a few fields
   * ({@link #abandoned}): withdrawn at once instead, a retry of the acquire after a broken
   * connection (same request id, answered "queued" from the state's cache) would wait for a wait
   * that no longer exists.
   */
  private final class WaitTimer {
    private final java.util.concurrent.atomic.AtomicBoolean over = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.ScheduledFuture<?> task;

    WaitTimer(Pending p, CompletableFuture<GrantWaiters.Outcome> grant) {
      waitTimers.incrementAndGet();
      task = timers.schedule(() -> {
        if (over.compareAndSet(false, true)) {
          waitTimers.decrementAndGet();
          grant.complete(new GrantWaiters.Outcome(GrantWaiters.Outcome.Kind.TIMED_OUT, -1));
        }
      }, Math.max(0, p.deadlineNanos() - System.nanoTime()), TimeUnit.NANOSECONDS);
      // Runs at once if the call is already gone. The call's context is also cancelled once it is
      // answered; by then the grant has completed and stopped this timer.
      Context.CancellationListener gone = c -> {
        if (stop()) {
          abandoned(p);
        }
      };
      p.call().addListener(gone, Runnable::run);
      grant.whenComplete((o, e) -> p.call().removeListener(gone));
    }

    /** Stops the timer unless it has run; true if this call stopped it. */
    boolean stop() {
      if (!over.compareAndSet(false, true)) {
        return false;
      }
      waitTimers.decrementAndGet();
      task.cancel(false);
      return true;
    }
  }

  /** The withdrawal at its deadline of a timed wait whose call is gone, holding only what it names. */
  private void abandoned(Pending p) {
    long session = p.session();
    String name = p.name();
    String acquireId = p.req().getRequestId();
    boolean forward = p.forward();
    abandonedWaits.incrementAndGet();
    try {
      timers.schedule(() -> {
        abandonedWaits.decrementAndGet();
        raft.submit(new Command.CancelWait(Names.derivedRequestId(acquireId, "#timeout"), session, name, acquireId,
            false), forward);
      }, Math.max(0, p.deadlineNanos() - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      abandonedWaits.decrementAndGet(); // the node is stopping: apply's backstop withdraws it
    }
  }

  /** Timed waits this node is timing with their calls (a gauge). */
  public long waitTimers() {
    return waitTimers.get();
  }

  /** Timed waits whose calls were cancelled, to be withdrawn at their deadlines (a gauge). */
  public long abandonedWaits() {
    return abandonedWaits.get();
  }

  /** The wait ran out here: withdraw it, unless the grant won the race. */
  private void cancelOnTimeout(Pending p) {
    AcquireRequest req = p.req();
    String name = p.name();
    StreamObserver<AcquireResponse> out = p.out();
    Command.CancelWait cancel = new Command.CancelWait(Names.derivedRequestId(req.getRequestId(), "#timeout"),
        req.getSessionId(), name, req.getRequestId(), false);
    raft.submit(cancel, p.forward()).whenComplete((r, err) -> {
      if (r instanceof Result.Failure f && f.code() == ErrorCode.WAIT_NOT_FOUND) {
        // Already ended by apply (its own backstop) before our cancel landed.
        finish(out, () -> notAcquired(name));
        return;
      }
      responses.answer(r, err, out, res -> {
        Result.WaitCancelled c = (Result.WaitCancelled) res;
        return c.wasGranted() ? acquired(req.getSessionId(), name, c.token(), p.calledAtMs()) : notAcquired(name);
      });
    });
  }

  private static <T> void finish(StreamObserver<T> out, Supplier<T> value) {
    try {
      out.onNext(value.get());
      out.onCompleted();
    } catch (IllegalStateException e) {
      // cancelled by the client meanwhile
    }
  }

  /**
   * A grant's answer. With a max hold, it says how old the grant was when the call was applied
   * ({@code calledAtMs}, log time): negative for a grant made after that (the call waited). The
   * client counts the limit from its send less that age, which is safe because the call's entry was
   * stamped after the send and log time never runs faster than real time.
   */
  private AcquireResponse acquired(long session, String name, long token, long calledAtMs) {
    AcquireResponse.Builder b = AcquireResponse.newBuilder().setHeader(responses.header()).setGranted(true)
        .setToken(token);
    raft.stateMachine().read(s -> {
      b.setLock(ProtoViews.lockInfo(s, name, false));
      var lock = s.lock(name);
      if (lock != null && lock.isHeld() && lock.holderSessionId() == session && lock.token() == token
          && lock.maxHoldMs() > 0) {
        long grantedAt = lock.holdDeadlineClockMs() - lock.maxHoldMs();
        b.setGrantAgeAtCallMs(calledAtMs - grantedAt);
      }
      return null;
    });
    return b.build();
  }

  private AcquireResponse notAcquired(String name) {
    io.holdfast.proto.v1.LockInfo view = raft.stateMachine().read(s -> ProtoViews.lockInfo(s, name, false));
    return AcquireResponse.newBuilder().setHeader(responses.header()).setGranted(false).setLock(view).build();
  }

  private io.holdfast.proto.v1.LockInfo lockView(String name) {
    return raft.stateMachine().read(s -> ProtoViews.lockInfo(s, name));
  }

  @Override
  public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
    String bad = checkCall(req.getRequestId(), req.getSessionId(), req.getLockName());
    if (bad == null && req.getToken() <= 0) {
      bad = "token must be positive, got " + req.getToken();
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    ifAllowed(out, req.getLockName(), req.getSessionId(), () -> responses.submit(new Command.Release(
        req.getRequestId(), req.getSessionId(), req.getLockName(), req.getToken(), req.getResent()),
        out, r -> ReleaseResponse.newBuilder().setHeader(responses.header())
            .setNextHolderSessionId(((Result.Released) r).nextHolderSessionId()).build()));
  }

  @Override
  public void cancelWait(CancelWaitRequest req, StreamObserver<CancelWaitResponse> out) {
    String bad = checkCall(req.getRequestId(), req.getSessionId(), req.getLockName());
    if (bad == null && req.getAcquireRequestId().length() > Names.MAX_REQUEST_ID) {
      // It goes into the log and comes back in the answer: bounded like any request id.
      bad = "acquire_request_id is " + req.getAcquireRequestId().length() + " characters long; the limit is "
          + Names.MAX_REQUEST_ID;
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    // Only a named acquire's grant is released: an anonymous cancel matches whatever the session holds,
    // so a late retry of one could release a grant made since, with no token to tell them apart.
    boolean releaseIfGranted = !req.getAcquireRequestId().isEmpty();
    ifAllowed(out, req.getLockName(), req.getSessionId(), () -> responses.submit(new Command.CancelWait(
        req.getRequestId(), req.getSessionId(), req.getLockName(), req.getAcquireRequestId(), releaseIfGranted), out,
        r -> CancelWaitResponse.newBuilder().setHeader(responses.header())
            .setReleased(((Result.WaitCancelled) r).released()).build()));
  }

  @Override
  public void describeLock(DescribeLockRequest req, StreamObserver<DescribeLockResponse> out) {
    String bad = Names.checkLockName(req.getLockName());
    if (bad == null) {
      bad = access.checkLength("lock name", req.getLockName());
    }
    if (bad != null) {
      out.onError(errors.invalid(bad));
      return;
    }
    var denied = access.require(io.holdfast.server.security.Verb.READ, req.getLockName());
    if (denied != null) {
      out.onError(denied);
      return;
    }
    responses.read(req.getStaleOk(), out, () -> DescribeLockResponse.newBuilder().setHeader(responses.header())
        .setLock(lockView(req.getLockName())).build());
  }

  @Override
  public void listLocks(ListLocksRequest req, StreamObserver<ListLocksResponse> out) {
    if (req.getPrefix().length() > Names.MAX_LOCK_NAME) {
      out.onError(errors.invalid("prefix is longer than the longest lock name (" + Names.MAX_LOCK_NAME + ")"));
      return;
    }
    String me = Access.who();
    responses.read(req.getStaleOk(), out, () -> raft.stateMachine().read(s -> {
      ListLocksResponse.Builder b = ListLocksResponse.newBuilder();
      for (LockRecord l : s.locks(req.getPrefix())) {
        // A listing shows only what the caller may read (the ACL filters, it does not refuse).
        if (access.can(me, io.holdfast.server.security.Verb.READ, l.name())) {
          b.addLocks(ProtoViews.lockInfo(s, l));
        }
      }
      return b;
    }).setHeader(responses.header()).build());
  }

  @Override
  public void listSessions(ListSessionsRequest req, StreamObserver<ListSessionsResponse> out) {
    // Everyone sees their own sessions; those who may read every name (or admins) see all.
    boolean all = access.can(io.holdfast.server.security.Verb.READ, "");
    String me = Access.who();
    responses.read(req.getStaleOk(), out, () -> raft.stateMachine().read(s -> {
      ListSessionsResponse.Builder b = ListSessionsResponse.newBuilder();
      for (SessionRecord r : s.sessions()) {
        if (all || r.client().principal().equals(me)) {
          b.addSessions(ProtoViews.sessionInfo(s, r));
        }
      }
      return b;
    }).setHeader(responses.header()).build());
  }



  private String checkCall(String requestId, long sessionId, String lockName) {
    String bad = Names.checkRequestId(requestId);
    if (bad == null && sessionId <= 0) {
      bad = "session_id must be positive, got " + sessionId;
    }
    if (bad == null) {
      bad = Names.checkLockName(lockName);
    }
    if (bad == null) {
      bad = access.checkLength("lock name", lockName);
    }
    return bad;
  }

  /** Runs {@code allowed} if the caller may lock {@code lockName} and owns the session; else answers the refusal. */
  private void ifAllowed(StreamObserver<?> out, String lockName, long sessionId, Runnable allowed) {
    var denied = access.require(io.holdfast.server.security.Verb.LOCK, lockName);
    if (denied != null) {
      out.onError(denied);
      return;
    }
    access.withOwnSession(sessionId, out, allowed);
  }
}
