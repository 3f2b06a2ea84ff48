package io.holdfast.ops.bench;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.internal.RequestIds;
import io.holdfast.ops.LocalCluster;
import io.holdfast.ops.cli.Durations;
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
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
final class SessionsBench extends HoldfastWorkload {
  private static final int RESPONSE_CHUNK = 64;

  @Option(names = "--sessions", description = "sessions to hold (default ${DEFAULT-VALUE})")
  int sessions = 10_000;

  @Option(names = "--ttl", converter = Durations.class, description = "session TTL (default 10s)")
  Duration ttl = Duration.ofSeconds(10);

  @Option(names = "--hold", converter = Durations.class, description = "how long to keep them alive (default 60s)")
  Duration hold = Duration.ofSeconds(60);

  @Option(names = "--streams", description = "keepalive streams (default ${DEFAULT-VALUE})")
  int streams = 8;

  @Override
  String optionProblem() {
    if (sessions < 1 || sessions > 1_000_000) {
      return "--sessions must be between 1 and 1000000, got " + sessions;
    }
    if (streams < 1 || streams > 1_000) {
      return "--streams must be between 1 and 1000, got " + streams;
    }
    if (hold.toMillis() < ttl.toMillis()) {
      return "--hold must be at least the TTL, or no session could be lost";
    }
    return null;
  }

  @Override
  BenchReport run(BenchTarget.Target t, PrintWriter err) throws Exception {
    String leader = findLeader(t);
    String[] hp = leader.split(":");
    ManagedChannel channel = Grpc.newChannelBuilderForAddress(hp[0], Integer.parseInt(hp[1]),
        InsecureChannelCredentials.create()).build();
    BenchReport r = new BenchReport("W3 sessions");
    Latencies rtt = new Latencies();
    Set<Long> lost = ConcurrentHashMap.newKeySet();
    AtomicLong acks = new AtomicLong();
    AtomicLong sent = new AtomicLong();
    AtomicLong streamErrors = new AtomicLong();
    // A round trip counts for the hold when its keepalive was sent in the hold; those sent while
    // the sessions were still opening are reported apart (they queue behind the opens).
    Latencies rttOpening = new Latencies();
    AtomicLong holdFrom = new AtomicLong(Long.MAX_VALUE);
    List<StreamObserver<KeepAliveRequest>> outs = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      outs.add(SessionServiceGrpc.newStub(channel).keepAlive(new ClientResponseObserver<KeepAliveRequest, KeepAliveResponse>() {
        // Answers are asked for in chunks, as the server asks for keepalives: one request per
        // message costs a thread hop each, and this one stream carries thousands of sessions.
        private ClientCallStreamObserver<KeepAliveRequest> call;
        private int received;

        @Override
        public void beforeStart(ClientCallStreamObserver<KeepAliveRequest> requestStream) {
          call = requestStream;
          requestStream.disableAutoRequestWithInitial(2 * RESPONSE_CHUNK);
        }

        @Override
        public void onNext(KeepAliveResponse resp) {
          if (++received == RESPONSE_CHUNK) {
            received = 0;
            call.request(RESPONSE_CHUNK);
          }
          long took = System.nanoTime() - resp.getSeq();
          if (resp.getSeq() - holdFrom.get() >= 0) {
            rtt.record(took);
          } else {
            rttOpening.record(took);
          }
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
    long[] ids = new long[sessions];
    AtomicBoolean stop = new AtomicBoolean();
    // Keepalives start with the first open: opening S sessions can take longer than their TTL.
    Thread keeper = new Thread(() -> keepAlive(ids, outs, sent, stop), "bench-keepalive");
    keeper.setDaemon(true);
    try {
      keeper.start();
      open(channel, ids, err);
      r.put("sessions", sessions).put("ttl_s", ttl.toMillis() / 1000.0).put("hold_s", hold.toMillis() / 1000.0);
      long[] cpuBefore = cpuTicks(t.cluster());
      Optional<MachineCpu> machineBefore = MachineCpu.read();
      long sentBefore = sent.get();
      long start = System.nanoTime();
      holdFrom.set(start);
      try (Progress p = new Progress(err, 5, () -> sent.get() + " keepalives sent, " + acks.get() + " acknowledged, "
          + lost.size() + " sessions lost")) {
        Thread.sleep(hold.toMillis());
        stop.set(true);
        keeper.join();
        Thread.sleep(1_000);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long[] cpuAfter = cpuTicks(t.cluster());
      Optional<MachineCpu> machineAfter = MachineCpu.read();
      outs.forEach(o -> {
        synchronized (o) {
          o.onCompleted();
        }
      });
      long held = sent.get() - sentBefore;
      r.put("keepalives_sent", sent.get()).put("keepalives_acked", acks.get())
          .put("keepalives_per_s", Math.round(held / seconds));
      r.latency("keepalive_rtt", rtt.summary());
      r.latency("keepalive_rtt_while_opening", rttOpening.summary());
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
      if (machineBefore.isPresent() && machineAfter.isPresent()) {
        machineBefore.get().until(machineAfter.get()).report(r, err);
      }
      if (!lost.isEmpty()) {
        r.violation(lost.size() + " session(s) expired although kept alive at a third of their TTL");
      }
      if (streamErrors.get() > 0) {
        r.violation(streamErrors.get() + " keepalive stream(s) failed");
      }
      return r;
    } finally {
      stop.set(true);
      keeper.join(5_000);
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * The leader's client endpoint, asking each node in turn for up to 30 s: a node that has just
   * started may not know the leader yet.
   */
  private static String findLeader(BenchTarget.Target t) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    try (HoldfastClient probe = t.client("bench-sessions-probe", Duration.ofSeconds(2))) {
      while (true) {
        for (String endpoint : t.endpoints()) {
          try {
            String leader = probe.admin().memberStatus(endpoint, Duration.ofSeconds(5)).leaderEndpoint();
            if (leader != null && leader.contains(":")) {
              return leader;
            }
          } catch (RuntimeException notYet) {
            // starting, or between terms
          }
        }
        if (System.nanoTime() > end) {
          throw new IllegalStateException("no node named a leader within 30 s");
        }
        Thread.sleep(200);
      }
    }
  }

  /**
   * Sends a keepalive for every opened session each third of the TTL, session k due k/S of the
   * way into each round (an even spread), until {@code stop}. Slots still 0 are not open yet.
   */
  private void keepAlive(long[] ids, List<StreamObserver<KeepAliveRequest>> outs, AtomicLong sent, AtomicBoolean stop) {
    long interval = ttl.toNanos() / 3;
    long start = System.nanoTime();
    try {
      for (long round = 0; !stop.get(); round++) {
        long roundStart = start + round * interval;
        for (int k = 0; k < ids.length && !stop.get(); k++) {
          long due = roundStart + interval * k / ids.length;
          long wait = due - System.nanoTime();
          if (wait > 1_000_000) {
            Thread.sleep(wait / 1_000_000);
          }
          long id;
          synchronized (ids) {
            id = ids[k];
          }
          if (id == 0) {
            continue;
          }
          StreamObserver<KeepAliveRequest> o = outs.get(k % streams);
          synchronized (o) {
            o.onNext(KeepAliveRequest.newBuilder().setSessionId(id).setSeq(System.nanoTime()).build());
          }
          sent.incrementAndGet();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Opens the sessions into {@code ids}, a few hundred calls in flight at a time. A refusal for the
   * request rate (the servers' per-identity limit; every bench session has one identity), or from
   * a leader not ready yet, is retried after a pause, as a client would, for up to ten minutes; any other failure counts, and the
   * first one is reported. With {@code --local} the servers lift the per-identity limits.
   */
  private void open(ManagedChannel channel, long[] ids, PrintWriter err) throws InterruptedException {
    Semaphore inFlight = new Semaphore(512);
    AtomicLong failed = new AtomicLong();
    AtomicLong throttled = new AtomicLong();
    AtomicLong done = new AtomicLong();
    AtomicReference<String> firstError = new AtomicReference<>();
    var stub = SessionServiceGrpc.newStub(channel);
    ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor();
    long t0 = System.nanoTime();
    long giveUp = t0 + TimeUnit.MINUTES.toNanos(10);
    try (Progress p = new Progress(err, 5, () -> done.get() + " sessions opened")) {
      for (int i = 0; i < sessions; i++) {
        inFlight.acquire();
        int slot = i;
        OpenSessionRequest req = OpenSessionRequest.newBuilder()
            .setRequestId(RequestIds.next()).setTtlMs(ttl.toMillis())
            .setClient(ClientIdentity.newBuilder().setName("bench-sessions").setHost("bench").setPid(slot)).build();
        new Object() {
          void attempt(int n) {
            stub.withDeadlineAfter(30, TimeUnit.SECONDS).openSession(req, new StreamObserver<>() {
              @Override
              public void onNext(OpenSessionResponse resp) {
                synchronized (ids) {
                  ids[slot] = resp.getSessionId();
                }
              }

              @Override
              public void onError(Throwable e) {
                Status st = Status.fromThrowable(e);
                String why = String.valueOf(st.getDescription());
                boolean throttle = st.getCode() == Status.Code.RESOURCE_EXHAUSTED && why.contains("rate-limit-per-identity");
                // A leader just elected refuses until it has applied its first entry.
                boolean notReady = st.getCode() == Status.Code.UNAVAILABLE && why.contains("no leader is ready");
                if ((throttle || notReady) && System.nanoTime() < giveUp) {
                  throttled.incrementAndGet();
                  retries.schedule(() -> attempt(n + 1), 50L * Math.min(n + 1, 10), TimeUnit.MILLISECONDS);
                  return;
                }
                firstError.compareAndSet(null, st.toString());
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
        }.attempt(0);
      }
      inFlight.acquire(512);
    } finally {
      retries.shutdownNow();
    }
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " of " + sessions + " sessions could not be opened; first error: "
          + firstError.get());
    }
    if (throttled.get() > 0) {
      err.println(throttled.get() + " opens were refused (request rate, or a leader not ready yet) and retried");
    }
    err.println(sessions + " sessions opened in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    err.flush();
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
