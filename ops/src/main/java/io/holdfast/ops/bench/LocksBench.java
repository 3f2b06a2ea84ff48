package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.HoldfastException;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import io.holdfast.ops.cli.Durations;
import io.holdfast.ops.cli.ExitCodes;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * W1 (each client its own lock) and W2 ({@code --shared}: every client on one lock): closed-loop
 * acquire + release, each client its own session and thread. Every hold is checked afterwards:
 * no two holders of a lock overlapped, and tokens only grew.
 */
@Command(name = "locks", mixinStandardHelpOptions = true,
    description = "Acquire + release in a closed loop: ops/s, latency percentiles, fairness (--shared), and a "
        + "check that no two holders overlapped and tokens only grew (a violation fails the run).",
    footer = {"", "Examples:", "  holdfast bench locks --local 3 --clients 16 --duration 30s",
        "  holdfast bench locks --endpoints 127.0.0.1:7400 --clients 16 --shared -o json"})
final class LocksBench implements Callable<Integer> {
  @Mixin
  BenchTarget target;

  @Option(names = "--clients", description = "concurrent clients, each with its own session (default ${DEFAULT-VALUE})")
  int clients = 16;

  @Option(names = "--duration", converter = Durations.class, description = "measured time (default 10s)")
  Duration duration = Duration.ofSeconds(10);

  @Option(names = "--warmup", converter = Durations.class, description = "unmeasured time first (default 2s)")
  Duration warmup = Duration.ofSeconds(2);

  @Option(names = "--shared", description = "all clients contend for one lock (W2) instead of one lock each (W1)")
  boolean shared;

  @Option(names = "--connections", description = "client instances (gRPC connections) the sessions are spread over "
      + "(default ${DEFAULT-VALUE})")
  int connections = 4;

  @Option(names = "--ttl", converter = Durations.class, description = "session TTL (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Option(names = "--prefix", description = "lock name prefix (default ${DEFAULT-VALUE})")
  String prefix = "bench/locks/";

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = target.problem(false);
    if (problem == null && (clients < 1 || clients > 10_000)) {
      problem = "--clients must be between 1 and 10000, got " + clients;
    }
    if (problem == null && (duration.isNegative() || duration.isZero() || warmup.isNegative())) {
      problem = "--duration must be positive and --warmup not negative";
    }
    if (problem == null && connections < 1) {
      problem = "--connections must be at least 1, got " + connections;
    }
    if (problem != null) {
      err.println("holdfast bench locks: " + problem);
      err.flush();
      return ExitCodes.USAGE;
    }
    try (BenchTarget.Target t = target.open(err)) {
      BenchReport report = run(t, err);
      report.print(out, target.json());
      return report.failed() ? ExitCodes.FAILED : ExitCodes.OK;
    }
  }

  BenchReport run(BenchTarget.Target t, PrintWriter err) throws Exception {
    List<HoldfastClient> instances = new ArrayList<>();
    for (int i = 0; i < Math.min(connections, clients); i++) {
      instances.add(t.client("bench-locks-" + i, Duration.ofSeconds(5)));
    }
    List<Session> sessions = new ArrayList<>();
    try {
      for (int c = 0; c < clients; c++) {
        sessions.add(instances.get(c % instances.size()).newSession(ttl));
      }
      HoldHistory history = new HoldHistory();
      Latencies latency = new Latencies();
      AtomicLong measured = new AtomicLong();
      AtomicLong errors = new AtomicLong();
      AtomicLong sessionsLost = new AtomicLong();
      AtomicLongArray perClient = new AtomicLongArray(clients);
      long start = System.nanoTime();
      long measureFrom = start + warmup.toNanos();
      long end = measureFrom + duration.toNanos();
      List<Thread> threads = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        int client = c;
        Session session = sessions.get(c);
        String name = shared ? prefix + "shared" : prefix + c;
        threads.add(Workers.start("bench-client-" + c, () -> {
          while (System.nanoTime() < end) {
            long t0 = System.nanoTime();
            try {
              LockLease lease = session.lock(name);
              long held = System.nanoTime();
              long letGo = System.nanoTime();
              history.add(new HoldHistory.Hold(name, session.id(), lease.token(), held, letGo));
              lease.close();
              long done = System.nanoTime();
              if (t0 >= measureFrom && done <= end) {
                latency.record(done - t0);
                measured.incrementAndGet();
                perClient.incrementAndGet(client);
              }
            } catch (SessionExpiredException e) {
              sessionsLost.incrementAndGet();
              return;
            } catch (HoldfastException e) {
              errors.incrementAndGet();
            } catch (InterruptedException e) {
              return;
            }
          }
        }));
      }
      try (Progress p = new Progress(err, 5, () -> measured.get() + " measured ops, " + errors.get() + " errors")) {
        for (Thread th : threads) {
          th.join();
        }
      }
      double seconds = duration.toNanos() / 1e9;
      BenchReport r = new BenchReport(shared ? "W2 locks --shared" : "W1 locks");
      r.put("clients", clients).put("connections", instances.size()).put("duration_s", seconds);
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
      r.put("errors", errors.get()).put("sessions_lost", sessionsLost.get()).put("holds_checked", history.size());
      r.violations(history.violations());
      if (sessionsLost.get() > 0) {
        r.violation(sessionsLost.get() + " session(s) expired while their client was active");
      }
      return r;
    } finally {
      sessions.forEach(s -> {
        try {
          s.close();
        } catch (RuntimeException ignored) {
          // the run is over; an expired session has nothing to close
        }
      });
      instances.forEach(HoldfastClient::close);
    }
  }
}
