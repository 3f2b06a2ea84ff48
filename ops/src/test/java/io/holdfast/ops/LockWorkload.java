package io.holdfast.ops;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.KeyValue;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A lock workload for cluster-operation tests (membership changes, rolling restarts). Workers
 * with their own client and session take one of a few locks in turn and, under the lock, append
 * their token to a ledger key with a fenced write that checks the previous holder's token is
 * lower. One more session holds a lock for the whole run without touching it. {@link #check}
 * then says whether any lock was lost, a session expired, a token failed to increase, or an
 * acknowledged write is missing from the store.
 */
final class LockWorkload implements AutoCloseable {
  static final int LOCKS = 2;

  private final List<String> endpoints;
  private final Duration ttl;
  private final List<HoldfastClient> clients = new ArrayList<>();
  private final List<Session> sessions = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  final AtomicLong ops = new AtomicLong();
  final AtomicLong retriedErrors = new AtomicLong();
  /** Each distinct violation once, with the wall-clock time it was first seen and how often. */
  private final Map<String, Seen> distinct = new java.util.LinkedHashMap<>();
  private final PauseWatch pauses = new PauseWatch();
  /** Per lock, the tokens of acknowledged ledger writes, in lock order. */
  private final Map<String, List<Long>> acknowledged = new HashMap<>();
  private Session holderSession;
  private LockLease held;

  LockWorkload(List<String> endpoints, Duration ttl) {
    this.endpoints = endpoints;
    this.ttl = ttl;
    for (int l = 0; l < LOCKS; l++) {
      acknowledged.put(lockName(l), new ArrayList<>());
    }
  }

  static String lockName(int l) {
    return "work/lock-" + l;
  }

  static String ledgerKey(String lock) {
    return "ledger/" + lock;
  }

  HoldfastClient client(String name) {
    HoldfastClient c = HoldfastClient.builder().endpoints(endpoints).clientName(name)
        .callTimeout(Duration.ofSeconds(5))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(60)))
        .build();
    synchronized (clients) {
      clients.add(c);
    }
    return c;
  }

  private record Seen(String firstAt, int count) {}

  private void violation(String what) {
    String at = java.time.LocalTime.now().toString();
    synchronized (distinct) {
      distinct.merge(what, new Seen(at, 1), (a, b) -> new Seen(a.firstAt(), a.count() + 1));
    }
  }

  /**
   * The violations for a failure message: each distinct one once, in the order first seen, with
   * its first time (to line up with the nodes' logs) and count; and the longest stall of this JVM.
   */
  String violationSummary() {
    StringBuilder b = new StringBuilder();
    synchronized (distinct) {
      distinct.forEach((what, seen) -> b.append("\n  ").append(seen.firstAt()).append(' ').append(what)
          .append(seen.count() > 1 ? " (x" + seen.count() + ")" : ""));
    }
    return (b.length() == 0 ? "none" : b) + "\n  " + pauses.describe();
  }

  LockWorkload start(int workers) throws InterruptedException {
    pauses.start();
    HoldfastClient holderClient = client("holder");
    holderSession = holderClient.newSession(ttl);
    held = holderSession.lock("work/held-throughout");
    for (int w = 0; w < workers; w++) {
      HoldfastClient c = client("worker-" + w);
      Session s = c.newSession(ttl);
      sessions.add(s);
      int id = w;
      Thread t = new Thread(() -> work(id, c, s), "workload-" + w);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    return this;
  }

  private void work(int id, HoldfastClient c, Session s) {
    long n = 0;
    while (running.get()) {
      String lock = lockName((int) (n++ % LOCKS));
      try {
        Optional<LockLease> got = s.lock(lock, Duration.ofSeconds(20));
        if (got.isEmpty()) {
          continue;
        }
        try (LockLease lease = got.get()) {
          Optional<KeyValue> before = c.kv().get(ledgerKey(lock));
          long previous = before.map(kv -> Long.parseLong(kv.valueAsString())).orElse(0L);
          if (previous >= lease.token()) {
            violation(lock + ": token " + lease.token() + " is not above the previous holder's " + previous);
          }
          c.kv().putFenced(ledgerKey(lock), Long.toString(lease.token()).getBytes(StandardCharsets.UTF_8), lease);
          synchronized (acknowledged) {
            acknowledged.get(lock).add(lease.token());
          }
          ops.incrementAndGet();
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        if (!running.get()) {
          return;
        }
        // Anything the client library could not ride out: a lost lock, a stale token, an expired
        // session, or a cluster that stayed unavailable for a minute.
        violation("worker-" + id + " on " + lock + ": " + e);
        retriedErrors.incrementAndGet();
        sleep(200);
      }
    }
  }

  /** Waits until at least {@code more} further operations were acknowledged. */
  void awaitProgress(long more, Duration timeout) {
    long target = ops.get() + more;
    long end = System.nanoTime() + timeout.toNanos();
    while (ops.get() < target) {
      if (System.nanoTime() > end) {
        throw new AssertionError("workload made " + (ops.get() - target + more) + " of " + more
            + " operations within " + timeout + "; violations: " + violationSummary());
      }
      sleep(50);
    }
  }

  /** Stops the workers and returns every broken promise found (empty: none). */
  List<String> stopAndCheck(HoldfastClient checker) throws InterruptedException {
    running.set(false);
    for (Thread t : threads) {
      t.join(30_000);
    }
    List<String> problems = new ArrayList<>();
    synchronized (distinct) {
      distinct.forEach((what, seen) -> problems.add(seen.firstAt() + " " + what
          + (seen.count() > 1 ? " (x" + seen.count() + ")" : "")));
    }
    if (!problems.isEmpty()) {
      problems.add(pauses.describe());
    }
    for (Session s : sessions) {
      if (!s.isValid()) {
        problems.add("session " + s.id() + " is " + s.state());
      }
    }
    if (!holderSession.isValid() || !held.isValid()) {
      problems.add("the session holding work/held-throughout lost it (" + holderSession.state() + ")");
    }
    LockDescription d = checker.describeLock("work/held-throughout");
    if (!d.held() || d.holderSessionId() != holderSession.id() || d.token() != held.token()) {
      problems.add("work/held-throughout is now " + d.state() + " by session " + d.holderSessionId() + " token "
          + d.token() + "; it was granted to session " + holderSession.id() + " with token " + held.token());
    }
    synchronized (acknowledged) {
      for (Map.Entry<String, List<Long>> e : acknowledged.entrySet()) {
        List<Long> tokens = e.getValue();
        for (int i = 1; i < tokens.size(); i++) {
          if (tokens.get(i) <= tokens.get(i - 1)) {
            problems.add(e.getKey() + ": token " + tokens.get(i) + " granted after " + tokens.get(i - 1));
          }
        }
        if (!tokens.isEmpty()) {
          long last = tokens.get(tokens.size() - 1);
          Optional<KeyValue> stored = checker.kv().get(ledgerKey(e.getKey()));
          if (stored.isEmpty() || Long.parseLong(stored.get().valueAsString()) != last) {
            problems.add(e.getKey() + ": the last acknowledged write (token " + last + ") is not in the store: "
                + stored.map(KeyValue::valueAsString).orElse("absent"));
          }
        }
      }
    }
    return problems;
  }

  long lastToken(String lock) {
    synchronized (acknowledged) {
      List<Long> t = acknowledged.get(lock);
      return t.isEmpty() ? 0 : t.get(t.size() - 1);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running.set(false);
    pauses.close();
    synchronized (clients) {
      clients.forEach(HoldfastClient::close);
    }
  }
}
