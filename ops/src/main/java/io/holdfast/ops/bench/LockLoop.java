package io.holdfast.ops.bench;

import io.holdfast.ops.cli.Durations;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import picocli.CommandLine.Option;

/**
 * The closed loop of W1 (each client its own lock) and W2 ({@code --shared}: one lock), with its
 * options: each client on its own thread takes the lock and lets go, again and again. Latency is
 * acquire + release; every hold goes into the history that is checked for overlaps and tokens
 * that did not grow. Shared by {@code holdfast bench locks} and the peers' harness, so that every
 * system is measured the same way.
 */
final class LockLoop {
  @Option(names = "--clients", description = "concurrent clients, each with its own session or lease "
      + "(default ${DEFAULT-VALUE})")
  int clients = 16;

  @Option(names = "--duration", converter = Durations.class, description = "measured time (default 10s)")
  Duration duration = Duration.ofSeconds(10);

  @Option(names = "--warmup", converter = Durations.class, description = "unmeasured time first (default 2s)")
  Duration warmup = Duration.ofSeconds(2);

  @Option(names = "--shared", description = "all clients contend for one lock (W2) instead of one lock each (W1)")
  boolean shared;

  @Option(names = "--connections", description = "client instances (connections) the sessions are spread over, "
      + "where the client allows it (default ${DEFAULT-VALUE})")
  int connections = 4;

  @Option(names = "--ttl", converter = Durations.class, description = "session TTL / lease TTL (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Option(names = "--prefix", description = "lock name prefix (default ${DEFAULT-VALUE})")
  String prefix = "bench/locks/";

  @Option(names = "--hold", converter = Durations.class, description = "how long each client holds the lock "
      + "before letting go (default 0). With 0 a hold is a few microseconds wide, so the overlap check sees a "
      + "second holder only if it starts inside one; a hold of a few ms gives the check a window (W2)")
  Duration hold = Duration.ZERO;

  String problem() {
    if (clients < 1 || clients > 10_000) {
      return "--clients must be between 1 and 10000, got " + clients;
    }
    if (duration.isNegative() || duration.isZero() || warmup.isNegative()) {
      return "--duration must be positive and --warmup not negative";
    }
    if (connections < 1) {
      return "--connections must be at least 1, got " + connections;
    }
    if (ttl.toSeconds() < 1) {
      return "--ttl must be at least 1s";
    }
    if (hold.isNegative() || hold.compareTo(ttl.dividedBy(2)) > 0) {
      return "--hold must be between 0 and half the --ttl, got " + Durations.format(hold);
    }
    return null;
  }

  String workload() {
    return shared ? "W2 locks --shared" : "W1 locks";
  }

  /** Runs the loop on {@code lockers} (one per client) and adds its figures and violations to {@code r}. */
  void run(BenchReport r, List<? extends Locker> lockers, int connectionsUsed, PrintWriter err) throws InterruptedException {
    HoldHistory history = new HoldHistory();
    Latencies latency = new Latencies();
    AtomicLong measured = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLong sessionsLost = new AtomicLong();
    java.util.Queue<String> locksLost = new java.util.concurrent.ConcurrentLinkedQueue<>();
    AtomicLongArray perClient = new AtomicLongArray(clients);
    long measureFrom = System.nanoTime() + warmup.toNanos();
    long end = measureFrom + duration.toNanos();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int client = c;
      Locker locker = lockers.get(c);
      String name = shared ? prefix + "shared" : prefix + c;
      threads.add(Workers.start("bench-client-" + c, () -> {
        while (System.nanoTime() < end) {
          long t0 = System.nanoTime();
          try {
            long token = locker.lock(name);
            long held = System.nanoTime();
            if (!hold.isZero()) {
              Thread.sleep(hold.toMillis(), hold.toNanosPart() % 1_000_000);
            }
            // The hold ends before the release is sent: the next holder can only start after it.
            history.add(new HoldHistory.Hold(name, locker.sessionId(), token, held, System.nanoTime()));
            locker.unlock();
            long done = System.nanoTime();
            if (t0 >= measureFrom && done <= end) {
              latency.record(done - t0);
              measured.incrementAndGet();
              perClient.incrementAndGet(client);
            }
          } catch (Locker.SessionLostException e) {
            sessionsLost.incrementAndGet();
            return;
          } catch (Locker.LostException e) {
            locksLost.add(e.getMessage());
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        }
      }));
    }
    Optional<MachineCpu> cpuFrom;
    Optional<MachineCpu> cpuTo;
    try (Progress p = new Progress(err, 5, () -> measured.get() + " measured ops, " + errors.get() + " errors")) {
      sleepUntil(measureFrom);
      cpuFrom = MachineCpu.read();
      sleepUntil(end);
      cpuTo = MachineCpu.read();
      for (Thread th : threads) {
        th.join();
      }
    }
    double seconds = duration.toNanos() / 1e9;
    r.put("clients", clients).put("connections", connectionsUsed).put("duration_s", seconds);
    r.put("ops", measured.get()).put("ops_per_s", Math.round(measured.get() / seconds * 10) / 10.0);
    r.latency("acquire_release", latency.summary());
    if (shared) {
      long min = Long.MAX_VALUE;
      long max = 0;
      for (int c = 0; c < clients; c++) {
        min = Math.min(min, perClient.get(c));
        max = Math.max(max, perClient.get(c));
      }
      r.put("fairness_max_over_min", min == 0 ? "inf (a client never got the lock)"
          : Math.round(1000.0 * max / min) / 1000.0);
    }
    r.put("hold_ms", hold.toNanos() / 1e6);
    r.put("errors", errors.get()).put("sessions_lost", sessionsLost.get()).put("locks_lost", locksLost.size())
        .put("holds_checked", history.size());
    if (cpuFrom.isPresent() && cpuTo.isPresent()) {
      cpuFrom.get().until(cpuTo.get()).report(r, err);
    }
    r.violations(history.violations());
    if (sessionsLost.get() > 0) {
      r.violation(sessionsLost.get() + " session(s) expired while their client was active");
    }
    locksLost.forEach(lost -> r.violation("a lock was gone when its live holder let go: " + lost));
    if (history.size() == 0) {
      // Nothing was checked: a run whose every lock call failed must not pass as safe.
      r.violation("no lock was ever held (" + errors.get() + " errors): nothing was checked");
    }
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, left / 1_000_000));
    }
  }
}
