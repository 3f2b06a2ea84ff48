package io.holdfast.client.internal;

import io.holdfast.client.AdminClient;
import io.holdfast.client.LockDescription;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.proto.v1.ClientIdentity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a HoldfastClient owns: endpoints, the retrying caller, threads, open sessions.
 *
 * <p>Threads: keepalives and watchdogs have a scheduler of their own ({@code timers}), and call
 * retries another; neither ever runs application code, so a blocking continuation cannot stop a
 * session's renewals or a call's retries. Session events (listeners, {@code onExpired}) run on the
 * listener executor; other futures that the client itself would complete on one of its
 * schedulers are completed on {@code completions}, a pool that grows (to 64 threads) rather than
 * queue behind a continuation that blocks.
 */
public final class ClientCore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClientCore.class);
  static final int MAX_COMPLETION_THREADS = 64;

  private final Endpoints endpoints;
  private final Caller caller;
  private final Duration callTimeout;
  private final ClientIdentity identity;
  private final ScheduledExecutorService scheduler;
  private final ScheduledExecutorService timers;
  private final ExecutorService completions;
  private final ExecutorService ownExecutor;
  private final Executor listenerExecutor;
  private final Set<RealSession> sessions = ConcurrentHashMap.newKeySet();
  private final RealAdminClient admin;
  private final RealKvClient kv;
  private final Set<RealWatch> watches = ConcurrentHashMap.newKeySet();
  private final MemberSync memberSync;

  /** {@code memberSync}: how often the endpoint list follows the cluster's members; zero: never. */
  public ClientCore(Endpoints endpoints, RetryPolicy retry, Duration callTimeout, ClientIdentity identity,
      Executor executor, Duration memberSync) {
    this.endpoints = endpoints;
    this.callTimeout = callTimeout;
    this.identity = identity;
    this.scheduler = Executors.newScheduledThreadPool(2, daemon("holdfast-client-"));
    this.timers = Executors.newScheduledThreadPool(1, daemon("holdfast-client-keepalive-"));
    // Grows while dependents block, but not without bound: past 64 threads completions queue.
    java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(MAX_COMPLETION_THREADS,
        MAX_COMPLETION_THREADS, 30, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(),
        daemon("holdfast-client-completion-"));
    pool.allowCoreThreadTimeOut(true);
    this.completions = pool;
    this.ownExecutor = executor == null ? Executors.newSingleThreadExecutor(daemon("holdfast-client-events-")) : null;
    this.listenerExecutor = executor == null ? ownExecutor : executor;
    this.caller = new Caller(endpoints, retry, scheduler, completions);
    this.admin = new RealAdminClient(caller, callTimeout);
    this.kv = new RealKvClient(caller, callTimeout);
    this.memberSync = new MemberSync(caller, callTimeout);
    if (!memberSync.isZero()) {
      this.memberSync.start(memberSync);
    }
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  public Endpoints endpoints() {
    return endpoints;
  }

  public Session newSession(Duration ttl, String exclusiveKey) {
    try {
      return newSessionAsync(ttl, exclusiveKey).join();
    } catch (CompletionException e) {
      throw Errors.map(e);
    }
  }

  public CompletableFuture<Session> newSessionAsync(Duration ttl, String exclusiveKey) {
    CompletableFuture<RealSession> opening = RealSession.open(caller, timers, identity, ttl, exclusiveKey,
        new OrderedDelivery(listenerExecutor, completions), callTimeout);
    CompletableFuture<Session> out = opening.thenApply(s -> {
      sessions.add(s);
      // An ended session leaves the set, or a long-lived client would keep every session it ever had;
      // one whose locks were left to the cluster's deadline stays until closed, by its owner or here.
      s.onExpired().whenComplete((v, err) -> {
        if (!s.leftToTheCluster()) {
          sessions.remove(s);
        }
      });
      return s;
    });
    out.whenComplete((v, err) -> {
      if (err != null) {
        // The caller gave up (cancel, orTimeout) on an open that may still succeed: nobody would
        // hold that session, and its keepalives would run until the client closes.
        opening.thenAccept(RealSession::closeAsync);
      }
    });
    return out;
  }

  public LockDescription describeLock(String name) {
    return admin.lock(name);
  }

  public AdminClient admin() {
    return admin;
  }

  public io.holdfast.client.KvClient kv() {
    return kv;
  }

  public io.holdfast.client.Watch watch(List<String> lockPrefixes, List<String> keyPrefixes, long afterIndex,
      java.util.function.Consumer<io.holdfast.client.WatchBatch> listener) {
    RealWatch w = new RealWatch(caller, lockPrefixes, keyPrefixes, afterIndex, listener);
    watches.add(w);
    // A closed or refused watch is forgotten: a long-lived client opens and closes many.
    w.ended().whenComplete((ok, failure) -> watches.remove(w));
    return w;
  }

  /** Every step is tried, whatever an earlier one threw: a client half-closed would leak threads and channels. */
  @Override
  public void close() {
    List<CompletableFuture<Void>> closing = new ArrayList<>();
    for (RealSession s : sessions) {
      try {
        closing.add(s.closeAsync());
      } catch (RuntimeException e) {
        LOG.warn("session {}: close failed: {}", s.id(), e.toString());
      }
    }
    try {
      CompletableFuture.allOf(closing.toArray(new CompletableFuture<?>[0])).get(callTimeout.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // best effort: the server expires what we could not close
    }
    for (RealWatch w : watches) {
      quietly("closing a watch", w::close);
    }
    quietly("stopping member sync", memberSync::close);
    quietly("failing the calls under way", caller::close);
    scheduler.shutdownNow();
    timers.shutdownNow();
    if (ownExecutor != null) {
      ownExecutor.shutdown(); // not now: the sessions' last events are still to be delivered
    }
    completions.shutdown();
    quietly("closing the channels", endpoints::close);
  }

  private static void quietly(String what, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      LOG.warn("client close: {} failed: {}", what, e.toString());
    }
  }
}
