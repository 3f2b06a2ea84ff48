package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
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
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * W5: a holder in its own JVM takes a lock, a waiter queues behind it, the holder is killed with
 * SIGKILL at a random point of its keepalive cycle; the figure is the time from the kill until the
 * waiter holds the lock. The design's bound is the TTL plus a little: the holder's session ends a
 * TTL after its last renewal, which came before the kill.
 */
@Command(name = "orphan", mixinStandardHelpOptions = true,
    description = "Kills a lock holder's process (-9) N times: time until the waiting client holds the lock.",
    footer = {"", "Example:", "  holdfast bench orphan --local 3 --trials 5 --ttl 5s"})
final class OrphanBench implements Callable<Integer> {
  @Mixin
  BenchTarget target;

  @Option(names = "--trials", description = "holder kills (default ${DEFAULT-VALUE})")
  int trials = 5;

  @Option(names = "--ttl", converter = Durations.class, description = "the holder's session TTL (default 5s)")
  Duration ttl = Duration.ofSeconds(5);

  @Option(names = "--seed", description = "seed for the kill times within the keepalive cycle (default: random, printed)")
  Long seed;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = target.problem(false);
    if (problem == null && (trials < 1 || trials > 1_000)) {
      problem = "--trials must be between 1 and 1000, got " + trials;
    }
    if (problem == null && (ttl.toMillis() < 1_000 || ttl.toMillis() > 120_000)) {
      problem = "--ttl must be between 1s and 120s, got " + Durations.format(ttl);
    }
    if (problem != null) {
      err.println("holdfast bench orphan: " + problem);
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
    long s = seed != null ? seed : new Random().nextLong();
    err.println("seed " + s);
    Random random = new Random(s);
    BenchReport r = new BenchReport("W5 orphan");
    List<Double> reclaims = new ArrayList<>();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    try (HoldfastClient client = t.client("bench-orphan-waiter", Duration.ofSeconds(5))) {
      Session waiterSession = client.newSession(Duration.ofSeconds(10));
      for (int trial = 1; trial <= trials; trial++) {
        String lock = "bench/orphan/" + s + "/" + trial;
        Process holder = new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC", "-cp",
            System.getProperty("java.class.path"), OrphanHolder.class.getName(), String.join(",", t.endpoints()), lock,
            Long.toString(ttl.toMillis())).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
          BufferedReader lines = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
          String line = lines.readLine();
          if (line == null || !line.startsWith("HELD ")) {
            r.violation("trial " + trial + ": the holder process did not take the lock (said: " + line + ")");
            break;
          }
          long holderToken = Long.parseLong(line.split(" ")[1]);
          CompletableFuture<LockLease> waiter = waiterSession.lockAsync(lock);
          // Queue the waiter, then kill at a random point of the holder's keepalive cycle.
          Thread.sleep(300 + random.nextInt((int) Math.max(1, ttl.toMillis() / 3)));
          long killAt = System.nanoTime();
          holder.destroyForcibly();
          LockLease lease = waiter.get(ttl.toMillis() + 60_000, TimeUnit.MILLISECONDS);
          double ms = (System.nanoTime() - killAt) / 1e6;
          reclaims.add(ms);
          if (lease.token() <= holderToken) {
            r.violation("trial " + trial + ": the waiter got token " + lease.token() + ", not above the dead holder's "
                + holderToken);
          }
          err.println("trial " + trial + ": lock held by the waiter " + Math.round(ms) + " ms after the kill");
          err.flush();
          lease.close();
        } finally {
          holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      waiterSession.close();
    }
    List<Double> sorted = new ArrayList<>(reclaims);
    sorted.sort(null);
    long bound = ttl.toMillis() + 300;
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
