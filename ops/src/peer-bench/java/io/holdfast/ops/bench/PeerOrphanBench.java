package io.holdfast.ops.bench;

import io.holdfast.ops.cli.Durations;
import io.holdfast.ops.cli.ExitCodes;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * W5 on a peer, as {@link OrphanBench} runs it on Holdfast: a holder JVM takes the lock with a
 * lease/session of {@code --ttl}, a waiter queues behind it, the holder is killed with SIGKILL at a
 * random point of its keepalive cycle, and the figure is the time until the waiter holds the lock.
 */
@Command(name = "orphan", mixinStandardHelpOptions = true,
    description = "Kills a lock holder's process (-9) N times: time until the waiting client holds the lock.")
final class PeerOrphanBench implements java.util.concurrent.Callable<Integer> {
  private final PeerTarget.Peer peer;

  @Mixin
  PeerTarget target;

  @Option(names = "--trials", description = "holder kills (default ${DEFAULT-VALUE})")
  int trials = 5;

  @Option(names = "--ttl", converter = Durations.class, description = "the holder's lease TTL / session timeout (default 5s)")
  Duration ttl = Duration.ofSeconds(5);

  @Option(names = "--seed", description = "seed for the kill times within the keepalive cycle (default: random, printed)")
  Long seed;

  @Spec
  CommandSpec spec;

  PeerOrphanBench(PeerTarget.Peer peer) {
    this.peer = peer;
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = target.problem();
    if (problem == null && (trials < 1 || trials > 1_000)) {
      problem = "--trials must be between 1 and 1000, got " + trials;
    }
    if (problem == null && (ttl.toMillis() < 1_000 || ttl.toMillis() > 120_000 || ttl.toMillis() % 1_000 != 0)) {
      problem = "--ttl must be whole seconds between 1s and 120s (etcd leases are in seconds), got " + Durations.format(ttl);
    }
    if (problem != null) {
      err.println("peer-bench " + peer + " orphan: " + problem);
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
    long s = seed != null ? seed : new Random().nextLong();
    err.println("seed " + s);
    Random random = new Random(s);
    BenchReport r = new BenchReport("W5 orphan");
    List<Double> reclaims = new ArrayList<>();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // lock() blocks, so the waiter queues from a thread of its own; the same thread releases, as
    // Curator's mutex belongs to the thread that acquired it.
    ExecutorService waiterThread = Executors.newSingleThreadExecutor(task -> new Thread(task, "bench-orphan-waiter"));
    try (PeerLockers waiters = cluster.lockers(1, 1, Duration.ofSeconds(10))) {
      PeerLockers.PeerLocker waiter = waiters.get(0);
      for (int trial = 1; trial <= trials; trial++) {
        String lock = "bench/orphan/" + s + "/" + trial;
        Process holder = new ProcessBuilder(PeerOrphanHolder.command(java, peer, cluster.connectString(), lock, ttl))
            .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
          BufferedReader lines = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
          String line = lines.readLine();
          if (line == null || !line.startsWith("HELD ")) {
            r.violation("trial " + trial + ": the holder process did not take the lock (said: " + line + ")");
            break;
          }
          long holderToken = Long.parseLong(line.split(" ")[1]);
          Future<Long> waiting = waiterThread.submit(() -> waiter.lock(lock));
          // Queue the waiter, then kill at a random point of the holder's keepalive cycle.
          Thread.sleep(300 + random.nextInt((int) Math.max(1, ttl.toMillis() / 3)));
          long killAt = System.nanoTime();
          holder.destroyForcibly();
          long token = waiting.get(ttl.toMillis() + 60_000, TimeUnit.MILLISECONDS);
          double ms = (System.nanoTime() - killAt) / 1e6;
          reclaims.add(ms);
          if (token <= holderToken) {
            r.violation("trial " + trial + ": the waiter got token " + token + ", not above the dead holder's "
                + holderToken);
          }
          err.println("trial " + trial + ": lock held by the waiter " + Math.round(ms) + " ms after the kill");
          err.flush();
          waiterThread.submit(() -> {
            waiter.unlock();
            return null;
          }).get(30, TimeUnit.SECONDS);
        } finally {
          holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    } finally {
      waiterThread.shutdownNow();
    }
    List<Double> sorted = new ArrayList<>(reclaims);
    sorted.sort(null);
    long bound = ttl.toMillis() + 300;
    r.put("system", cluster.system()).put("members", cluster.members);
    r.put("trials", reclaims.size()).put("ttl_ms", ttl.toMillis());
    r.put("reclaim_ms_each", reclaims.stream().map(Math::round).toList());
    if (!sorted.isEmpty()) {
      r.put("reclaim_ms_median", Math.round(sorted.get(sorted.size() / 2)));
      r.put("reclaim_ms_max", Math.round(sorted.get(sorted.size() - 1)));
    }
    r.put("over_ttl_plus_300ms", reclaims.stream().filter(ms -> ms > bound).count());
    return r;
  }
}
