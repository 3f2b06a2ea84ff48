package io.holdfast.ops.bench;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.HoldfastClient;
import io.holdfast.ops.LocalCluster;
import io.holdfast.ops.cli.Durations;
import io.holdfast.ops.cli.ExitCodes;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.OpenSessionResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * W3: S sessions opened and kept alive for a while. The keepalives are sent at a third of the TTL,
 * spread evenly in time over a few gRPC streams to the leader (the server renews any session on
 * any stream), so this measures what the cluster can carry, not the cost of S client objects.
 * Figures: sessions lost (must be 0), keepalive round-trip percentiles, and the local servers'
 * CPU and resident memory.
 */
@Command(name = "sessions", mixinStandardHelpOptions = true,
    description = "Opens S sessions and keeps them alive: sessions lost (must be 0), keepalive latency, server CPU and RSS.",
    footer = {"", "Example:", "  holdfast bench sessions --local 3 --sessions 10000 --ttl 10s --hold 60s"})
final class SessionsBench implements Callable<Integer> {
  @Mixin
  BenchTarget target;

  @Option(names = "--sessions", description = "sessions to hold (default ${DEFAULT-VALUE})")
  int sessions = 10_000;

  @Option(names = "--ttl", converter = Durations.class, description = "session TTL (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Option(names = "--hold", converter = Durations.class, description = "how long to keep them alive (default 60s)")
  Duration hold = Duration.ofSeconds(60);

  @Option(names = "--streams", description = "keepalive streams (default ${DEFAULT-VALUE})")
  int streams = 8;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = target.problem(false);
    if (problem == null && (sessions < 1 || sessions > 1_000_000)) {
      problem = "--sessions must be between 1 and 1000000, got " + sessions;
    }
    if (problem == null && (streams < 1 || streams > 1_000)) {
      problem = "--streams must be between 1 and 1000, got " + streams;
    }
    if (problem == null && hold.toMillis() < ttl.toMillis()) {
      problem = "--hold must be at least the TTL, or no session could be lost";
    }
    if (problem != null) {
      err.println("holdfast bench sessions: " + problem);
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
    String leader;
    try (HoldfastClient probe = t.client("bench-sessions-probe", Duration.ofSeconds(2))) {
      leader = probe.admin().memberStatus(t.endpoints().get(0), Duration.ofSeconds(5)).leaderEndpoint();
    }
    String[] hp = leader.split(":");
    ManagedChannel channel = Grpc.newChannelBuilderForAddress(hp[0], Integer.parseInt(hp[1]),
        InsecureChannelCredentials.create()).build();
    BenchReport r = new BenchReport("W3 sessions");
    try {
      long[] ids = open(channel, err);
      r.put("sessions", sessions).put("ttl_s", ttl.toMillis() / 1000.0).put("hold_s", hold.toMillis() / 1000.0);
      Latencies rtt = new Latencies();
      Set<Long> lost = ConcurrentHashMap.newKeySet();
      AtomicLong acks = new AtomicLong();
      AtomicLong streamErrors = new AtomicLong();
      List<StreamObserver<KeepAliveRequest>> outs = new ArrayList<>();
      for (int i = 0; i < streams; i++) {
        outs.add(SessionServiceGrpc.newStub(channel).keepAlive(new StreamObserver<>() {
          @Override
          public void onNext(KeepAliveResponse resp) {
            rtt.record(System.nanoTime() - resp.getSeq());
            acks.incrementAndGet();
            if (!resp.getAlive()) {
              lost.add(resp.getSessionId());
            }
          }

          @Override
          public void onError(Throwable e) {
            streamErrors.incrementAndGet();
          }

          @Override
          public void onCompleted() {}
        }));
      }
      long[] cpuBefore = cpuTicks(t.cluster());
      long start = System.nanoTime();
      long interval = ttl.toNanos() / 3;
      long end = start + hold.toNanos();
      AtomicLong sent = new AtomicLong();
      try (Progress p = new Progress(err, 5, () -> sent.get() + " keepalives sent, " + acks.get() + " acknowledged, "
          + lost.size() + " sessions lost")) {
        // Session k is due at start + k/S of an interval, then every interval: an even spread.
        long round = 0;
        while (System.nanoTime() < end) {
          long roundStart = start + round * interval;
          for (int k = 0; k < ids.length; k++) {
            long due = roundStart + interval * k / ids.length;
            long wait = due - System.nanoTime();
            if (wait > 1_000_000) {
              Thread.sleep(wait / 1_000_000);
            }
            StreamObserver<KeepAliveRequest> o = outs.get(k % streams);
            synchronized (o) {
              o.onNext(KeepAliveRequest.newBuilder().setSessionId(ids[k]).setSeq(System.nanoTime()).build());
            }
            sent.incrementAndGet();
          }
          round++;
        }
        Thread.sleep(1_000);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long[] cpuAfter = cpuTicks(t.cluster());
      outs.forEach(StreamObserver::onCompleted);
      r.put("keepalives_sent", sent.get()).put("keepalives_acked", acks.get())
          .put("keepalives_per_s", Math.round(sent.get() / seconds));
      r.latency("keepalive_rtt", rtt.summary());
      r.put("sessions_lost", lost.size()).put("stream_errors", streamErrors.get());
      if (t.cluster() != null) {
        LocalCluster c = t.cluster();
        List<String> cpu = new ArrayList<>();
        List<String> rss = new ArrayList<>();
        for (int i = 0; i < c.size(); i++) {
          double share = (cpuAfter[i] - cpuBefore[i]) / 100.0 / seconds;
          cpu.add(LocalCluster.nodeId(i) + "=" + Math.round(share * 100) + "%");
          rss.add(LocalCluster.nodeId(i) + "=" + rssMb(c.process(i).pid()) + "MB");
        }
        r.put("server_cpu_of_one_core", String.join(" ", cpu)).put("server_rss", String.join(" ", rss));
      }
      if (!lost.isEmpty()) {
        r.violation(lost.size() + " session(s) expired although kept alive at a third of their TTL");
      }
      if (streamErrors.get() > 0) {
        r.violation(streamErrors.get() + " keepalive stream(s) failed");
      }
      return r;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** Opens the sessions, a few hundred calls in flight at a time. */
  private long[] open(ManagedChannel channel, PrintWriter err) throws InterruptedException {
    long[] ids = new long[sessions];
    Semaphore inFlight = new Semaphore(512);
    AtomicLong failed = new AtomicLong();
    AtomicLong done = new AtomicLong();
    var stub = SessionServiceGrpc.newStub(channel);
    long t0 = System.nanoTime();
    try (Progress p = new Progress(err, 5, () -> done.get() + " sessions opened")) {
      for (int i = 0; i < sessions; i++) {
        inFlight.acquire();
        int slot = i;
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).openSession(OpenSessionRequest.newBuilder()
            .setRequestId(UUID.randomUUID().toString()).setTtlMs(ttl.toMillis())
            .setClient(ClientIdentity.newBuilder().setName("bench-sessions").setHost("bench").setPid(slot)).build(),
            new StreamObserver<>() {
              @Override
              public void onNext(OpenSessionResponse resp) {
                ids[slot] = resp.getSessionId();
              }

              @Override
              public void onError(Throwable e) {
                failed.incrementAndGet();
                inFlight.release();
              }

              @Override
              public void onCompleted() {
                done.incrementAndGet();
                inFlight.release();
              }
            });
      }
      inFlight.acquire(512);
    }
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " of " + sessions + " sessions could not be opened");
    }
    err.println(sessions + " sessions opened in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    err.flush();
    return ids;
  }

  /** utime + stime of each local server, in clock ticks (100 a second on Linux). */
  private static long[] cpuTicks(LocalCluster c) {
    if (c == null) {
      return new long[0];
    }
    long[] out = new long[c.size()];
    for (int i = 0; i < c.size(); i++) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(c.process(i).pid()), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        out[i] = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      } catch (Exception e) {
        out[i] = 0;
      }
    }
    return out;
  }

  private static long rssMb(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (Exception e) {
      return -1;
    }
    return -1;
  }
}
