package io.holdfast.ops.bench;

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
 * W1 and W2 ({@code --shared}) on a peer, measured as {@link LocksBench} measures Holdfast: the same
 * closed loop, clock points, warmup cut, HdrHistogram, fairness figure and hold check, so that the
 * two reports compare line for line. Only the lock client differs.
 */
@Command(name = "locks", mixinStandardHelpOptions = true,
    description = "Acquire + release in a closed loop on a peer cluster this run starts: ops/s, latency percentiles, "
        + "fairness (--shared), and the overlap/token check of holdfast bench locks.")
final class PeerLocksBench implements Callable<Integer> {
  private final PeerTarget.Peer peer;

  @Mixin
  PeerTarget target;

  @Option(names = "--clients", description = "concurrent clients, each with its own lease/session (default ${DEFAULT-VALUE})")
  int clients = 16;

  @Option(names = "--duration", converter = Durations.class, description = "measured time (default 10s)")
  Duration duration = Duration.ofSeconds(10);

  @Option(names = "--warmup", converter = Durations.class, description = "unmeasured time first (default 2s)")
  Duration warmup = Duration.ofSeconds(2);

  @Option(names = "--shared", description = "all clients contend for one lock (W2) instead of one lock each (W1)")
  boolean shared;

  @Option(names = "--connections", description = "etcd: jetcd client instances the leases are spread over (default "
      + "${DEFAULT-VALUE}); ZooKeeper: ignored, a session is a connection")
  int connections = 4;

  @Option(names = "--ttl", converter = Durations.class, description = "lease TTL / session timeout (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Option(names = "--prefix", description = "lock name prefix (default ${DEFAULT-VALUE})")
  String prefix = "bench/locks/";

  @Spec
  CommandSpec spec;

  PeerLocksBench(PeerTarget.Peer peer) {
    this.peer = peer;
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = target.problem();
    if (problem == null && (clients < 1 || clients > 10_000)) {
      problem = "--clients must be between 1 and 10000, got " + clients;
    }
    if (problem == null && (duration.isNegative() || duration.isZero() || warmup.isNegative())) {
      problem = "--duration must be positive and --warmup not negative";
    }
    if (problem == null && connections < 1) {
      problem = "--connections must be at least 1, got " + connections;
    }
    if (problem == null && ttl.toSeconds() < 1) {
      problem = "--ttl must be at least 1s";
    }
    if (problem != null) {
      err.println("peer-bench " + peer + " locks: " + problem);
      err.flush();
      return ExitCodes.USAGE;
    }
    try (PeerCluster cluster = target.open(peer, err)) {
      BenchReport report = run(cluster, err);
      report.print(out, target.json());
      return report.failed() ? ExitCodes.FAILED : ExitCodes.OK;
    }
  }

  BenchReport run(PeerCluster cluster, PrintWriter err) throws Exception {
    try (PeerLockers lockers = cluster.lockers(clients, connections, ttl)) {
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
        PeerLockers.PeerLocker locker = lockers.get(c);
        String name = shared ? prefix + "shared" : prefix + c;
        threads.add(Workers.start("bench-client-" + c, () -> {
          while (System.nanoTime() < end) {
            long t0 = System.nanoTime();
            try {
              long token = locker.lock(name);
              long held = System.nanoTime();
              long letGo = System.nanoTime();
              history.add(new HoldHistory.Hold(name, locker.sessionId(), token, held, letGo));
              locker.unlock();
              long done = System.nanoTime();
              if (t0 >= measureFrom && done <= end) {
                latency.record(done - t0);
                measured.incrementAndGet();
                perClient.incrementAndGet(client);
              }
            } catch (PeerLockers.SessionLostException e) {
              sessionsLost.incrementAndGet();
              return;
            } catch (InterruptedException e) {
              return;
            } catch (Exception e) {
              errors.incrementAndGet();
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
      r.put("system", cluster.system()).put("members", cluster.members);
      r.put("clients", clients).put("connections", lockers.connections()).put("duration_s", seconds);
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
    }
  }
}
