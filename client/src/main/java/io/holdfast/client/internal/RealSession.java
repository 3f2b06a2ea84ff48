package io.holdfast.client.internal;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.StatusRuntimeException;
import io.holdfast.client.HoldfastException;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import io.holdfast.client.SessionListener;
import io.holdfast.client.SessionState;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AcquireResponse;
import io.holdfast.proto.v1.CancelWaitRequest;
import io.holdfast.proto.v1.CloseSessionRequest;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.ReleaseResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A session: its keepalive stream, its local deadline, its state events, and its locks.
 *
 * <p>Keepalives go every TTL/3 over one stream to the leader. Each carries a sequence number; the
 * send time of the newest acknowledged one, plus TTL minus a margin, is the local deadline. A
 * watchdog declares the session SUSPENDED when a keepalive goes unanswered for max(500 ms, TTL/6)
 * and renews on a new stream through the next endpoint (a late answer on the old stream still
 * counts), and EXPIRED when the deadline passes. The server counts the TTL from when it received
 * that same keepalive, so the client always knows first.
 */
public final class RealSession implements Session {
  private static final Logger LOG = LoggerFactory.getLogger(RealSession.class);

  private final long id;
  private final Duration ttl;
  private final long marginNanos;
  private final long intervalNanos;
  private final Caller caller;
  /** Keepalives and the watchdog: threads that never run application code (see ClientCore). */
  private final ScheduledExecutorService timers;
  /** State events and onExpired, in order, on the listener executor. */
  private final Executor events;
  private final Duration callTimeout;
  private final List<SessionListener> listeners = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> expired = new CompletableFuture<>();
  /** Releases sent and not yet answered: the session's expiry ends them (see endsWithTheSession). */
  private final Map<CompletableFuture<Void>, UnansweredRelease> unansweredReleases = new ConcurrentHashMap<>();

  /** {@code begunValid}: sent while the lease was valid, its max hold included. */
  private record UnansweredRelease(RealLease lease, CompletableFuture<?> call, boolean begunValid) {}

  private static final int EXPIRED_LOCALLY = 1;
  private static final int EXPIRED_BY_CLUSTER = 2;
  /** Closed by its owner: the close releases every lock, so a release still unanswered ends cleanly. */
  private static final int CLOSED_BY_OWNER = 3;
  /** 0 until the session ends; then how (set before the end settles unanswered releases). */
  private volatile int expiry;
  private final Set<RealLease> leases = ConcurrentHashMap.newKeySet();
  /** Acquires under way, with their lock names. */
  private final Map<CompletableFuture<Optional<LockLease>>, String> pendingAcquires = new ConcurrentHashMap<>();
  /**
   * Orders what this session sends about one lock. A session that holds a lock and asks for it again
   * gets the same grant (token) back, so a release or withdrawal still on its way when another
   * caller's acquire arrives would take that caller's lock. Such a release is sent only if no other
   * lease or acquire of the session claims the lock, and while it is on its way (its gate), new
   * acquires of the lock wait for it.
   */
  private final Object claims = new Object();
  private final Map<String, CompletableFuture<?>> gates = new java.util.HashMap<>(); // guarded by claims
  /** Locks whose wait an acquire that gave up left to other claimants (see withdraw). */
  private final Set<String> sharedWaits = new java.util.HashSet<>(); // guarded by claims
  /**
   * Releases and withdrawals whose every attempt went unanswered, by request id: applied or not,
   * nobody knows, and one may still reach the leader. Until a resend of it is answered, the session
   * does not take that lock again: the cluster would give back the same grant, which the late
   * release (or withdrawal, which releases a grant it finds) then ends while the new lease still
   * says it is valid.
   */
  private final Map<String, Doubt> doubts = new ConcurrentHashMap<>();

  /** {@code token} > 0: a release of that grant; 0: a withdrawal of acquire {@code acquireRequestId} ("" any). */
  private record Doubt(String lockName, String requestId, long token, String acquireRequestId) {}

  private Doubt doubtAbout(String name) {
    for (Doubt d : doubts.values()) {
      if (d.lockName().equals(name)) {
        return d;
      }
    }
    return null;
  }

  /** Whether a release's or withdrawal's failure says how it ended (refused, or nothing there to act on). */
  private static boolean settles(Throwable err) {
    HoldfastException e = Errors.map(err);
    return e instanceof SessionExpiredException || e instanceof io.holdfast.client.StaleTokenException
        || e instanceof LockLostException || e instanceof io.holdfast.client.InvalidArgumentException
        || e instanceof io.holdfast.client.PermissionDeniedException || Errors.codeOf(err).equals("WAIT_NOT_FOUND");
  }

  /** A release or withdrawal went unanswered: remembered, unless the session is over anyway. */
  private void doubt(Doubt d, Throwable err) {
    if (err != null && !settles(err) && !isFinal()) {
      doubts.put(d.requestId(), d);
    }
  }

  /** Elections this session campaigns in or leads, by name (see {@link #candidacy}). */
  private final Map<String, Candidacy> candidacies = new java.util.HashMap<>(); // guarded by itself

  /** This session's candidacy in election {@code name}: at most one at a time. */
  Candidacy candidacy(String name) {
    return new Candidacy(name);
  }

  /** One campaign of this session in an election, from its start until it resigns or its lease is lost. */
  final class Candidacy {
    private final String election;
    private volatile java.util.function.BooleanSupplier live = () -> true;

    private Candidacy(String election) {
      this.election = election;
    }

    /** False if another candidacy of this session in the election is still campaigning or leading. */
    boolean begin() {
      synchronized (candidacies) {
        Candidacy other = candidacies.get(election);
        if (other != null && other.live.getAsBoolean()) {
          return false;
        }
        candidacies.put(election, this);
        return true;
      }
    }

    /** It leads: live while {@code valid} says so (a lost lease ends it without a resign). */
    void leading(java.util.function.BooleanSupplier valid) {
      live = valid;
    }

    void end() {
      live = () -> false;
      synchronized (candidacies) {
        candidacies.remove(election, this);
      }
    }
  }

  /** Locks whose release as unclaimed was refused, and when to try again (System.nanoTime). */
  private final Map<String, Long> reclaimRefused = new ConcurrentHashMap<>();
  /** Guards the renewal state: the keepalives' sequence and send times, what is unanswered, the local deadline. */
  private final Object renewal = new Object();
  private final Map<Long, Long> sendTimes = new ConcurrentHashMap<>();
  /** The same sends on the wall clock (see validUntilWallMs). */
  private final Map<Long, Long> sendWallTimes = new ConcurrentHashMap<>();
  private final AtomicLong seq = new AtomicLong();
  private final Object streamLock = new Object();
  private final ScheduledFuture<?> keepaliveTask;
  private final ScheduledFuture<?> watchdogTask;

  private final long ackTimeoutNanos;
  private long pendingSinceNanos; // guarded by renewal: send time of the oldest unanswered keepalive, or 0
  private long highestAnswered; // guarded by renewal
  /** The first keepalive sent since a stream was given up on: those before it are not waited for. */
  private long pendingFloor = 1; // guarded by renewal
  private volatile long validUntilNanos; // written under renewal
  /**
   * The same deadline on the wall clock. System.nanoTime stands still while the machine or VM is
   * suspended, and the cluster's clocks do not: after a resume only the wall clock shows the time
   * gone. A wall clock stepped forward ends the session early, the safe way round.
   */
  private volatile long validUntilWallMs; // written under renewal
  private long lastAckSendNanos; // guarded by renewal
  private volatile SessionState state = SessionState.CONNECTED;
  private ClientCallStreamObserver<KeepAliveRequest> stream; // guarded by streamLock
  private String streamEndpoint; // guarded by streamLock
  /** Whether the current stream asks its node to relay to the leader (KeepAliveRequest.forward). */
  private boolean streamRelayed; // guarded by streamLock
  /** The node the next stream should ask to relay, or null: see {@link #leaderOutOfReach}. */
  private String relayVia; // guarded by streamLock
  /** The endpoint this session last gave up on (no answer, or unreachable), and when. */
  private String gaveUpOn; // guarded by streamLock
  private long gaveUpAtNanos; // guarded by streamLock
  /** The leader a relayed stream relays to, and since when this session has relayed (or last probed). */
  private String relayedLeader; // guarded by streamLock
  /** A node that answered a relayed stream with NOT_LEADER (an older version), and when. */
  private String relayRefusedBy; // guarded by streamLock
  private long relayRefusedAtNanos; // guarded by streamLock
  private long relayedSinceNanos; // guarded by streamLock
  /** A direct stream to {@link #relayedLeader} that is trying whether the leader is back in reach. */
  private ClientCallStreamObserver<KeepAliveRequest> probe; // guarded by streamLock
  private int reconnects; // guarded by streamLock
  /** Streams given up on for a slow answer, still open for it; see {@link #resetStream}. */
  private final List<ClientCallStreamObserver<KeepAliveRequest>> abandoned = new java.util.ArrayList<>(); // guarded by streamLock

  /**
   * How much sooner than the cluster this client gives its session up: a tenth of the TTL (50 ms to
   * 1 s) for scheduling and transport, plus a millisecond per second of TTL for the clocks. Two
   * clocks slewed the most NTP slews each (500 ppm) drift that far apart, and a TTL of an hour would
   * outrun a fixed second.
   */
  static long marginNanos(Duration ttl) {
    return TimeUnit.MILLISECONDS.toNanos(Math.min(1_000, Math.max(50, ttl.toMillis() / 10)) + ttl.toMillis() / 1_000);
  }

  RealSession(long id, Duration ttl, long openSentNanos, Caller caller, ScheduledExecutorService timers,
      Executor events, Duration callTimeout) {
    this(id, ttl, openSentNanos, System.currentTimeMillis() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - openSentNanos),
        caller, timers, events, callTimeout);
  }

  RealSession(long id, Duration ttl, long openSentNanos, long openSentWallMs, Caller caller,
      ScheduledExecutorService timers, Executor events, Duration callTimeout) {
    this.id = id;
    this.ttl = ttl;
    this.caller = caller;
    this.timers = timers;
    this.events = events;
    this.callTimeout = callTimeout;
    this.marginNanos = marginNanos(ttl);
    this.intervalNanos = ttl.toNanos() / 3;
    this.ackTimeoutNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(500), intervalNanos / 2);
    this.lastAckSendNanos = openSentNanos;
    this.validUntilNanos = openSentNanos + ttl.toNanos() - marginNanos;
    this.validUntilWallMs = openSentWallMs + TimeUnit.NANOSECONDS.toMillis(ttl.toNanos() - marginNanos);
    long watchMs = Math.max(10, Math.min(100, ttl.toMillis() / 20));
    // The session counts from the first open attempt: an open retried for a while (a cluster still
    // electing) leaves less than a TTL, maybe less than one interval. Renew within a third of
    // what is left, not a whole interval after the open, or it expires before its first keepalive.
    long left = validUntilNanos - System.nanoTime();
    long firstNanos = Math.max(0, Math.min(intervalNanos, left / 3));
    this.keepaliveTask = timers.scheduleAtFixedRate(this::sendKeepAlive, firstNanos, intervalNanos,
        TimeUnit.NANOSECONDS);
    this.watchdogTask = timers.scheduleAtFixedRate(this::watch, watchMs, watchMs, TimeUnit.MILLISECONDS);
  }

  /** {@code events}: where state events and onExpired's dependents run, in order (see OrderedDelivery). */
  static CompletableFuture<RealSession> open(Caller caller, ScheduledExecutorService timers,
      io.holdfast.proto.v1.ClientIdentity identity, Duration ttl, String exclusiveKey, Executor events,
      Duration callTimeout) {
    String requestId = RequestIds.next();
    Long[] sent = new Long[2];
    return caller.call("open session", callTimeout, (ch, t) -> {
      // The first attempt's send time: a retry may be answered from the request cache, the session
      // then dating from when an earlier attempt was applied, so only the first send bounds it.
      if (sent[0] == null) {
        sent[0] = System.nanoTime();
        sent[1] = System.currentTimeMillis();
      }
      return SessionServiceGrpc.newFutureStub(ch).withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
          .openSession(io.holdfast.proto.v1.OpenSessionRequest.newBuilder().setRequestId(requestId)
              .setTtlMs(ttl.toMillis()).setClient(identity).setExclusiveKey(exclusiveKey).build());
    }).thenApply(r -> {
      // A server that granted less than asked (none does today) must not be outlived.
      Duration granted = r.getTtlMs() > 0 && r.getTtlMs() < ttl.toMillis() ? Duration.ofMillis(r.getTtlMs()) : ttl;
      RealSession s = new RealSession(r.getSessionId(), granted, sent[0], sent[1], caller, timers, events, callTimeout);
      if (s.pastDeadline()) {
        // Opened, but answered after its TTL (the open was retried through a long election): handed
        // out, it would expire at once. Closed on the cluster, so that it holds nothing for nobody.
        s.closeAsync();
        throw new io.holdfast.client.ClusterUnavailableException("open session: the cluster answered after the session's TTL of "
            + granted.toMillis() + " ms had run out (" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent[0])
            + " ms after the first attempt); that session was closed. Open another, or use a longer TTL");
      }
      return s;
    });
  }

  @Override
  public long id() {
    return id;
  }

  @Override
  public Duration ttl() {
    return ttl;
  }

  @Override
  public SessionState state() {
    return state;
  }

  @Override
  public Instant validUntil() {
    long left = validUntilNanos - System.nanoTime();
    Instant byMonotonic = Instant.now().plusNanos(left);
    Instant byWall = Instant.ofEpochMilli(validUntilWallMs);
    return byWall.isBefore(byMonotonic) ? byWall : byMonotonic;
  }

  @Override
  public boolean isValid() {
    if (isFinal()) {
      return false;
    }
    // Under the lock that answers extend the deadline under: once this says false, no answer
    // already on its way can make it say true again (see onAck).
    synchronized (renewal) {
      return !pastDeadline();
    }
  }

  @Override
  public CompletableFuture<Void> onExpired() {
    if (expired.isDone()) {
      return expired.copy();
    }
    // Its dependents are application code: they run on the listener executor, after the EXPIRED
    // event, and never on the watchdog's thread, which other sessions' renewals need.
    CompletableFuture<Void> out = new CompletableFuture<>();
    expired.whenComplete((v, err) -> events.execute(() -> {
      if (err == null) {
        out.complete(null);
      } else {
        // As copy() would: a close cancels the session's future, and a copy fails with that as cause.
        out.completeExceptionally(new java.util.concurrent.CompletionException(err));
      }
    }));
    return out;
  }

  @Override
  public void addListener(SessionListener listener) {
    listeners.add(listener);
  }

  // ---- keepalives --------------------------------------------------------------------------

  void sendKeepAlive() {
    if (isFinal()) {
      return;
    }
    long n;
    synchronized (renewal) {
      if (pastDeadline()) {
        n = -1; // after a pause, say, the missed runs come back to back: not one renews a session given up
      } else {
        n = seq.incrementAndGet();
        long now = System.nanoTime();
        sendTimes.put(n, now);
        sendWallTimes.put(n, System.currentTimeMillis());
        long oldest = n - 64;
        sendTimes.keySet().removeIf(k -> k < oldest);
        sendWallTimes.keySet().removeIf(k -> k < oldest);
        if (pendingSinceNanos == 0) {
          pendingSinceNanos = now;
        }
      }
    }
    if (n < 0) {
      return; // the watchdog expires it (not from here: this may run before the constructor is done)
    }
    synchronized (streamLock) {
      if (isFinal()) {
        return; // stopped since the check above: a stream opened now would never be closed
      }
      // Nothing may escape: an exception out of a periodic task cancels it, and with it the session's renewals.
      try {
        if (stream == null) {
          openStream();
        }
        stream.onNext(KeepAliveRequest.newBuilder().setSessionId(id).setSeq(n).setForward(streamRelayed).build());
        if (streamRelayed) {
          probeLeader(n);
        }
      } catch (RuntimeException e) {
        LOG.debug("session {}: keepalive send failed: {}", id, e.toString());
        stream = null;
      }
    }
  }

  private void openStream() {
    String endpoint = relayVia != null ? relayVia : caller.endpoints().current();
    streamRelayed = relayVia != null;
    relayVia = null;
    streamEndpoint = endpoint;
    KeepAliveObserver observer = new KeepAliveObserver() {
      @Override
      void seen(KeepAliveResponse r) {
        if (stream == mine && streamRelayed) {
          if (!r.getRelayed()) {
            // The node this stream relays through answered itself: it leads now.
            streamRelayed = false;
            relayedLeader = null;
          } else if (!r.getLeader().isEmpty()) {
            if (r.getLeader().equals(gaveUpOn)) {
              // Still the leader this session could not reach: this client's writes go around it too.
              caller.endpoints().silent(r.getLeader());
            } else if (!r.getLeader().equals(relayedLeader)) {
              // Another leader (an election since): it may well be in reach, so probe it next time
              // rather than after the usual ten intervals.
              relayedSinceNanos = System.nanoTime() - RELAY_PROBE_EVERY_INTERVALS * intervalNanos;
            }
            relayedLeader = r.getLeader();   // where a probe should go
          }
        }
      }

      @Override
      void ended(Throwable t) {
        streamFailed(mine, endpoint, t);
      }
    };
    stream = (ClientCallStreamObserver<KeepAliveRequest>) SessionServiceGrpc.newStub(caller.endpoints().channel(endpoint))
        .keepAlive(observer);
  }

  /** One keepalive stream's observer: every answer counts for the session, whichever stream it came on. */
  private abstract class KeepAliveObserver implements ClientResponseObserver<KeepAliveRequest, KeepAliveResponse> {
    ClientCallStreamObserver<KeepAliveRequest> mine;

    @Override
    public void beforeStart(ClientCallStreamObserver<KeepAliveRequest> requestStream) {
      mine = requestStream;
    }

    @Override
    public void onNext(KeepAliveResponse r) {
      synchronized (streamLock) {
        seen(r);
      }
      onAck(r);
    }

    @Override
    public void onError(Throwable t) {
      ended(t);
    }

    @Override
    public void onCompleted() {
      ended(null);
    }

    /** Under streamLock, before the answer counts. */
    abstract void seen(KeepAliveResponse r);

    /** The call ended; {@code t} is null for a clean end. */
    abstract void ended(Throwable t);
  }

  private void streamFailed(ClientCallStreamObserver<KeepAliveRequest> failed, String endpoint, Throwable t) {
    long delayMs;
    String refused = null;
    synchronized (streamLock) {
      if (stream != failed) {
        abandoned.remove(failed);
        return;
      }
      stream = null;
      boolean wasRelayed = streamRelayed;
      streamRelayed = false;
      StatusRuntimeException e = t instanceof StatusRuntimeException sre ? sre : null;
      String hint = e == null ? null : Errors.leaderHint(e);
      Endpoints endpoints = caller.endpoints();
      long backoffMs = Math.min(intervalNanos / 1_000_000, 50L << Math.min(6, reconnects));
      if (wasRelayed && hint != null) {
        // Asked to relay, it named the leader instead: a node too old to relay. Not again for a TTL.
        relayRefusedBy = endpoint;
        relayRefusedAtNanos = System.nanoTime();
      }
      boolean mayRelay = !(endpoint.equals(relayRefusedBy) && System.nanoTime() - relayRefusedAtNanos < ttl.toNanos());
      // Out of reach: this session gave up on it, or the client's calls found it silent.
      if (hint != null && !hint.equals(endpoint) && mayRelay && (leaderOutOfReach(hint) || endpoints.wentSilent(hint))) {
        // This node is up and names a leader this session could not reach: the leader is alive
        // but cut off from us. Ask this node to pass the keepalives on to it.
        LOG.info("session {}: the leader {} is out of reach from here; renewing through {}", id, hint, endpoint);
        relayVia = endpoint;
        relayedLeader = hint;
        relayedSinceNanos = System.nanoTime();
        delayMs = 0;
      } else if (hint != null && !hint.equals(endpoint) && !endpoints.suspect(hint)) {
        endpoints.leaderHint(hint);
        delayMs = 0;
      } else if (e != null && Errors.noLeader(e)) {
        // An election is under way: ask again soon, so that the session loses little of its TTL.
        endpoints.failed(endpoint);
        delayMs = Math.min(backoffMs, 100);
      } else if (e != null && e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE && Errors.code(e).isEmpty()) {
        endpoints.unreachable(endpoint);
        gaveUpOn(endpoint);
        delayMs = endpoints.suspect(endpoints.current()) ? backoffMs : 0;
      } else if (e != null && refusesThisClient(e.getStatus().getCode())) {
        // A node that answered, and will answer so again (another identity since a credential
        // rotated, an ACL changed): no reconnect renews this session. Not the node's failure.
        refused = e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        delayMs = 0;
      } else if (e != null && e.getStatus().getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED) {
        delayMs = backoffMs; // rate-limited: the node is fine, and the leader still
      } else {
        endpoints.failed(endpoint);
        delayMs = backoffMs;
      }
      reconnects++;
    }
    if (refused != null) {
      expire("the cluster refused its keepalives (" + refused + ")", true);
      return;
    }
    LOG.debug("session {}: keepalive stream to {} ended ({}); reconnecting in {} ms", id, endpoint, t, delayMs);
    if (!isFinal()) {
      // Reconnect and renew at once rather than waiting for the next tick: a failover should cost
      // the session as little of its TTL as possible.
      try {
        timers.schedule(this::sendKeepAlive, delayMs, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        // the client is closing: its sessions are being closed too
      }
    }
  }

  /**
   * A refusal the server made and said so (its error code): nothing was queued. Without one, a
   * RESOURCE_EXHAUSTED may be gRPC's own (an answer too large to read) after the call was applied.
   */
  private static boolean refusedByServer(Throwable err) {
    return Errors.unwrap(err) instanceof StatusRuntimeException e && !Errors.code(e).isEmpty();
  }

  private static boolean refusesThisClient(io.grpc.Status.Code code) {
    return code == io.grpc.Status.Code.PERMISSION_DENIED || code == io.grpc.Status.Code.UNAUTHENTICATED
        || code == io.grpc.Status.Code.INVALID_ARGUMENT;
  }

  private void onAck(KeepAliveResponse r) {
    if (!r.getAlive()) {
      expire("the cluster no longer knows session " + id + " (" + r.getError() + ")", false);
      return;
    }
    boolean lapsed;
    synchronized (renewal) {
      Long sent = sendTimes.get(r.getSeq());
      Long sentWall = sendWallTimes.get(r.getSeq());
      if (sent == null || sentWall == null) {
        return;
      }
      // The deadline passed before the watchdog looked: isValid() may already have said false, and
      // a lease that was invalid must never become valid again. The session is over for the client.
      lapsed = pastDeadline();
      if (!lapsed) {
        answered(r.getSeq());
        if (sent - lastAckSendNanos > 0) {
          lastAckSendNanos = sent;
          // Never extend a session that the watchdog already declared expired.
          if (!isFinal()) {
            validUntilNanos = sent + ttl.toNanos() - marginNanos;
            validUntilWallMs = sentWall + TimeUnit.NANOSECONDS.toMillis(ttl.toNanos() - marginNanos);
          }
        }
      }
    }
    if (lapsed) {
      expire("its local deadline passed before the answer to keepalive " + r.getSeq() + " came", true);
      return;
    }
    synchronized (streamLock) {
      reconnects = 0;
    }
    if (state == SessionState.SUSPENDED && isValid()) {
      setState(SessionState.RECONNECTED);
    }
    if (r.getAsOfIndex() > 0 && !doubts.isEmpty()) {
      java.util.Map<String, Long> heldNow = new java.util.HashMap<>();
      r.getHeldLocksList().forEach(h -> heldNow.put(h.getName(), h.getToken()));
      // A grant that ended never comes back (tokens only grow), so a late release of it ends nothing.
      // (A withdrawal names no grant: only its answer settles it.)
      doubts.forEach((rid, d) -> {
        if (d.token() > 0 && d.token() <= r.getAsOfIndex() && !Long.valueOf(d.token()).equals(heldNow.get(d.lockName()))) {
          doubts.remove(rid, d);
        }
      });
    }
    if (r.getAsOfIndex() > 0 && (!leases.isEmpty() || r.getHeldLocksCount() > 0)) {
      // The acquires under way are read before the leases: an answered grant joins the leases
      // before it leaves the acquires, so none can be missed by both reads.
      Set<String> acquiring = new java.util.HashSet<>();
      pendingAcquires.forEach((f, name) -> {
        if (!f.isDone()) {
          acquiring.add(name); // a finished one claims through its lease, if any (see claimedByOthers)
        }
      });
      java.util.Map<String, Long> held = new java.util.HashMap<>();
      r.getHeldLocksList().forEach(h -> held.put(h.getName(), h.getToken()));
      Set<String> claimed = new java.util.HashSet<>();
      for (RealLease lease : leases) {
        // Only grants the server had applied when it answered can be judged by this answer.
        Long token = held.get(lease.name());
        if (lease.token() <= r.getAsOfIndex() && (token == null || token != lease.token()) && lease.isValid()) {
          LOG.warn("session {}: lock '{}' (token {}) was taken away by the cluster", id, lease.name(), lease.token());
          lease.markLost();
        }
        if (!lease.lost()) {
          // A lost lease claims nothing: the cluster's grant to this session, if any, is a newer one.
          claimed.add(lease.name());
        }
      }
      held.forEach((name, token) -> {
        if (!claimed.contains(name) && !acquiring.contains(name)) {
          reclaim(name, token);
        }
      });
    }
  }

  /**
   * Keepalive {@code n} was answered, and so were those before it (the answer is for the session,
   * as of n's send time): the oldest still unanswered is the one after it, unless that was sent on
   * a stream given up on. Only an answer to the newest outstanding keepalive clears the stall
   * timer, so a late answer to an old one cannot hide that the newer ones go unanswered. Hold
   * {@code renewal}.
   */
  private void answered(long n) {
    if (n <= highestAnswered) {
      return;
    }
    highestAnswered = n;
    long oldest = Math.max(n + 1, pendingFloor);
    Long sent = oldest <= seq.get() ? sendTimes.get(oldest) : null;
    pendingSinceNanos = sent == null ? 0 : sent;
  }

  /**
   * Releases a lock the cluster says this session holds though no caller does: an acquire given
   * up on whose grant won the race and whose withdrawal failed, a release that failed, or a
   * revocation that named this session the successor unasked. Held, it would block every other
   * session until this one ends. The token makes it safe: a lock that has moved on since is refused.
   */
  private void reclaim(String name, long token) {
    CompletableFuture<Void> gate;
    synchronized (claims) {
      Long notBefore = reclaimRefused.get(name);
      if (isFinal() || claimedByOthers(name, null, null) || gated(name)
          || (notBefore != null && System.nanoTime() - notBefore < 0)) {
        return;
      }
      gate = closeGate(name);
      releasing(name);
    }
    String requestId = RequestIds.next();
    openWhenDone(gate, caller.call("release unclaimed " + name, callTimeout, (ch, t) -> LockServiceGrpc
        .newFutureStub(ch).withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .release(ReleaseRequest.newBuilder().setRequestId(requestId).setSessionId(id).setLockName(name)
            .setToken(token).build()))
        .whenComplete((r, err) -> {
          doubt(new Doubt(name, requestId, token, ""), err);
          if (err == null) {
            reclaimRefused.remove(name);
            LOG.warn("session {}: released lock '{}' (token {}): the cluster had granted it to this session, "
                + "but no caller held it", id, name, token);
          } else if (Errors.map(err) instanceof io.holdfast.client.PermissionDeniedException) {
            // Not again at every keepalive answer: this refusal would repeat.
            reclaimRefused.put(name, System.nanoTime() + TimeUnit.MINUTES.toNanos(1));
            LOG.warn("session {}: may not release lock '{}' (token {}), which no caller holds (next try in a "
                + "minute): {}", id, name, token, err.toString());
          } else {
            LOG.debug("session {}: release of unclaimed lock '{}' (token {}) failed: {}", id, name, token,
                err.toString());
          }
        }));
  }

  /** Whether a lease or an acquire of this session, other than those given, claims {@code name}. Hold claims. */
  private boolean claimedByOthers(String name, Object except, Object alsoExcept) {
    return claimedByOthers(name, -1, except, alsoExcept);
  }

  /** As above, counting only leases of grant {@code token} (-1: any). */
  private boolean claimedByOthers(String name, long token, Object except, Object alsoExcept) {
    for (RealLease lease : leases) {
      if (lease != except && lease != alsoExcept && lease.active() && lease.name().equals(name)
          && (token < 0 || lease.token() == token)) {
        return true;
      }
    }
    for (Map.Entry<CompletableFuture<Optional<LockLease>>, String> a : pendingAcquires.entrySet()) {
      // A finished acquire leaves the map in a callback that may run after its caller's (a future's
      // callbacks run newest first): a grant is claimed by its lease from then on, and a release
      // sent from the caller's callback must not be taken for a second claim and skipped.
      if (a.getKey() != except && a.getKey() != alsoExcept && !a.getKey().isDone() && a.getValue().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** Whether a release or withdrawal of {@code name} is on its way. Hold {@code claims}. */
  private boolean gated(String name) {
    CompletableFuture<?> g = gates.get(name);
    return g != null && !g.isDone();
  }

  /**
   * New acquires of {@code name} wait until the returned gate opens (see openWhenDone). Hold
   * {@code claims}; the release itself is sent after, outside it.
   */
  private CompletableFuture<Void> closeGate(String name) {
    CompletableFuture<Void> gate = new CompletableFuture<>();
    CompletableFuture<?> earlier = gates.get(name);
    // A gate closed while another is still shut holds until both open.
    CompletableFuture<?> shut = earlier == null || earlier.isDone() ? gate : CompletableFuture.allOf(earlier, gate);
    gates.put(name, shut);
    shut.whenComplete((v, err) -> {
      synchronized (claims) {
        gates.remove(name, shut);
      }
    });
    return gate;
  }

  private static <T> CompletableFuture<T> openWhenDone(CompletableFuture<Void> gate, CompletableFuture<T> op) {
    op.whenComplete((v, err) -> gate.complete(null));
    return op;
  }

  private void watch() {
    try {
      check();
    } catch (RuntimeException e) {
      // Logged, not thrown: an exception out of a periodic task cancels it for good.
      LOG.warn("session {}: watchdog failed", id, e);
    }
  }

  private void check() {
    if (isFinal()) {
      return;
    }
    long now = System.nanoTime();
    boolean past;
    boolean pastOnWallOnly;
    synchronized (renewal) {
      // Under the lock answers extend the deadline under: an answer that counted is not overtaken.
      past = pastDeadline();
      pastOnWallOnly = past && now - validUntilNanos < 0;
    }
    if (past) {
      expire(pastOnWallOnly ? "the wall clock passed the session's deadline while the monotonic clock did not (the "
          + "machine or VM was suspended, or the clock was stepped forward): the cluster may have ended it"
          : "no keepalive acknowledged within the TTL (" + ttl.toMillis() + " ms, less a "
          + TimeUnit.NANOSECONDS.toMillis(marginNanos) + " ms margin)", true);
      return;
    }
    boolean stalled;
    synchronized (renewal) {
      stalled = pendingSinceNanos != 0 && now - pendingSinceNanos > ackTimeoutNanos;
      if (stalled) {
        // Time the keepalive about to go on the new stream; a late answer on the old one still
        // counts for the deadline, but does not make the new one's silence look like an answer.
        pendingSinceNanos = 0;
        pendingFloor = seq.get() + 1;
      }
    }
    if (stalled) {
      // No answer on this stream: the node may be paused or cut off, with its TCP connection still
      // open. Drop the stream and renew through the next endpoint now.
      if (state != SessionState.SUSPENDED) {
        setState(SessionState.SUSPENDED);
      }
      resetStream();
      sendKeepAlive();
    }
  }

  private void resetStream() {
    synchronized (streamLock) {
      if (stream != null) {
        abandon(stream);
        stream = null;
      }
      if (probe != null) {
        cancelQuietly(probe);
        probe = null;
      }
      if (streamEndpoint != null) {
        caller.endpoints().failed(streamEndpoint);
        gaveUpOn(streamEndpoint);
      }
    }
  }

  /**
   * A relayed stream costs the follower and the leader a hop per keepalive, so every few TTLs the
   * keepalive also goes straight to the leader on a stream of its own. Only an answer there moves
   * the session back to it; a probe that fails or stays silent is dropped without a sign (the
   * relayed stream answers the same keepalive), so a lasting partition costs no SUSPENDED.
   */
  private void probeLeader(long n) {
    // Called under streamLock.
    KeepAliveRequest direct = KeepAliveRequest.newBuilder().setSessionId(id).setSeq(n).build();
    if (probe == null) {
      if (relayedLeader == null || System.nanoTime() - relayedSinceNanos < RELAY_PROBE_EVERY_INTERVALS * intervalNanos) {
        return;
      }
      relayedSinceNanos = System.nanoTime();
      String target = relayedLeader;
      KeepAliveObserver observer = new KeepAliveObserver() {
        @Override
        void seen(KeepAliveResponse r) {
          if (probe == mine && streamRelayed && stream != null) {
            LOG.info("session {}: the leader {} is in reach again; renewing there", id, target);
            caller.endpoints().heard(target);
            abandon(stream);
            stream = mine;
            streamEndpoint = target;
            streamRelayed = false;
            relayedLeader = null;
            probe = null;
          }
        }

        // A probe ends quietly; once it has become the session's stream, it ends as streams do.
        @Override
        void ended(Throwable t) {
          if (!dropProbe(mine)) {
            streamFailed(mine, target, t);
          }
        }
      };
      try {
        probe = (ClientCallStreamObserver<KeepAliveRequest>) SessionServiceGrpc.newStub(caller.endpoints().channel(target))
            .keepAlive(observer);
        ClientCallStreamObserver<KeepAliveRequest> started = probe;
        timers.schedule(() -> {
          synchronized (streamLock) {
            if (probe == started) {
              // Silent for a whole interval: the leader is still out of reach.
              probe = null;
              cancelQuietly(started);
            }
          }
        }, intervalNanos, TimeUnit.NANOSECONDS);
      } catch (RuntimeException e) {
        LOG.debug("session {}: probe of {} not started: {}", id, target, e.toString());
        if (probe != null) {
          cancelQuietly(probe);
        }
        probe = null;
        return;
      }
    }
    try {
      probe.onNext(direct);
    } catch (RuntimeException e) {
      cancelQuietly(probe);
      probe = null;
    }
  }

  /** True if {@code failed} was still only a probe (now dropped). */
  private boolean dropProbe(ClientCallStreamObserver<KeepAliveRequest> failed) {
    synchronized (streamLock) {
      if (probe == failed) {
        probe = null;
        return true;
      }
      return false;
    }
  }

  /** Keepalive intervals between two tries of a relayed session's leader (about three TTLs). */
  static final int RELAY_PROBE_EVERY_INTERVALS = 10;

  private void gaveUpOn(String endpoint) {
    gaveUpOn = endpoint;
    gaveUpAtNanos = System.nanoTime();
  }

  /**
   * Whether {@code leader} failed this session's keepalives within the last TTL (no answer, or no
   * connection), or the client found it unreachable recently. Its streams are then relayed by a
   * follower, which reaches the leader over the cluster's own links.
   */
  private boolean leaderOutOfReach(String leader) {
    if (caller.endpoints().suspect(leader)) {
      return true;
    }
    return leader.equals(gaveUpOn) && System.nanoTime() - gaveUpAtNanos < ttl.toNanos();
  }

  /**
   * Left open, not cancelled: a leader that is only slow still renews the session and answers on
   * it, and an answer counts however late it comes (its send time is known). Nothing more is sent
   * on it; it is cancelled once a TTL has passed, when no answer could extend the session any more.
   * Called under streamLock.
   */
  private void abandon(ClientCallStreamObserver<KeepAliveRequest> old) {
    abandoned.add(old);
    try {
      timers.schedule(() -> cancelAbandoned(old), ttl.toNanos(), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      abandoned.remove(old);
      cancelQuietly(old);
    }
  }

  private void cancelAbandoned(ClientCallStreamObserver<KeepAliveRequest> old) {
    synchronized (streamLock) {
      if (abandoned.remove(old)) {
        cancelQuietly(old);
      }
    }
  }

  private static void cancelQuietly(ClientCallStreamObserver<KeepAliveRequest> s) {
    try {
      s.cancel("keepalive stream superseded", null);
    } catch (RuntimeException ignored) {
      // already broken
    }
  }

  /** Whether the local deadline passed on either clock; hold {@code renewal}. */
  private boolean pastDeadline() {
    return System.nanoTime() - validUntilNanos >= 0 || System.currentTimeMillis() >= validUntilWallMs;
  }

  private boolean isFinal() {
    SessionState s = state;
    return s == SessionState.EXPIRED || s == SessionState.CLOSED;
  }

  /** Events are queued in state order, under this lock; {@code events} never throws (see OrderedDelivery). */
  private synchronized boolean setState(SessionState next) {
    SessionState prev = state;
    if (prev == next || prev == SessionState.EXPIRED || prev == SessionState.CLOSED) {
      return false;
    }
    state = next;
    LOG.info("session {}: {} -> {}", id, prev, next);
    for (SessionListener l : listeners) {
      events.execute(() -> l.onStateChange(this, next));
    }
    return true;
  }

  /**
   * {@code localDeadline}: the session's own conservative deadline passed (no answer in time),
   * rather than the cluster saying it ended the session.
   */
  private void expire(String why, boolean localDeadline) {
    if (!setState(SessionState.EXPIRED)) {
      return;
    }
    LOG.warn("session {} expired: {}", id, why);
    synchronized (renewal) {
      validUntilNanos = System.nanoTime();
      validUntilWallMs = System.currentTimeMillis();
    }
    expiry = localDeadline ? EXPIRED_LOCALLY : EXPIRED_BY_CLUSTER;
    boolean heldLocks = !leases.isEmpty();
    if (localDeadline && heldLocks) {
      leftToCluster.set(true); // before onExpired completes: the client keeps such a session to close it
    }
    // Before every lease is marked lost: one already lost (revoked) is reported as such.
    endUnansweredReleases();
    leases.forEach(RealLease::markLost);
    stopKeepalives();
    expired.complete(null); // onExpired's own futures complete on the listener executor
    endWaits();
    if (!leftToCluster.get()) {
      closeOnServer();
    } else {
      // Not closed now, which would free its locks at once: their holders learn of the loss only
      // now, and may still be finishing. The cluster's own deadline is the margin later, and the
      // locks then stay orphaned for their lock-delay, as for a holder that died. (Closing the
      // session, once its work has stopped, still lets them go cleanly.)
      LOG.info("session {}: its locks are left to the cluster's deadline for it and their lock-delay", id);
      closeIfLeftAndWanted(); // its owner may have closed it already, told of the expiry
    }
  }

  /** Expired locally with locks held, and so not closed on the server then (see expire). */
  private final java.util.concurrent.atomic.AtomicBoolean leftToCluster = new java.util.concurrent.atomic.AtomicBoolean();
  /** Its owner closed it after it expired. */
  private final java.util.concurrent.atomic.AtomicBoolean closeWanted = new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicBoolean closeSent = new java.util.concurrent.atomic.AtomicBoolean();

  /** Each of expire and closeAsync sets its flag, then looks: whichever is second sends the close, once. */
  private CompletableFuture<Void> closeIfLeftAndWanted() {
    if (leftToCluster.get() && closeWanted.get() && closeSent.compareAndSet(false, true)) {
      return closeOnServer();
    }
    return CompletableFuture.completedFuture(null);
  }

  /** Expired locally with its locks left to the cluster, and not closed by its owner since. */
  boolean leftToTheCluster() {
    return leftToCluster.get() && !closeWanted.get();
  }

  private void stopKeepalives() {
    keepaliveTask.cancel(false);
    watchdogTask.cancel(false);
    synchronized (streamLock) {
      if (stream != null) {
        try {
          stream.onCompleted();
        } catch (RuntimeException ignored) {
          // already broken
        }
        stream = null;
      }
      abandoned.forEach(RealSession::cancelQuietly);
      abandoned.clear();
      if (probe != null) {
        cancelQuietly(probe);
        probe = null;
      }
    }
  }

  // ---- locks -------------------------------------------------------------------------------

  @Override
  public LockLease lock(String name) throws InterruptedException {
    return awaitAcquire(name, -1).orElseThrow();
  }

  @Override
  public Optional<LockLease> lock(String name, Duration wait) throws InterruptedException {
    return awaitAcquire(name, waitMillis(wait));
  }

  /** The wait_ms of an acquire: zero tries once; a wait under a millisecond is one. */
  private static long waitMillis(Duration wait) {
    if (wait.isNegative()) {
      throw new IllegalArgumentException("wait must not be negative, got " + wait);
    }
    return wait.isZero() ? 0 : Math.max(1, wait.toMillis());
  }

  @Override
  public Optional<LockLease> tryLock(String name) {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(caller.scheduler());
    try {
      return callbacks.awaitUninterruptibly(acquire(name, 0, -1, 0, callbacks));
    } catch (ExecutionException e) {
      throw Errors.map(e.getCause());
    }
  }

  @Override
  public CompletableFuture<LockLease> lockAsync(String name) {
    CompletableFuture<Optional<LockLease>> acquiring = acquire(name, -1);
    CompletableFuture<LockLease> out = acquiring.thenApply(Optional::orElseThrow);
    // Giving up on this future (cancel, orTimeout) must give up the acquire itself, or its wait
    // stays queued and a later grant goes to a lease nobody holds.
    out.whenComplete((v, err) -> {
      if (err != null) {
        abandon(acquiring);
      }
    });
    return out;
  }

  /**
   * The caller gave up on an acquire (cancelled, timed out, interrupted): it is withdrawn, or, if
   * its grant came just before, the grant is given back, since nobody will have that lease.
   */
  void abandon(CompletableFuture<Optional<LockLease>> acquiring) {
    if (!acquiring.cancel(true)) {
      acquiring.thenAccept(granted -> granted.ifPresent(l -> giveBack((RealLease) l, acquiring)));
    }
  }

  @Override
  public CompletableFuture<Optional<LockLease>> lockAsync(String name, Duration wait) {
    return acquire(name, waitMillis(wait));
  }

  @Override
  public CompletableFuture<Optional<LockLease>> tryLockAsync(String name) {
    return acquire(name, 0);
  }

  /** A blocking acquire: its answer is handled on the calling thread (see WaitingThreadExecutor). */
  private Optional<LockLease> awaitAcquire(String name, long waitMs) throws InterruptedException {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(caller.scheduler());
    CompletableFuture<Optional<LockLease>> f = acquire(name, waitMs, -1, 0, callbacks);
    try {
      return callbacks.await(f);
    } catch (InterruptedException e) {
      abandon(f); // the grant may have come, on another thread, just as the interrupt did
      throw e;
    } catch (ExecutionException e) {
      throw Errors.map(e.getCause());
    }
  }

  /**
   * One acquire, under one request id for all its retries. When the caller gives up (cancels the
   * future) or the client-side deadline passes without an answer, the queued wait is withdrawn,
   * and a grant that won the race is released: the session never holds a lock nobody knows of.
   */
  private CompletableFuture<Optional<LockLease>> acquire(String name, long waitMs) {
    return acquire(name, waitMs, -1, 0, null);
  }

  @Override
  public CompletableFuture<Optional<LockLease>> lockAsync(String name, io.holdfast.client.LockOptions options) {
    long waitMs = options.maxWait() == null ? -1 : waitMillis(options.maxWait());
    long delayMs = options.lockDelay() == null ? -1 : options.lockDelay().toMillis();
    return acquire(name, waitMs, delayMs, options.maxHold().toMillis(), null);
  }

  /** {@code lockDelayMs} -1: the server's default. {@code callbacks}: see {@link Caller#call}. */
  private CompletableFuture<Optional<LockLease>> acquire(String name, long waitMs, long lockDelayMs,
      long maxHoldMs, Executor callbacks) {
    if (!isValid()) {
      return CompletableFuture.failedFuture(new SessionExpiredException("session " + id + " is " + state));
    }
    Acquisition a = new Acquisition(name, waitMs, lockDelayMs, maxHoldMs, callbacks);
    CompletableFuture<Optional<LockLease>> result = a.result;
    // The session's end ends its waits (see endWaits); a finished acquire leaves the map.
    pendingAcquires.put(result, name);
    result.whenComplete((v, err) -> {
      pendingAcquires.remove(result);
      a.settled();
    });
    a.send();
    if (isFinal()) {
      endWaits();
    }
    return result;
  }

  /**
   * One acquire as its caller sees it. Each request keeps one request id for all its retries.
   * A timed acquire (and a try) has one deadline, its wait plus one call timeout, for all its
   * attempts together; past it the client gives up (ClusterUnavailableException) and withdraws.
   * When the caller gives up (cancels or times out the future) the request is cancelled and
   * withdrawn, and a grant that won the race is released; so is one whose answer never came.
   * A wait that ends ungranted while the caller still has time is asked for again under a new id:
   * the server keeps one wait per session and lock, so another acquire of the same lock by this
   * session that gives up ends this wait too.
   */
  private final class Acquisition {
    final String name;
    final long waitMs;
    final long lockDelayMs;
    final long maxHoldMs;
    final Executor callbacks;
    final long start = System.nanoTime();
    /** For waitMs >= 0: when the client gives up (System.nanoTime). */
    final long deadline;
    final CompletableFuture<Optional<LockLease>> result = new CompletableFuture<>();
    private String requestId; // guarded by this
    /** Resends of an unanswered release or withdrawal of this lock that failed again (for their backoff). */
    private final java.util.concurrent.atomic.AtomicInteger doubtResends = new java.util.concurrent.atomic.AtomicInteger();
    private CompletableFuture<AcquireResponse> rpc; // guarded by this
    private java.util.concurrent.ScheduledFuture<?> deadlineTimer; // guarded by this
    /** The request id whose answer was last taken up (answer() may run after rpc is done). */
    private volatile String answeredRid;
    /** Set before an answer settles the result: a result settled otherwise was settled by the caller. */
    private volatile boolean answered;

    Acquisition(String name, long waitMs, long lockDelayMs, long maxHoldMs, Executor callbacks) {
      this.name = name;
      this.waitMs = waitMs;
      this.lockDelayMs = lockDelayMs;
      this.maxHoldMs = maxHoldMs;
      this.callbacks = callbacks;
      // Capped as an untimed acquire's budget is: a wait of centuries would overflow System.nanoTime arithmetic.
      long waitNanos = TimeUnit.MILLISECONDS.toNanos(Math.min(Math.max(0, waitMs), TimeUnit.DAYS.toMillis(3650)));
      this.deadline = start + waitNanos + callTimeout.toNanos();
    }

    synchronized void send() {
      if (result.isDone()) {
        return;
      }
      synchronized (claims) {
        CompletableFuture<?> g = gates.get(name);
        if (g != null && !g.isDone()) {
          // A release of this lock is on its way: after it, this acquire gets a grant of its own
          // rather than the one being released. (Async: the gate may complete under locks; and
          // not on the scheduler, as the result may complete there.)
          g.whenCompleteAsync((v, err) -> send(), caller.completions());
          armDeadline();
          return;
        }
      }
      long leftNanos = deadline - System.nanoTime();
      Doubt doubt = doubtAbout(name);
      if (doubt != null) {
        armDeadline();
        if (waitMs >= 0 && leftNanos <= 0) {
          answered = true;
          result.completeExceptionally(new io.holdfast.client.ClusterUnavailableException("lock '" + name + "' not asked for: an "
              + "earlier " + (doubt.token() > 0 ? "release of it (token " + doubt.token() + ")" : "withdrawal from it")
              + " is still unanswered, and a grant now could be one that it ends when it lands"));
          return;
        }
        Duration budget = waitMs < 0 ? caller.retryBudget() : Duration.ofNanos(leftNanos);
        CompletableFuture<Void> gate;
        synchronized (claims) {
          gate = closeGate(name);
        }
        CompletableFuture<Void> resent = openWhenDone(gate, resendDoubtful(doubt, budget));
        resent.whenComplete((v, err) -> {
          if (err == null) {
            gate.whenCompleteAsync((x, y) -> send(), caller.completions());
          } else {
            // Still unanswered, or refused at once (a node shedding load): not again in a tight loop.
            long delayMs = Math.min(1_000, 50L << Math.min(4, doubtResends.getAndIncrement()));
            try {
              caller.scheduler().schedule(() -> caller.completions().execute(this::send), delayMs, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
              // the client is closing: its sessions end their acquires
            }
          }
        });
        return;
      }
      if (waitMs >= 0 && leftNanos <= 0) {
        // The wait went by behind this session's own release of the lock: not granted in time.
        answered = true;
        result.complete(Optional.empty());
        return;
      }
      String rid = RequestIds.next();
      requestId = rid;
      Duration budget = waitMs < 0 ? Duration.ofDays(3650) : Duration.ofNanos(leftNanos);
      Duration attemptTimeout = waitMs < 0 ? callTimeout : callTimeout.plusMillis(waitMs);
      // The caller clips each attempt to the budget, and t is what that leaves this attempt.
      // The first attempt's send time, taken before it goes out: the grant, and its max hold, cannot
      // be older, and the caller's thread may stall once the call is on its way.
      long[] firstSent = new long[1];
      boolean[] sentOnce = new boolean[1];
      rpc = caller.call("acquire " + name, attemptTimeout, budget, callbacks, (ch, t) -> {
        if (!sentOnce[0]) {
          firstSent[0] = System.nanoTime();
          sentOnce[0] = true;
        }
        long remaining = waitMs <= 0 ? waitMs : Math.max(1, waitMs - elapsedMs());
        var stub = LockServiceGrpc.newFutureStub(ch);
        if (waitMs >= 0) {
          stub = stub.withDeadlineAfter(t.toNanos(), TimeUnit.NANOSECONDS);
        }
        AcquireRequest.Builder req = AcquireRequest.newBuilder().setRequestId(rid).setSessionId(id)
            .setLockName(name).setWaitMs(remaining).setMaxHoldMs(maxHoldMs);
        if (lockDelayMs >= 0) {
          req.setLockDelayMs(lockDelayMs);
        }
        return stub.acquire(req.build());
      });
      rpc.whenComplete((r, err) -> answer(rid, firstSent[0], r, err));
    }

    /**
     * A timed acquire waiting behind this session's own release or withdrawal of the lock (retried
     * for up to the whole retry budget) still ends at its deadline. Under this object's lock.
     */
    private void armDeadline() {
      if (waitMs < 0 || deadlineTimer != null) {
        return;
      }
      try {
        java.util.concurrent.ScheduledFuture<?> timer = caller.scheduler().schedule(
            () -> caller.completions().execute(this::deadlinePassed), Math.max(0, deadline - System.nanoTime()),
            TimeUnit.NANOSECONDS);
        deadlineTimer = timer;
        result.whenComplete((v, err) -> timer.cancel(false));
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        // the client is closing: its sessions end their acquires
      }
    }

    private synchronized void deadlinePassed() {
      if (result.isDone() || (requestId != null && !requestId.equals(answeredRid))) {
        return; // an attempt on its way (or its answer, about to be taken up) ends by its own deadline
      }
      answered = true; // nothing was asked for since the last answer: nothing to withdraw
      result.completeExceptionally(new io.holdfast.client.ClusterUnavailableException("lock '" + name + "' not asked for "
          + "within its wait plus one call timeout: an earlier release of it or withdrawal from it by this session is "
          + "still unanswered"));
    }

    private long elapsedMs() {
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private void answer(String rid, long sentNanos, AcquireResponse r, Throwable err) {
      answeredRid = rid;
      if (err != null) {
        if (Errors.unwrap(err) instanceof CancellationException) {
          return; // the caller gave up; see settled()
        }
        HoldfastException mapped = Errors.map(err);
        if (mapped instanceof SessionExpiredException) {
          // The cluster's word is final: a session it no longer knows cannot be kept alive.
          expire("the cluster refused an acquire of '" + name + "': " + mapped.getMessage(), false);
        } else if (!(mapped instanceof io.holdfast.client.InvalidArgumentException
            || mapped instanceof io.holdfast.client.PermissionDeniedException
            || (mapped instanceof io.holdfast.client.LimitExceededException && refusedByServer(err)))) {
          // No readable answer: the request may have queued, or been granted.
          withdraw(name, rid, result);
        }
        answered = true;
        result.completeExceptionally(mapped);
      } else if (r.getGranted()) {
        RealLease lease = new RealLease(RealSession.this, name, r.getToken(), holdUntil(r, sentNanos));
        leases.add(lease); // before the result completes: see onAck
        answered = true;
        if (!isValid()) {
          // The session's deadline passed (a pause, say) or it ended while the grant was on its way:
          // the cluster may have ended it and granted the lock on. Nobody had this lease, so it does
          // not keep the session from being closed (which frees the grant at once).
          leases.remove(lease);
          lease.markLost();
          expire("its deadline passed while a grant of '" + name + "' was on its way", true);
          result.completeExceptionally(new SessionExpiredException("session " + id + " is " + state
              + "; a grant of '" + name + "' came after its deadline"));
          return;
        }
        if (!result.complete(Optional.of(lease))) {
          // The caller gave up while the grant was on its way.
          giveBack(lease, result);
        }
      } else if ((waitMs < 0 || (waitMs > 0 && elapsedMs() < waitMs)) && isValid()) {
        send();
      } else {
        answered = true;
        if (waitMs != 0 && !isValid()) {
          result.completeExceptionally(new SessionExpiredException("session " + id + " is " + state
              + "; its wait for '" + name + "' ended"));
        } else {
          result.complete(Optional.empty());
        }
      }
    }

    /**
     * When the cluster may take the grant back for its max-hold time, which it counts from the
     * grant. The answer says the grant's limit and its age when the call was applied: more than 0
     * for a grant this session already held (asked for again), less than 0 for one made after the
     * call waited. The limit counts from this request id's first send less that age, less a margin
     * for the two clocks' rates. A lease on the same grant may know an earlier deadline (a cluster
     * too old to give the age). The answering node read the lock after applying the grant, so a
     * view that does not show the grant held by this session means it ended already.
     */
    private long holdUntil(AcquireResponse r, long sentNanos) {
      long token = r.getToken();
      long limitMs = maxHoldMs;
      long ageAtCallMs = 0;
      if (r.hasLock()) {
        // The lock as the answering node read it after applying the call.
        io.holdfast.proto.v1.LockInfo view = r.getLock();
        boolean ours = view.getState() == io.holdfast.proto.v1.LockState.HELD && view.getHolderSessionId() == id
            && view.getToken() == token;
        if (!ours) {
          // Revoked for its hold, say, or released by another caller on the same grant, before
          // the answer was read.
          return sentNanos;
        }
        limitMs = view.getMaxHoldMs();
        ageAtCallMs = r.getGrantAgeAtCallMs();
      }
      long until = RealLease.NO_HOLD_LIMIT;
      if (limitMs > 0) {
        // This client times the whole span from its send on its own clock, a wait included, and
        // the cluster times it on the leader's: a millisecond a second on top covers two clocks
        // slewed the most NTP slews each (500 ppm).
        long spanMs = limitMs - ageAtCallMs;
        long margin = Math.min(1_000, Math.max(50, limitMs / 10)) + Math.max(0, spanMs) / 1_000;
        until = sentNanos + TimeUnit.MILLISECONDS.toNanos(spanMs - margin);
      }
      for (RealLease other : leases) {
        long theirs = other.holdUntilNanos();
        if (other.name().equals(name) && other.token() == token && theirs != RealLease.NO_HOLD_LIMIT
            && (until == RealLease.NO_HOLD_LIMIT || theirs - until < 0)) {
          until = theirs;
        }
      }
      return until;
    }

    /** The result is settled; if not by an answer, the caller gave up: take the request back. */
    synchronized void settled() {
      if (!answered && rpc != null) {
        rpc.cancel(true);
        withdraw(name, requestId, result);
      }
      withdrawShared(name, result);
    }
  }

  private void endWaits() {
    for (CompletableFuture<Optional<LockLease>> f : pendingAcquires.keySet()) {
      SessionExpiredException ended = new SessionExpiredException("session " + id + " is " + state
          + "; its waits ended");
      // Not on this thread, maybe the watchdog's: an async acquire's dependents are application code.
      caller.complete(() -> f.completeExceptionally(ended));
    }
  }

  /**
   * A grant that reached no caller (it gave up while the grant was on its way): released, unless
   * another lease or acquire of this session claims the lock, which then holds this same grant.
   */
  void giveBack(RealLease lease, Object acquire) {
    CompletableFuture<Void> gate;
    synchronized (claims) {
      if (claimedByOthers(lease.name(), lease.token(), lease, acquire)) {
        lease.letGo();
        leases.remove(lease);
        lease.markLost();
        return;
      }
      if (isFinal() || !lease.takeForGiveBack()) {
        return;
      }
      lease.letGo();
      gate = closeGate(lease.name());
      releasing(lease.name());
    }
    openWhenDone(gate, sendRelease(lease, null));
  }

  /**
   * Withdraws a queued acquire; if the grant already happened, releases it. Not sent while another
   * lease or acquire of this session (other than {@code self}) claims the lock: the server keeps one
   * wait and one grant per session and lock, which that one shares.
   */
  private void withdraw(String name, String acquireRequestId, Object self) {
    CompletableFuture<Void> gate;
    synchronized (claims) {
      if (isFinal()) {
        return;
      }
      if (claimedByOthers(name, self, null)) {
        // The wait may be shared, under this acquire's id: the last claimant to go withdraws it.
        sharedWaits.add(name);
        return;
      }
      gate = closeGate(name);
    }
    openWhenDone(gate, sendWithdraw(name, acquireRequestId));
  }

  /**
   * A release of {@code name} goes out, with no other claimant: the wait a given-up acquire left to
   * another one became this grant, and ends with it. A withdrawal sent for it as well would race
   * the release (and, applied first, release the lock under it: the release would then fail).
   * Hold {@code claims}.
   */
  private void releasing(String name) {
    sharedWaits.remove(name);
  }

  /** An acquire of {@code name} ended: if it was the last claimant of a wait left to it, withdraw that. */
  private void withdrawShared(String name, Object self) {
    CompletableFuture<Void> gate;
    synchronized (claims) {
      if (isFinal() || !sharedWaits.contains(name) || claimedByOthers(name, self, null)) {
        return;
      }
      sharedWaits.remove(name);
      gate = closeGate(name);
    }
    // Under no request id: the session's wait on the lock, whichever acquire queued it.
    openWhenDone(gate, sendWithdraw(name, ""));
  }

  private CompletableFuture<?> sendWithdraw(String name, String acquireRequestId) {
    String requestId = RequestIds.next();
    return caller.call("cancel wait on " + name, callTimeout, (ch, t) -> LockServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .cancelWait(CancelWaitRequest.newBuilder().setRequestId(requestId).setSessionId(id).setLockName(name)
            .setAcquireRequestId(acquireRequestId).build()))
        .whenComplete((r, err) -> {
          doubt(new Doubt(name, requestId, 0, acquireRequestId), err);
          if (err == null || isFinal()) {
            return;
          }
          if (Errors.codeOf(err).equals("WAIT_NOT_FOUND")) {
            LOG.debug("session {}: acquire of '{}' had nothing left to withdraw", id, name);
          } else {
            // A grant it missed shows up in a keepalive answer and is released then (see onAck).
            LOG.warn("session {}: could not withdraw acquire of '{}': {}", id, name, err.toString());
          }
        });
  }

  /** A blocking release: its answer is handled on the calling thread (see WaitingThreadExecutor). */
  void releaseAndWait(RealLease lease) {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(caller.scheduler());
    CompletableFuture<Void> f = release(lease, callbacks);
    try {
      callbacks.awaitUninterruptibly(f);
    } catch (ExecutionException e) {
      throw Errors.map(e.getCause());
    }
  }

  CompletableFuture<Void> release(RealLease lease) {
    return release(lease, null);
  }

  /**
   * Releases the lock, unless another lease or acquire of this session claims it: a session that
   * takes a lock it holds gets the same grant, which is given up with its last lease.
   */
  private CompletableFuture<Void> release(RealLease lease, Executor callbacks) {
    CompletableFuture<Void> gate;
    synchronized (claims) {
      // Let go first: of two leases on one grant released at once, only the second to get here
      // finds no other claimant and sends the release; two would make the later one fail.
      lease.letGo();
      if (claimedByOthers(lease.name(), lease.token(), lease, null)) {
        leases.remove(lease);
        return CompletableFuture.completedFuture(null);
      }
      gate = closeGate(lease.name());
      releasing(lease.name());
    }
    return openWhenDone(gate, sendRelease(lease, callbacks));
  }

  private CompletableFuture<Void> sendRelease(RealLease lease, Executor callbacks) {
    String requestId = RequestIds.next();
    // Every send after the first says so: should the first have been applied and its answer be gone
    // from the session's cache by the time a resend arrives, the cluster can still tell a release
    // that went through from a lock taken away.
    java.util.concurrent.atomic.AtomicInteger sends = new java.util.concurrent.atomic.AtomicInteger();
    CompletableFuture<ReleaseResponse> call = caller.call("release " + lease.name(), callTimeout, caller.retryBudget(),
        callbacks, (ch, t) -> LockServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .release(ReleaseRequest.newBuilder().setRequestId(requestId).setSessionId(id).setLockName(lease.name())
            .setToken(lease.token()).setResent(sends.getAndIncrement() > 0).build()));
    CompletableFuture<Void> sent = call.handle((r, err) -> {
      leases.remove(lease);
      if (err == null) {
        return null;
      }
      HoldfastException e = Errors.map(err);
      // Recorded before the gate opens (this runs first): the next acquire of the lock sees it.
      doubt(new Doubt(lease.name(), requestId, lease.token(), ""), err);
      if (e instanceof SessionExpiredException || e instanceof io.holdfast.client.StaleTokenException) {
        throw new LockLostException("lock '" + lease.name() + "' (token " + lease.token() + ") was lost: "
            + e.getMessage(), e);
      }
      throw e;
    });
    return endsWithTheSession(sent, call, lease);
  }

  /**
   * Sends a release or withdrawal whose outcome was unknown again, under its request id (the cluster
   * acts on it at most once); once it is answered, either way, the doubt is over. Fails if it still
   * goes unanswered.
   */
  private CompletableFuture<Void> resendDoubtful(Doubt doubt, Duration budget) {
    String name = doubt.lockName();
    CompletableFuture<?> call = doubt.token() > 0
        ? caller.call("release " + name + " (outcome unknown)", callTimeout, budget, null,
            (ch, t) -> LockServiceGrpc.newFutureStub(ch).withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
                .release(ReleaseRequest.newBuilder().setRequestId(doubt.requestId()).setSessionId(id)
                    .setLockName(name).setToken(doubt.token()).setResent(true).build()))
        : caller.call("cancel wait on " + name + " (outcome unknown)", callTimeout, budget, null,
            (ch, t) -> LockServiceGrpc.newFutureStub(ch).withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
                .cancelWait(CancelWaitRequest.newBuilder().setRequestId(doubt.requestId()).setSessionId(id)
                    .setLockName(name).setAcquireRequestId(doubt.acquireRequestId()).build()));
    return call.handle((r, err) -> {
      if (err == null || settles(err)) {
        doubts.remove(doubt.requestId(), doubt);
        return null;
      }
      throw Errors.map(err);
    });
  }

  /**
   * {@code release}'s outcome, or, should the session expire first, the expiry's. An expiry by the
   * session's own deadline (the cluster unreachable for the TTL) ends the release without an
   * error: it was begun while the lease was valid, so nothing done under the lock raced another
   * holder, and the lock is no longer this session's either way (released, or freed at the
   * session's deadline). Before, it kept its caller for the whole retry budget (30 s by default)
   * and then failed as unavailable. A session the cluster ended, or a lease already lost, ends it
   * with LockLostException. A SessionExpired answer to the release itself is its own outcome.
   */
  private CompletableFuture<Void> endsWithTheSession(CompletableFuture<Void> release, CompletableFuture<?> call,
      RealLease lease) {
    CompletableFuture<Void> out = new CompletableFuture<>();
    // Only a release begun within the lease's max hold can end cleanly: past it, the cluster may
    // already have handed the lock on.
    unansweredReleases.put(out, new UnansweredRelease(lease, call, lease.releaseBegunWithinHold()));
    release.whenComplete((v, err) -> {
      if (unansweredReleases.remove(out) == null) {
        return;  // the session's expiry settled it first (endUnansweredReleases)
      }
      Throwable cause = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
          ? err.getCause() : err;
      if (cause == null) {
        out.complete(null);
        return;
      }
      out.completeExceptionally(cause);
      if (cause.getCause() instanceof SessionExpiredException) {
        expire("the cluster refused a release of '" + lease.name() + "': " + cause.getCause().getMessage(), false);
      }
    });
    if (expiry != 0) {
      endUnansweredReleases();  // expired while this one was being registered
    }
    return out;
  }

  /** On expiry: every release still unanswered ends as endsWithTheSession says, on the client's executor. */
  private void endUnansweredReleases() {
    boolean locally = expiry == EXPIRED_LOCALLY || expiry == CLOSED_BY_OWNER;
    unansweredReleases.forEach((out, pending) -> {
      if (unansweredReleases.remove(out) == null) {
        return;
      }
      RealLease lease = pending.lease();
      boolean clean = locally && pending.begunValid() && !lease.lost();
      if (clean && expiry == CLOSED_BY_OWNER) {
        LOG.debug("session {}: closed while the release of '{}' (token {}) was unanswered; the close releases it", id,
            lease.name(), lease.token());
      } else if (clean) {
        LOG.warn("session {}: the release of '{}' (token {}) was not answered before the session's deadline passed;"
            + " the lock is no longer this session's (released, or freed at the session's deadline)", id,
            lease.name(), lease.token());
      }
      LockLostException lost = clean ? null : new LockLostException("lock '" + lease.name() + "' (token "
          + lease.token() + ") was lost: session " + id + " ended before its release was answered");
      caller.complete(() -> {
        if (lost == null) {
          out.complete(null);
        } else {
          out.completeExceptionally(lost);
        }
      });
      pending.call().cancel(false);  // stops the retries: the outcome is settled
    });
  }

  void forget(RealLease lease) {
    synchronized (claims) {
      lease.letGo();
    }
    leases.remove(lease);
  }

  // ---- close -------------------------------------------------------------------------------

  @Override
  public void close() {
    try {
      closeAsync().get(callTimeout.toMillis() * 2, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("session {}: close did not complete: {}", id, e.toString());
    }
  }

  @Override
  public CompletableFuture<Void> closeAsync() {
    if (!setState(SessionState.CLOSED)) {
      // Closed by its owner after a local expiry: its work has stopped, so its locks may go now.
      closeWanted.set(true);
      return closeIfLeftAndWanted();
    }
    // Before the leases are marked lost: a release begun while its lease was valid ends cleanly
    // (the close releases the lock), not as lost when the close lands first and it hears
    // SESSION_NOT_FOUND.
    expiry = CLOSED_BY_OWNER;
    endUnansweredReleases();
    leases.forEach(RealLease::markLost);
    stopKeepalives();
    expired.cancel(false);
    endWaits();
    return closeOnServer();
  }

  private CompletableFuture<Void> closeOnServer() {
    String requestId = RequestIds.next();
    return caller.call("close session", callTimeout, (ch, t) -> SessionServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS)
        .closeSession(CloseSessionRequest.newBuilder().setRequestId(requestId).setSessionId(id).build()))
        .handle((r, err) -> null);
  }

  @Override
  public String toString() {
    return "Session[" + id + ", " + state + "]";
  }
}
