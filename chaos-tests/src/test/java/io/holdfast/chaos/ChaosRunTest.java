package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.chaos.History.Operation;
import io.holdfast.chaos.Schedule.Fault;
import io.holdfast.chaos.Schedule.Kind;
import io.holdfast.chaos.Schedule.Profile;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import io.holdfast.proto.v1.ListLocksRequest;
import io.holdfast.proto.v1.ListSessionsRequest;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.SessionInfo;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * The default chaos profile: 3 server JVMs, 3 worker JVMs on 3 lock names, about 75 s of
 * operations under a seeded schedule of faults (kill -9 and restart of the leader or a follower,
 * SIGTERM and restart of the leader,
 * SIGSTOP of the leader for longer than an election but shorter than a session, SIGSTOP of a worker
 * while it holds a lock for longer than its session, partitions in per-node network namespaces, a
 * wall-clock offset on one node, a kill -9 of the whole cluster or of a minority), then heal, settle,
 * check (the stores, Holdfast's own fenced KV, the lock tables).
 * {@code -Dchaos.profile=soak} (the {@code chaos-soak} Maven profile) runs 5 nodes for
 * {@code -Dchaos.duration}.
 *
 * <p>Seed: {@code -Dchaos.seed=<long>} replays a schedule (interleavings still differ). Artifacts:
 * {@code target/chaos/<run-id>/} with {@code schedule.json}, {@code history.jsonl},
 * {@code summary.txt}, node and worker logs.
 *
 * <p>{@code -Dchaos.fault=<name>} starts the nodes as a deliberately broken build
 * ({@link FaultyServerMain}); the run then passes only if a safety checker catches it.
 */
class ChaosRunTest {
  static final String KEY_PREFIX = "chaos/";
  static final List<String> KEYS = List.of(KEY_PREFIX + "L1", KEY_PREFIX + "L2", KEY_PREFIX + "L3");
  /** Liveness is judged on operations invoked this long after the last heal: TTL + 2 elections. */
  static final long SETTLE_MS = 10_000;
  /** Operations go on at least this long after the last heal. */
  static final long POST_HEAL_MS = 25_000;

  /** The harness's own client in the final phase. */
  static final String FINAL_PROC = "final";
  /** The harness's client that takes a paused worker's lock. */
  static final String PROBER = "prober";

  private final History history = new History();
  private final Map<Kind, Integer> injected = new TreeMap<>();
  private final List<String> pauseNotes = new ArrayList<>();
  private final List<long[]> heldAtPause = new ArrayList<>(); // {pauseT, workerIndex, keyIndex}
  private long lastHealT;
  private Profile profile;
  private Membership membership;
  private List<String> faultNotes = List.of();

  @Test
  void defaultProfile() throws Exception {
    // -Dchaos.fault=<name>: start a deliberately broken build; the run then passes only if it is caught.
    run(Profile.fromSystemProperties(), System.getProperty("chaos.fault", "").trim(), POST_HEAL_MS, null);
  }

  /**
   * Every default run also starts a build that hands out one frozen token and must see lock-safety
   * fail (the same token granted twice): checkers that cannot fail would pass the run above as
   * well. Lock-safety, by name: kv-paused, say, fails in a run too short for a worker pause whatever
   * the build. Left out when a seed is replayed or a fault chosen by hand (the run above is then
   * the one asked for).
   */
  @Test
  void aDeliberatelyBrokenBuildIsCaught() throws Exception {
    assumeTrue(isBlank(System.getProperty("chaos.seed")) && isBlank(System.getProperty("chaos.fault"))
        && isBlank(System.getProperty("chaos.profile")), "a seed, a fault or a profile was chosen by hand");
    // Liveness is not what this run is about: a short settle after the heal is enough.
    run(Profile.brokenBuild(), FaultyServerMain.Fault.SKIP_FENCING.label, 5_000, "lock-safety");
  }

  private static boolean isBlank(String s) {
    return s == null || s.isBlank();
  }

  /** {@code mustCatch}: with a fault, the checker that must fail (null: any safety checker). */
  private void run(Profile requested, String faultName, long postHealMs, String mustCatch) throws Exception {
    long seed = !isBlank(System.getProperty("chaos.seed"))
        ? Long.parseLong(System.getProperty("chaos.seed").trim()) : new SecureRandom().nextLong();
    System.out.println("chaos seed: " + seed + "   (replay with -Dchaos.seed=" + seed + ")");
    // Namespaces for the spare slots too: a member swap starts a fresh node on one.
    try (FaultSupport support = FaultSupport.detect(requested.nodes() + requested.maxSwaps())) {
      support.notes().forEach(System.out::println);
      profile = requested.without(support.missingKinds());
      run(seed, support, faultName, postHealMs, mustCatch);
    }
  }

  private void run(long seed, FaultSupport support, String faultName, long postHealMs, String mustCatch)
      throws Exception {
    FaultyServerMain.Fault fault = faultName.isEmpty() ? null : FaultyServerMain.Fault.byLabel(faultName);
    Schedule schedule = Schedule.generate(seed, profile);
    System.out.println(schedule);
    String runId = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"
        + Long.toHexString(seed);
    Path runDir = Path.of("target", "chaos", runId);
    Files.createDirectories(runDir);
    Files.writeString(runDir.resolve("schedule.json"), schedule.toJson() + "\n");
    long wallStart = System.nanoTime();

    Map<String, String> settings = Map.of("election-timeout-min-ms", "1000",
        "election-timeout-max-ms", Long.toString(profile.electionTimeoutMaxMs()),
        "session-ttl-min-ms", "4000", "checkpoint-interval-ms", "500", "failover-grace-ms", "0");
    int spares = (int) schedule.faults().stream().filter(f -> f.kind() == Kind.MEMBER_SWAP).count();
    List<WorkerProcess> workers = new ArrayList<>();
    Map<String, List<String>> tables;
    long opsStart = 0;
    long opsEnd = 0;
    try {
      try (ProcessCluster cluster = new ProcessCluster(profile.nodes(), spares, runDir.resolve("cluster"), settings);
          FencedStore store = new FencedStore(history)) {
        if (fault != null) {
          cluster.mainClass(fault.mainClass());
        }
        support.configure(cluster);
        membership = new Membership(profile.nodes(), cluster.capacity());
        ClusterFaults clusterFaults = new ClusterFaults(cluster, membership, support, this::nemesis);
        faultNotes = clusterFaults.notes();
        cluster.start();
        cluster.awaitLeader(Duration.ofSeconds(60));
        try {
          for (int w = 0; w < profile.workers(); w++) {
            String proc = "w" + (w + 1);
            workers.add(WorkerProcess.start(proc, history, runDir.resolve(proc + ".log"), List.of(
                String.join(",", cluster.endpoints()), proc, store.baseUrl(), String.join(",", KEYS),
                Long.toString(profile.sessionTtlMs()), Long.toString(seed + w + 1), "300", "600", "4000")));
          }
          awaitFirstGrants(workers, Duration.ofSeconds(60));
          opsStart = System.nanoTime();
          nemesis("start", null, Map.of("seed", seed));
          for (Fault f : schedule.faults()) {
            sleepUntil(opsStart + TimeUnit.MILLISECONDS.toNanos(f.atMs()));
            inject(f, cluster, store, workers, clusterFaults);
          }
          sleepUntil(opsStart + TimeUnit.MILLISECONDS.toNanos(profile.opsMs()));
          healAll(cluster, workers, clusterFaults);
          sleepUntil(lastHealT + TimeUnit.MILLISECONDS.toNanos(postHealMs));
          opsEnd = System.nanoTime();
          nemesis("stop-workers", null, Map.of());
          for (WorkerProcess w : workers) {
            w.requestStop();
          }
          for (WorkerProcess w : workers) {
            w.awaitExit(20_000);
          }
        } finally {
          for (WorkerProcess w : workers) {
            w.close();
          }
        }
        tables = finalPhase(cluster);
      }
    } finally {
      // Keep what happened even if the run itself broke down.
      history.write(runDir.resolve("history.jsonl"));
    }

    // ---- check
    List<Verdict> verdicts = List.of(LockSafetyChecker.check(history), LinearizabilityChecker.check(history),
        SessionTtlChecker.check(history), FencingChecker.checkFenced(history),
        FencingChecker.checkCanary(history), FencingChecker.checkKv(history), FencingChecker.checkKvFinal(history),
        FencingChecker.checkKvPaused(history),
        LivenessChecker.checkRecovery(history, lastHealT, TimeUnit.MILLISECONDS.toNanos(SETTLE_MS), 0.95, 30),
        LivenessChecker.checkFinalGrants(history, FINAL_PROC, KEYS), LivenessChecker.checkTables(tables),
        MembershipChecker.check(history));
    String summary = summary(seed, runId, schedule, verdicts, opsStart, opsEnd, wallStart, faultName,
        support.notes());
    System.out.println(summary + "run dir: " + runDir);
    Files.writeString(runDir.resolve("summary.txt"), summary, StandardCharsets.UTF_8);
    if (verdicts.stream().allMatch(Verdict::valid)) {
      // Node data dirs are kept only for failed runs; logs always.
      for (int i = 0; i < profile.nodes() + spares; i++) {
        deleteTree(runDir.resolve("cluster").resolve(ProcessCluster.nodeId(i)));
      }
    }
    if (fault != null) {
      List<String> caught = caught(verdicts);
      assertTrue(mustCatch == null ? !caught.isEmpty() : caught.contains(mustCatch), "the broken build (" + faultName
          + ") was not caught" + (mustCatch == null ? "" : " by " + mustCatch) + " (caught by " + caught + "; seed " + seed
          + ", run dir " + runDir + ")");
      return;
    }
    for (Verdict v : verdicts) {
      assertTrue(v.valid(), v + "\n(seed " + seed + ", run dir " + runDir + ")");
    }
  }

  /** The safety checkers that failed: what a deliberately broken build must trip. */
  static List<String> caught(List<Verdict> verdicts) {
    return verdicts.stream().filter(v -> !v.valid())
        .filter(v -> List.of("lock-safety", "linearizable", "session-ttl", "fencing", "kv-fencing", "kv-final",
            "kv-paused").contains(v.checker()))
        .map(Verdict::checker).toList();
  }

  // ---------------------------------------------------------------- nemesis

  private void nemesis(String f, String target, Map<String, Object> value) {
    history.add(new Op(System.nanoTime(), "nemesis", "info", f, target, value));
  }

  private void inject(Fault f, ProcessCluster cluster, FencedStore store, List<WorkerProcess> workers,
      ClusterFaults clusterFaults) throws Exception {
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("fault", f.index());
    v.put("kind", f.kind().name());
    long duration = TimeUnit.MILLISECONDS.toNanos(f.durationMs());
    switch (f.kind()) {
      case KILL_LEADER, KILL_FOLLOWER -> {
        int node = target(f, cluster);
        String id = ProcessCluster.nodeId(node);
        v.put("pid", cluster.pid(node));
        cluster.kill(node);
        nemesis("kill", id, v);
        sleepUntil(System.nanoTime() + duration);
        cluster.start(node);
        nemesis("restart", id, Map.of("fault", f.index()));
      }
      case STOP_LEADER -> {
        int node = target(f, cluster);
        String id = ProcessCluster.nodeId(node);
        v.put("pid", cluster.pid(node));
        cluster.stop(node); // returns once the process has handed over and exited
        nemesis("stop", id, v);
        sleepUntil(System.nanoTime() + duration);
        cluster.start(node);
        nemesis("restart", id, Map.of("fault", f.index()));
      }
      case PAUSE_LEADER -> {
        int node = target(f, cluster);
        String id = ProcessCluster.nodeId(node);
        cluster.pause(node);
        nemesis("pause", id, v);
        sleepUntil(System.nanoTime() + duration);
        cluster.resume(node);
        nemesis("resume", id, Map.of("fault", f.index()));
      }
      case PAUSE_WORKER -> {
        int w = f.targetChoice() % workers.size();
        WorkerProcess worker = workers.get(w);
        Op grant;
        CompletableFuture<Op> granted = worker.pauseOnNextGrant();
        try {
          grant = granted.get(15, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          grant = null;
          if (worker.disarm()) {
            worker.pause();
          } else {
            // It fired between the timeout and the disarm: the worker is paused holding that grant.
            grant = granted.get(5, TimeUnit.SECONDS);
          }
        }
        long pausedAt = System.nanoTime();
        if (grant != null) {
          v.put("held_key", grant.key());
          v.put("held_token", grant.longValue("token"));
          heldAtPause.add(new long[] {pausedAt, w, KEYS.indexOf(grant.key())});
        } else {
          pauseNotes.add("fault " + f.index() + ": " + worker.proc() + " paused without a held lock (no grant in 15 s)");
        }
        nemesis("pause", worker.proc(), v);
        if (grant != null) {
          // Waits past the latest moment the holder's session may end (its last keepalive, up to a
          // third of the TTL before the pause, + TTL + the reclaim bound): a prober that gave up
          // earlier would leave a late reclaim unjudged.
          long judged = profile.sessionTtlMs() / 3 + profile.sessionTtlMs()
              + TimeUnit.NANOSECONDS.toMillis(SessionTtlChecker.DEFAULT_RECLAIM_BOUND_NANOS) + 1_000;
          probe(cluster, store, grant.key(), Math.max(f.durationMs() - 2_000, judged));
        }
        sleepUntil(pausedAt + duration);
        // Before the signal: the worker could act on its session no earlier than this.
        long continuedAt = System.nanoTime();
        worker.resume();
        nemesis("resume", worker.proc(), Map.of("fault", f.index(), "signalled_t", continuedAt));
      }
      default -> {
        if (!ClusterFaults.KINDS.contains(f.kind())) {
          throw new IllegalStateException(f.kind().name());
        }
        clusterFaults.inject(f, v);
      }
    }
    injected.merge(f.kind(), 1, Integer::sum);
    lastHealT = System.nanoTime();
  }

  /**
   * While a worker is paused holding {@code key}: take the key as soon as the paused holder's
   * session has expired, write both stores with the new token, release. This makes sure the lock
   * really moved on before the paused holder wakes up and writes (so the canary fires whatever the
   * other workers happened to pick), and it is itself checked like any worker. Recorded as
   * {@link #PROBER}.
   */
  private void probe(ProcessCluster cluster, FencedStore store, String key, long waitMs) {
    try (HoldfastClient client = HoldfastClient.builder().endpoints(memberEndpoints(cluster)).clientName(PROBER)
        .callTimeout(Duration.ofSeconds(2)).build();
        Session session = client.newSession(Duration.ofMillis(profile.sessionTtlMs()))) {
      Map<String, Object> s = Map.of("session", session.id());
      history.add(new Op(System.nanoTime(), PROBER, "invoke", "acquire", key, s));
      Optional<LockLease> got = session.lock(key, Duration.ofMillis(waitMs));
      if (got.isEmpty()) {
        history.add(new Op(System.nanoTime(), PROBER, "fail", "acquire", key, Map.of("error", "wait timed out")));
        pauseNotes.add("the prober was not granted " + key + " within " + waitMs + " ms of the holder's pause");
        return;
      }
      LockLease lease = got.get();
      long token = lease.token();
      history.add(new Op(System.nanoTime(), PROBER, "ok", "acquire", key, Map.of("session", session.id(), "token", token)));
      for (String which : List.of("fenced", "unfenced")) {
        history.add(new Op(System.nanoTime(), PROBER, "invoke", "write", key, Map.of("store", which, "token", token)));
        boolean accepted = store.decide(which.equals("fenced"), key, token, PROBER, PROBER);
        history.add(new Op(System.nanoTime(), PROBER, accepted ? "ok" : "fail", "write", key,
            Map.of("store", which, "token", token)));
      }
      kvWrite(client, PROBER, lease, PROBER + "-" + token);
      history.add(new Op(System.nanoTime(), PROBER, "invoke", "release", key, Map.of("token", token)));
      lease.close();
      history.add(new Op(System.nanoTime(), PROBER, "ok", "release", key, Map.of("token", token)));
    } catch (RuntimeException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      // An open operation stays without completion: the checkers treat it as indeterminate.
      pauseNotes.add("the prober on " + key + " failed: " + e);
    }
  }

  /** The harness's own fenced KV put, recorded as {@link ChaosWorker#kvWrite} records a worker's. */
  private void kvWrite(HoldfastClient client, String proc, LockLease lease, String value) {
    String key = lease.name();
    long token = lease.token();
    history.add(new Op(System.nanoTime(), proc, "invoke", "write", key, Map.of("store", "kv", "kv_key",
        ChaosWorker.kvKey(key), "token", token, "value", value)));
    try {
      long revision = client.kv().putFenced(ChaosWorker.kvKey(key), value.getBytes(StandardCharsets.UTF_8), lease);
      history.add(new Op(System.nanoTime(), proc, "ok", "write", key, Map.of("store", "kv", "token", token,
          "revision", revision)));
    } catch (io.holdfast.client.StaleTokenException e) {
      history.add(new Op(System.nanoTime(), proc, "fail", "write", key, Map.of("store", "kv", "token", token,
          "error", "stale token refused")));
    } catch (RuntimeException e) {
      history.add(new Op(System.nanoTime(), proc, "info", "write", key, Map.of("store", "kv", "token", token,
          "error", e.toString())));
    }
  }

  /**
   * Reads each lock's KV key back (a linearizable read, after the workers are gone), recorded as
   * {@code f:"kv-read"} under the lock's name with the stored fence token and value.
   */
  private void readKv(HoldfastClient client) {
    for (String key : KEYS) {
      history.add(new Op(System.nanoTime(), FINAL_PROC, "invoke", "kv-read", key, Map.of("kv_key",
          ChaosWorker.kvKey(key))));
      try {
        Optional<io.holdfast.client.KeyValue> kv = client.kv().get(ChaosWorker.kvKey(key));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("found", kv.isPresent());
        kv.ifPresent(x -> {
          m.put("token", x.fenceToken());
          m.put("fence_lock", x.fenceLock());
          m.put("value", x.valueAsString());
          m.put("revision", x.revision());
        });
        history.add(new Op(System.nanoTime(), FINAL_PROC, "ok", "kv-read", key, m));
      } catch (RuntimeException e) {
        history.add(new Op(System.nanoTime(), FINAL_PROC, "info", "kv-read", key, Map.of("error", e.toString())));
      }
    }
  }

  /** The node a server fault hits: the leader, or one of the followers by the schedule's choice. */
  private int target(Fault f, ProcessCluster cluster) {
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    if (f.kind() == Kind.KILL_FOLLOWER) {
      List<Integer> followers = membership.current().stream().filter(i -> i != leader).toList();
      return followers.get(f.targetChoice() % followers.size());
    }
    return leader;
  }

  /** Faults heal themselves one by one; this makes sure nothing is left down or stopped. */
  private void healAll(ProcessCluster cluster, List<WorkerProcess> workers, ClusterFaults clusterFaults) {
    if (clusterFaults.healAll()) {
      lastHealT = System.nanoTime();
    }
    for (WorkerProcess w : workers) {
      if (w.isPaused()) {
        w.resume();
        lastHealT = System.nanoTime();
      }
    }
    for (int i : membership.current()) {
      if (!cluster.isRunning(i)) {
        cluster.start(i);
        lastHealT = System.nanoTime();
      }
    }
    nemesis("heal-all", null, Map.of());
    if (lastHealT == 0) {
      lastHealT = System.nanoTime();
    }
  }

  // ---------------------------------------------------------------- helpers

  private void awaitFirstGrants(List<WorkerProcess> workers, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      long ready = workers.stream().filter(w -> history.ops().stream()
          .anyMatch(op -> op.proc().equals(w.proc()) && op.is("ok", "acquire"))).count();
      if (ready == workers.size()) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("workers did not take a first lock within " + timeout);
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * The client endpoints of the members now. A client started late in a run needs them: after
   * member swaps, none of the first members may be left (the workers, started with those, learn
   * each change from the cluster as it happens).
   */
  private List<String> memberEndpoints(ProcessCluster cluster) {
    return membership.current().stream().map(cluster::endpoint).toList();
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 500)));
    }
  }

  /**
   * After the workers are gone: the harness takes every lock (each must be grantable again, so no
   * ghost holder survived the faults), then reads each node's own lock and session tables until
   * they agree (or 30 s pass), and releases. The acquires and releases go into the history
   * under {@link #FINAL_PROC}, so the safety checkers see them too.
   */
  private Map<String, List<String>> finalPhase(ProcessCluster cluster) throws InterruptedException {
    try (HoldfastClient client = HoldfastClient.builder().endpoints(memberEndpoints(cluster)).clientName(FINAL_PROC)
        .build(); Session session = client.newSession(Duration.ofSeconds(10))) {
      List<LockLease> leases = new ArrayList<>();
      for (String key : KEYS) {
        history.add(new Op(System.nanoTime(), FINAL_PROC, "invoke", "acquire", key, Map.of("session", session.id())));
        try {
          Optional<LockLease> lease = session.lock(key, Duration.ofSeconds(20));
          if (lease.isPresent()) {
            leases.add(lease.get());
            history.add(new Op(System.nanoTime(), FINAL_PROC, "ok", "acquire", key,
                Map.of("session", session.id(), "token", lease.get().token())));
          } else {
            history.add(new Op(System.nanoTime(), FINAL_PROC, "fail", "acquire", key,
                Map.of("session", session.id(), "error", "not granted within 20 s")));
          }
        } catch (RuntimeException e) {
          history.add(new Op(System.nanoTime(), FINAL_PROC, "info", "acquire", key,
              Map.of("session", session.id(), "error", e.toString())));
        }
      }
      Map<String, List<String>> tables = settledTables(cluster, membership.current(), Duration.ofSeconds(30));
      readKv(client);
      for (LockLease lease : leases) {
        history.add(new Op(System.nanoTime(), FINAL_PROC, "invoke", "release", lease.name(),
            Map.of("session", session.id(), "token", lease.token())));
        try {
          lease.close();
          history.add(new Op(System.nanoTime(), FINAL_PROC, "ok", "release", lease.name(),
              Map.of("session", session.id(), "token", lease.token())));
        } catch (RuntimeException e) {
          history.add(new Op(System.nanoTime(), FINAL_PROC, "info", "release", lease.name(),
              Map.of("session", session.id(), "token", lease.token(), "error", e.toString())));
        }
      }
      return tables;
    }
  }

  /**
   * Each node's own (local, stale-ok) view of the chaos locks and of the live sessions, without the
   * fields that move on their own (TTL left, renewal times). Reads every node until all answer and
   * agree, or the timeout passes (then the last reading is returned, for the checker to report).
   * Renewal checkpoints keep the applied index moving, so waiting for equal indexes does not work;
   * a disagreement that lasts the whole timeout is a real one. A node that does not answer maps to
   * null.
   */
  private static Map<String, List<String>> settledTables(ProcessCluster cluster, List<Integer> members,
      Duration timeout)
      throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    Map<String, List<String>> tables = new TreeMap<>();
    while (true) {
      tables.clear();
      for (int i : members) {
        tables.put(ProcessCluster.nodeId(i), table(cluster, i));
      }
      if (tables.values().stream().distinct().count() == 1 && !tables.containsValue(null)
          || System.nanoTime() > end) {
        return tables;
      }
      Thread.sleep(300);
    }
  }

  private static List<String> table(ProcessCluster cluster, int i) {
    try {
      List<String> rows = new ArrayList<>();
      var stub = LockServiceGrpc.newBlockingStub(cluster.channel(i));
      for (LockInfo l : stub.withDeadlineAfter(5, TimeUnit.SECONDS)
          .listLocks(ListLocksRequest.newBuilder().setPrefix(KEY_PREFIX).setStaleOk(true).build()).getLocksList()) {
        rows.add("lock " + l.getName() + " " + l.getState() + " holder=" + l.getHolderSessionId() + " token="
            + l.getToken() + " waiters=" + l.getWaitersCount());
      }
      for (SessionInfo s : stub.withDeadlineAfter(5, TimeUnit.SECONDS)
          .listSessions(ListSessionsRequest.newBuilder().setStaleOk(true).build()).getSessionsList()) {
        rows.add("session " + s.getSessionId() + " " + s.getClient().getName() + " ttl=" + s.getTtlMs() + " holds="
            + s.getHeldLocksList().stream().sorted().toList());
      }
      rows.sort(null);
      return rows;
    } catch (RuntimeException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- summary

  private String summary(long seed, String runId, Schedule schedule, List<Verdict> verdicts, long opsStart,
      long opsEnd, long wallStart, String faultName, List<String> supportNotes) {
    StringBuilder b = new StringBuilder();
    b.append("==== chaos run ").append(runId).append(" ====\n");
    b.append("seed: ").append(seed).append(schedule.forced().isEmpty() ? "" : " (forced: "
        + String.join(", ", schedule.forced()) + ")").append('\n');
    b.append("profile: ").append(profile.name()).append(", ").append(profile.nodes()).append(" nodes\n");
    b.append("server build: ").append(faultName.isEmpty() ? "as built (no chaos.fault)"
        : "DELIBERATELY BROKEN, chaos.fault=" + faultName).append('\n');
    supportNotes.forEach(n -> b.append(n).append('\n'));
    b.append(String.format("run time: %.1f s (operations %.1f s)%n", (System.nanoTime() - wallStart) / 1e9,
        (opsEnd - opsStart) / 1e9));
    b.append("faults injected: ").append(injected).append(" of ").append(schedule.faults().size())
        .append(" scheduled\n");
    for (String note : faultNotes) {
      b.append("  note: ").append(note).append('\n');
    }
    for (String note : pauseNotes) {
      b.append("  note: ").append(note).append('\n');
    }
    Map<String, Map<String, Integer>> outcomes = new TreeMap<>();
    for (Operation o : history.operations()) {
      String f = o.f().equals("write") ? "write-" + o.invoke().str("store") : o.f();
      if (o.f().equals("write") && "kv".equals(o.invoke().str("store")) && FencingChecker.kvRefused(o)
          && "stale token refused".equals(o.completion().str("error"))) {
        outcomes.computeIfAbsent("write-kv", k -> new TreeMap<>()).merge("of-which-fail-stale", 1, Integer::sum);
      }
      outcomes.computeIfAbsent(f, k -> new TreeMap<>()).merge(o.outcome(), 1, Integer::sum);
    }
    b.append("operations by outcome:\n");
    outcomes.forEach((f, m) -> b.append("  ").append(f).append(' ').append(m).append('\n'));
    b.append(String.format("longest unavailability seen by workers: %.2f s%n",
        LivenessChecker.longestUnavailabilityNanos(history, opsStart, opsEnd) / 1e9));
    b.append(reclaims());
    b.append("verdicts:\n");
    for (Verdict v : verdicts) {
      b.append("  ").append(v.toString().replace("\n", "\n  ")).append('\n');
    }
    boolean ok = verdicts.stream().allMatch(Verdict::valid);
    if (faultName.isEmpty()) {
      b.append("RESULT: ").append(ok ? "PASS" : "FAIL").append('\n');
    } else {
      List<String> caught = caught(verdicts);
      b.append("RESULT: broken build ").append(caught.isEmpty() ? "NOT CAUGHT (FAIL)" : "CAUGHT by " + caught)
          .append('\n');
    }
    return b.toString();
  }

  /** For each worker pause that caught a held lock: time until another worker was granted it. */
  private String reclaims() {
    StringBuilder b = new StringBuilder();
    long slowest = -1;
    List<Op> ops = history.ops();
    for (long[] p : heldAtPause) {
      String proc = "w" + (p[1] + 1);
      String key = KEYS.get((int) p[2]);
      long reclaimed = ops.stream().filter(op -> op.t() > p[0] && op.is("ok", "acquire") && key.equals(op.key())
          && !op.proc().equals(proc)).mapToLong(Op::t).findFirst().orElse(-1);
      if (reclaimed < 0) {
        b.append("  orphan reclaim: ").append(key).append(" held by paused ").append(proc)
            .append(" was not granted to anyone else\n");
      } else {
        slowest = Math.max(slowest, reclaimed - p[0]);
        b.append(String.format("  orphan reclaim: %s held by paused %s re-granted after %.2f s%n", key, proc,
            (reclaimed - p[0]) / 1e9));
      }
    }
    if (slowest >= 0) {
      b.append(String.format("slowest orphan reclaim: %.2f s (bound: session TTL %d ms + failover)%n", slowest / 1e9,
          profile.sessionTtlMs()));
    }
    return b.toString();
  }
}
