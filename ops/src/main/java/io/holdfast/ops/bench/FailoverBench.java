package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.HoldfastException;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import io.holdfast.ops.LocalCluster;
import io.holdfast.ops.cli.Durations;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * W4: a client loops acquire + release on one lock (1 s call deadline, then retry) while the
 * leader is killed with SIGKILL; the unavailability of a trial is the longest gap between two
 * completed operations from the last one before the kill until the loop has run for 3 s after it
 * (an operation the dying leader had already answered may complete just after the kill). Between kills
 * the term must not move (a false election), under load and, at the end, idle.
 */
@Command(name = "failover", mixinStandardHelpOptions = true,
    description = "Kills the leader (-9) under a lock loop, N times: unavailability per trial, false elections.",
    footer = {"", "Example:", "  holdfast bench failover --local 3 --trials 5"})
final class FailoverBench extends HoldfastWorkload {
  static final String LOCK = "bench/failover";

  @Option(names = "--trials", description = "leader kills (default ${DEFAULT-VALUE})")
  int trials = 5;

  @Option(names = "--settle", converter = Durations.class,
      description = "steady load before each kill, and idle time at the end (default 5s)")
  Duration settle = Duration.ofSeconds(5);

  @Option(names = "--call-timeout", converter = Durations.class, description = "client call deadline (default 1s)")
  Duration callTimeout = Duration.ofSeconds(1);

  @Option(names = "--ttl", converter = Durations.class, description = "the looping client's session TTL (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Override
  boolean needsLocal() {
    return true;
  }

  @Override
  String optionProblem() {
    if (trials < 1 || trials > 1_000) {
      return "--trials must be between 1 and 1000, got " + trials;
    }
    return null;
  }

  @Override
  BenchReport run(BenchTarget.Target t, PrintWriter err) throws Exception {
    LocalCluster cluster = t.cluster();
    BenchReport r = new BenchReport("W4 failover");
    HoldHistory history = new HoldHistory();
    ConcurrentSkipListSet<Long> completions = new ConcurrentSkipListSet<>();
    AtomicLong failures = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicBoolean sessionLost = new AtomicBoolean();
    java.util.Queue<String> locksLost = new java.util.concurrent.ConcurrentLinkedQueue<>();
    List<Double> windows = new ArrayList<>();
    int falseElections = 0;
    try (HoldfastClient client = t.client("bench-failover", callTimeout);
        HoldfastClient probe = t.client("bench-failover-probe", Duration.ofSeconds(1))) {
      Session session = client.newSession(ttl);
      Thread loop = Workers.start("bench-failover-loop", () -> {
        while (running.get()) {
          try {
            LockLease lease = session.lock(LOCK);
            long held = System.nanoTime();
            history.add(new HoldHistory.Hold(LOCK, session.id(), lease.token(), held, System.nanoTime()));
            lease.close();
            completions.add(System.nanoTime());
          } catch (SessionExpiredException e) {
            sessionLost.set(true);
            return;
          } catch (LockLostException e) {
            if (!session.isValid()) {
              sessionLost.set(true); // the lock went with the session
              return;
            }
            // The session is alive: a lock it was still holding must not be gone.
            locksLost.add(e.getMessage());
          } catch (HoldfastException e) {
            failures.incrementAndGet();
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      for (int trial = 1; trial <= trials; trial++) {
        long termBefore = term(probe, cluster);
        Thread.sleep(settle.toMillis());
        int leader = cluster.awaitLeader(Duration.ofSeconds(30));
        long termAtKill = term(probe, cluster);
        if (termAtKill != termBefore) {
          falseElections++;
          err.println("trial " + trial + ": the term moved from " + termBefore + " to " + termAtKill + " without a kill");
        }
        long killAt = System.nanoTime();
        cluster.kill(leader);
        long deadline = killAt + 60_000_000_000L;
        // Wait until operations have gone on for a while after the kill: an operation the old
        // leader answered just before it died can complete after the kill, and the gap that
        // matters (the election) then comes after it, not before.
        long settled = killAt + SETTLE_AFTER_KILL_NANOS;
        Long resumed = null;
        while (System.nanoTime() < deadline && (resumed = completions.ceiling(settled)) == null) {
          Thread.sleep(5);
        }
        Long before = completions.floor(killAt);
        if (resumed == null) {
          r.violation("trial " + trial + ": no operation completed within 60 s of the kill");
          break;
        }
        double window = longestGapMs(completions, before == null ? killAt : before, resumed);
        windows.add(window);
        err.println("trial " + trial + ": killed " + LocalCluster.nodeId(leader) + ", unavailable "
            + Math.round(window) + " ms");
        err.flush();
        cluster.start(leader);
        // Let the restarted node catch up before the next kill, so each kill leaves a majority.
        Thread.sleep(2_000);
      }
      running.set(false);
      loop.join(10_000);
      session.close();
      long idleTerm = term(probe, cluster);
      Thread.sleep(settle.toMillis());
      if (term(probe, cluster) != idleTerm) {
        falseElections++;
        err.println("the term moved while the cluster was idle");
      }
    }
    List<Double> sorted = new ArrayList<>(windows);
    sorted.sort(null);
    r.put("trials", windows.size());
    r.put("unavailable_ms_each", windows.stream().map(Math::round).toList());
    if (!sorted.isEmpty()) {
      r.put("unavailable_ms_median", Math.round(sorted.get(sorted.size() / 2)));
      r.put("unavailable_ms_max", Math.round(sorted.get(sorted.size() - 1)));
    }
    r.put("false_elections", falseElections);
    r.put("failed_calls", failures.get()).put("ops", completions.size()).put("locks_lost", locksLost.size())
        .put("holds_checked", history.size());
    r.violations(history.violations());
    locksLost.forEach(lost -> r.violation("a lock was gone when its live holder let go: " + lost));
    if (history.size() == 0) {
      r.violation("no lock was ever held (" + failures.get() + " failed calls): nothing was checked");
    }
    if (sessionLost.get()) {
      r.violation("the looping client's session expired across a failover");
    }
    return r;
  }

  /** How long after a kill the loop must still be completing operations before a trial is judged. */
  static final long SETTLE_AFTER_KILL_NANOS = 3_000_000_000L;

  /** The longest time without a completion between {@code from} and {@code to} (both completions). */
  static double longestGapMs(java.util.NavigableSet<Long> completions, long from, long to) {
    long longest = 0;
    long previous = from;
    for (long c : completions.subSet(from, false, to, true)) {
      longest = Math.max(longest, c - previous);
      previous = c;
    }
    return longest / 1e6;
  }

  /** The term as the current leader reports it. */
  private static long term(HoldfastClient probe, LocalCluster cluster) throws InterruptedException {
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    return leader < 0 ? -1 : probe.admin().memberStatus(cluster.endpoint(leader), Duration.ofSeconds(2)).term();
  }
}
